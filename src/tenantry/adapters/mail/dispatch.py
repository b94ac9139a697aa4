"""The outbox dispatcher: claims due messages, hands them to a ``MailTransport``, records the outcome.

Claiming. One short write transaction selects up to ``batch`` rows that are ``PENDING``, due
(``next_attempt_at <= now``) and not leased (``locked_until`` empty or past), and sets their
``locked_until = now + lease``. On PostgreSQL the select is ``FOR UPDATE SKIP LOCKED``, so
dispatchers on several nodes skip each other's rows instead of waiting for them; a row whose
claim commits first is then excluded by its new lease. On SQLite a write transaction is
``BEGIN IMMEDIATE``, which serialises claims outright. Either way a row is held by one
dispatcher at a time.

Sending happens after the claim has committed, one message at a time, and each outcome is
written in its own short transaction: ``SENT`` (with ``sent_at``), or a failure (see
``tenantry.adapters.mail.transport``): ``attempts + 1``, ``last_error``, ``next_attempt_at =
now + base * 2**(attempts-1)`` capped at one hour, and ``FAILED`` when the message is
undeliverable or has used ``mail_max_attempts``. A mail server that cannot be reached never
fails a message: it stays ``PENDING`` (with the error and back-off recorded) for as long as the
outage lasts. The dispatcher stops sending from a batch before its lease runs out (or when it is
asked to stop) and releases the rest, so a slow server cannot make two dispatchers hold the
same row, and a shutdown does not leave rows leased.

Delivery is at least once. A crash (or a lost database) between the SMTP server's "250 OK"
and the ``SENT`` update leaves the row ``PENDING`` with a lease; when the lease expires any
dispatcher claims it again and it is sent a second time, with the same ``Message-ID``. Nothing
is lost: a row only leaves ``PENDING`` after the transport has accepted it or given up on it.
Leases are compared with each node's clock, so nodes must keep their clocks in sync (NTP)
to well within the lease.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, select, update

from tenantry.adapters.mail.transport import DeliveryError, MailTransport
from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.database import Database
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.repositories.base import aware
from tenantry.core.mail.model import EmailKind, EmailMessage, RenderedEmail
from tenantry.core.ports import Clock
from tenantry.settings import Settings

log = structlog.get_logger("tenantry.mail")
LEASE_SECONDS = 120.0
LEASE_MARGIN_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 3600.0
MAX_ERROR_LENGTH = 2000
# One per delivered message, in its own transaction right after the send (``direct.py``).
MARK_SENT = DirectStatement(
    update(t.outbox)
    .where((t.outbox.c.id == bindparam("id")) & (t.outbox.c.status == "PENDING"))
    .values(status="SENT", sent_at=bindparam("now"), attempts=bindparam("attempts"), locked_until=None)
)


@dataclass(frozen=True, slots=True)
class Claimed:
    message: EmailMessage
    attempts: int


class OutboxDispatcher:
    def __init__(
        self,
        database: Database,
        transport: MailTransport,
        settings: Settings,
        clock: Clock,
        *,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        if lease_seconds <= LEASE_MARGIN_SECONDS:
            raise ValueError(f"the lease must be longer than {LEASE_MARGIN_SECONDS} seconds")
        self._database = database
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)

    def run_once(self, batch: int = 50) -> int:
        """Claim and deliver up to ``batch`` due messages; returns how many were sent."""
        return self._pass(batch)[1]

    def run_forever(self, stop_event: threading.Event, batch: int = 50) -> None:
        """Deliver until ``stop_event`` is set: a full batch is followed at once by the next,
        otherwise the loop sleeps ``mail_poll_seconds``. Errors are logged, never fatal."""
        while not stop_event.is_set():
            try:
                claimed, _ = self._pass(batch, stop_event)
            except Exception:  # the database may be away for a moment; the next pass retries
                log.exception("outbox_dispatch_failed")
                claimed = 0
            if claimed < batch:
                stop_event.wait(self._settings.mail_poll_seconds)

    def _pass(self, batch: int, stop_event: threading.Event | None = None) -> tuple[int, int]:
        claimed, lease_end = self._claim(batch)
        sent = 0
        try:
            for index, item in enumerate(claimed):
                stopping = stop_event is not None and stop_event.is_set()
                if stopping or self._clock.now() >= lease_end - timedelta(seconds=LEASE_MARGIN_SECONDS):
                    self._release(claimed[index:])
                    break
                try:
                    self._transport.send(item.message)
                except DeliveryError as error:
                    if error.unavailable:
                        self._record_failure(claimed[index:], error)
                        break
                    self._record_failure([item], error)
                except Exception as error:  # a transport bug must not stop the others
                    log.exception("mail_transport_error", id=item.message.id)
                    self._record_failure([item], DeliveryError(f"{type(error).__name__}: {error}"))
                else:
                    self._mark_sent(item)
                    sent += 1
        finally:
            self._transport.close()
        return len(claimed), sent

    def _due(self, now: datetime) -> ColumnElement[bool]:
        o = t.outbox.c
        return and_(
            o.status == "PENDING",
            o.next_attempt_at <= now,
            or_(o.locked_until.is_(None), o.locked_until < now),
        )

    def _claim(self, batch: int) -> tuple[list[Claimed], datetime]:
        now = self._clock.now()
        lease_end = now + self._lease
        # A cheap read first, so that an idle poll never takes SQLite's write lock.
        with self._database.transaction(write=False) as connection:
            if not connection.execute(select(exists().where(self._due(now)))).scalar():
                return [], lease_end
        query = (
            select(t.outbox)
            .where(self._due(now))
            .order_by(t.outbox.c.next_attempt_at, t.outbox.c.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        with self._database.transaction(write=True) as connection:
            rows = connection.execute(query).all()
            if rows:
                ids = [row.id for row in rows]
                connection.execute(update(t.outbox).where(t.outbox.c.id.in_(ids)).values(locked_until=lease_end))
            connection.commit()
        return [self._claimed(row) for row in rows], lease_end

    @staticmethod
    def _claimed(row: Any) -> Claimed:
        try:
            kind = EmailKind(row.kind)
        except ValueError:
            kind = EmailKind.USER_ACTIVATION  # only used for logging; the row is sent as stored
        message = EmailMessage(
            id=row.id,
            kind=kind,
            recipient=row.recipient,
            rendered=RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body),
            created_at=aware(row.created_at) or row.created_at,
            application_id=row.application_id,
            tenant_id=row.tenant_id,
        )
        return Claimed(message=message, attempts=row.attempts)

    def _mark_sent(self, item: Claimed) -> None:
        with self._database.transaction(write=True) as connection:
            now = self._clock.now()
            MARK_SENT.execute(connection, {"id": item.message.id, "now": now, "attempts": item.attempts + 1})
            connection.commit()

    def _record_failure(self, items: list[Claimed], error: DeliveryError) -> None:
        now = self._clock.now()
        reason = error.reason[:MAX_ERROR_LENGTH]
        with self._database.transaction(write=True) as connection:
            for item in items:
                attempts = item.attempts + 1
                exhausted = not error.unavailable and attempts >= self._settings.mail_max_attempts
                status = "FAILED" if error.permanent or exhausted else "PENDING"
                connection.execute(
                    update(t.outbox)
                    .where(t.outbox.c.id == item.message.id, t.outbox.c.status == "PENDING")
                    .values(
                        status=status,
                        attempts=attempts,
                        last_error=reason,
                        next_attempt_at=now + timedelta(seconds=self._backoff(attempts)),
                        locked_until=None,
                    )
                )
                event = log.error if status == "FAILED" else log.warning
                event(
                    "mail_failed" if status == "FAILED" else "mail_retry_scheduled",
                    id=item.message.id,
                    kind=item.message.kind.value,
                    attempts=attempts,
                    error=reason,
                )
            connection.commit()

    def _backoff(self, attempts: int) -> float:
        delay: float = self._settings.mail_retry_base_seconds * 2 ** min(attempts - 1, 20)
        return min(delay, MAX_BACKOFF_SECONDS)

    def _release(self, items: list[Claimed]) -> None:
        ids = [item.message.id for item in items]
        with self._database.transaction(write=True) as connection:
            connection.execute(update(t.outbox).where(t.outbox.c.id.in_(ids)).values(locked_until=None))
            connection.commit()
