"""The email outbox end to end, on SQLite and PostgreSQL, with a real SMTP server (aiosmtpd) in
this process: transactional writes, delivery, outages, retries, give-up, concurrent dispatchers
and header injection.

Each database is private to this module (the shared session databases run background
dispatchers of their own, which would take these messages), and every test starts with an
empty outbox.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage as MimeMessage
from email.message import Message as AnyMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from aiosmtpd.smtp import AuthResult
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tenantry.adapters.mail.dispatch import OutboxDispatcher
from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import aware
from tenantry.bootstrap import Services, bootstrap
from tenantry.core.applications.service import initialize_application
from tenantry.core.ids import new_id
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage, RenderedEmail
from tests.support import postgres_database, rand, test_settings

MAIL_FROM = "Acme Mail <no-reply@mail.acme.test>"


# --- a real SMTP server ----------------------------------------------------------------------


class Inbox(Message):
    """Keeps every message; ``fail*`` recipients get a temporary 451, ``reject*`` a permanent 550."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[MimeMessage] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("fail"):
            return "451 4.3.0 mailbox busy, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message: AnyMessage) -> None:
        parsed = message_from_string(message.as_string(), policy=policy.default)
        assert isinstance(parsed, MimeMessage)
        with self._lock:
            self.messages.append(parsed)

    def message_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)


class SmtpServer:
    def __init__(self, **auth: Any) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))  # port=0 does not work with Controller: pick one first
        self.port: int = probe.getsockname()[1]
        probe.close()
        self.inbox = Inbox()
        self._auth = auth
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test", **self._auth
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# --- databases and services ------------------------------------------------------------------


@dataclass
class Db:
    url: str | None
    data_dir: Path
    application_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(postgres_database(request.getfixturevalue("pg_server_url"), "outbox"))
        data_dir = tmp_path_factory.mktemp("outbox")
        services = bootstrap(test_settings(data_dir, url))
        app_id = initialize_application(services.core, f"{rand('app')}.test", custom_domain=False).application.id
        services.close()
        yield Db(url, data_dir, app_id)


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def build(db: Db) -> Iterator[Any]:
    """``build(smtp_url, **settings)`` -> Services on this module's database; closed afterwards."""
    built: list[Services] = []

    def _build(smtp_url: str, **overrides: Any) -> Services:
        services = bootstrap(
            test_settings(db.data_dir, db.url, smtp_url=smtp_url, mail_from=MAIL_FROM, **overrides), migrate=False
        )
        built.append(services)
        return services

    first = _build("smtp://127.0.0.1:1")
    with first.database.transaction(write=True) as conn:
        conn.execute(delete(t.outbox))
        conn.commit()
    yield _build
    for services in built:
        services.close()


def dispatcher(services: Services, clock: FakeClock | None = None) -> OutboxDispatcher:
    return OutboxDispatcher(services.database, services.mail_transport, services.settings, clock or _SystemClock())


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


LINK = "https://acme-app.test/reset?token="


def add(
    services: Services,
    db: Db,
    clock: FakeClock,
    recipients: list[str],
    *,
    commit: bool = True,
    subject: str | None = None,
) -> list[str]:
    """Messages written through the unit of work, as a use case writes them."""
    ids = []
    with services.core.uow(db.application_id, write=True) as uow:
        for recipient in recipients:
            message_id = new_id()
            rendered = services.mail_renderer.render(
                EmailKind.FORGOT_PASSWORD,
                EmailContext("Acme", values={"action_url": LINK + message_id, "expires_minutes": 30}),
            )
            if subject is not None:
                rendered = RenderedEmail(subject=subject, text=rendered.text, html=rendered.html)
            uow.outbox.add(
                EmailMessage(
                    id=message_id,
                    kind=EmailKind.FORGOT_PASSWORD,
                    recipient=recipient,
                    rendered=rendered,
                    created_at=clock.now(),
                    application_id=db.application_id,
                )
            )
            ids.append(message_id)
        if commit:
            uow.commit()
    return ids


def rows(services: Services) -> dict[str, Any]:
    with services.database.transaction(write=False) as conn:
        return {row.id: row for row in conn.execute(select(t.outbox))}


def emails(n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i}-{secrets.token_hex(3)}@example.test" for i in range(n)]


# --- (1) delivery --------------------------------------------------------------------------------


def test_committed_messages_are_delivered_once_and_rolled_back_ones_never(
    build: Any, db: Db, smtp: SmtpServer, clock: FakeClock
) -> None:
    services = build(smtp.url)
    recipients = emails(3)
    ids = add(services, db, clock, recipients)
    rolled_back = add(services, db, clock, ["ghost@example.test"], commit=False)

    worker = dispatcher(services, clock)
    assert worker.run_once() == 3
    assert worker.run_once() == 0

    assert len(smtp.inbox.messages) == 3
    by_to = {str(m["To"]): m for m in smtp.inbox.messages}
    assert set(by_to) == set(recipients)
    for message_id, recipient in zip(ids, recipients, strict=True):
        mail = by_to[recipient]
        assert mail["From"] == MAIL_FROM
        assert mail["X-RcptTo"] == recipient and mail["X-MailFrom"] == "no-reply@mail.acme.test"
        assert mail["Subject"] == "Reset your Acme password"
        assert mail["Message-ID"] == f"<{message_id}@mail.acme.test>"
        assert mail.get_content_type() == "multipart/alternative"
        plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert plain is not None and html is not None
        assert LINK + message_id in plain.get_content()
        assert f'href="{LINK}{message_id}"' in html.get_content()
    stored = rows(services)
    assert rolled_back[0] not in stored
    for message_id in ids:
        row = stored[message_id]
        assert (row.status, row.attempts, row.locked_until, row.last_error) == ("SENT", 1, None, None)
        assert aware(row.sent_at) == clock.now()


# --- (2) SMTP outage ---------------------------------------------------------------------------


def test_smtp_outage_keeps_every_message_and_delivers_each_once_after_restart(
    build: Any, db: Db, smtp: SmtpServer, clock: FakeClock
) -> None:
    services = build(smtp.url, mail_max_attempts=2, mail_retry_base_seconds=5)
    ids = add(services, db, clock, emails(5))
    smtp.stop()
    worker = dispatcher(services, clock)

    assert worker.run_once() == 0
    for message_id in ids:
        row = rows(services)[message_id]
        assert (row.status, row.attempts, row.locked_until) == ("PENDING", 1, None)
        assert "cannot use the SMTP server" in row.last_error
        assert aware(row.next_attempt_at) == clock.now() + timedelta(seconds=5)
    # Longer than max attempts: an unreachable server never fails a message.
    for _ in range(3):
        clock.advance(3600)
        assert worker.run_once() == 0
    assert {r.status for r in rows(services).values()} == {"PENDING"}
    assert {r.attempts for r in rows(services).values()} == {4}

    # The server keeps answering meanwhile.
    with TestClient(_app(services)) as client:
        assert client.get("/health").json()["status"] == "ok"

    smtp.start()
    assert worker.run_once() == 0  # not due yet: back-off
    clock.advance(3600)
    assert worker.run_once() == 5
    assert worker.run_once() == 0
    assert smtp.inbox.message_ids() == Counter({f"<{i}@mail.acme.test>": 1 for i in ids})
    assert {r.status for r in rows(services).values()} == {"SENT"}


def _app(services: Services) -> Any:
    from tenantry.web.app import create_app

    return create_app(services, background=False)


# --- (3) giving up -------------------------------------------------------------------------------


def test_a_message_that_always_fails_ends_failed_after_max_attempts(
    build: Any, db: Db, smtp: SmtpServer, clock: FakeClock
) -> None:
    services = build(smtp.url, mail_max_attempts=3, mail_retry_base_seconds=5)
    [busy] = add(services, db, clock, emails(1, "fail"))
    [good] = add(services, db, clock, emails(1, "ok"))
    worker = dispatcher(services, clock)

    assert worker.run_once() == 1  # the good one is not held up
    for attempt, delay in ((1, 5), (2, 10)):
        row = rows(services)[busy]
        assert (row.status, row.attempts) == ("PENDING", attempt)
        assert "451" in row.last_error and "try again later" in row.last_error
        assert aware(row.next_attempt_at) == clock.now() + timedelta(seconds=delay)
        clock.advance(delay - 1)
        assert worker.run_once() == 0 and rows(services)[busy].attempts == attempt  # not yet due
        clock.advance(1)
        assert worker.run_once() == 0
    row = rows(services)[busy]
    assert (row.status, row.attempts) == ("FAILED", 3)
    assert "451 4.3.0 mailbox busy" in row.last_error
    clock.advance(86400)
    assert worker.run_once() == 0 and rows(services)[busy].attempts == 3
    assert rows(services)[good].status == "SENT"
    assert len(smtp.inbox.messages) == 1


def test_a_permanent_refusal_fails_at_once(build: Any, db: Db, smtp: SmtpServer, clock: FakeClock) -> None:
    services = build(smtp.url)
    [refused] = add(services, db, clock, emails(1, "reject"))
    assert dispatcher(services, clock).run_once() == 0
    row = rows(services)[refused]
    assert (row.status, row.attempts) == ("FAILED", 1)
    assert "550 5.1.1 no such user" in row.last_error


# --- (4) concurrent dispatchers ------------------------------------------------------------------


def test_two_dispatchers_deliver_each_message_exactly_once(build: Any, db: Db, smtp: SmtpServer) -> None:
    """Two dispatchers with their own database objects and SMTP connections claim in lockstep,
    so every claim races the other one."""
    first, second = build(smtp.url), build(smtp.url)
    assert first.database is not second.database
    ids = add(first, db, FakeClock(), emails(200))
    sent = [0, 0]
    errors: list[BaseException] = []
    rounds = threading.Barrier(2, timeout=30)

    def run(index: int, services: Services) -> None:
        worker = dispatcher(services)
        try:
            for _ in range(100):
                rounds.wait()
                sent[index] += worker.run_once(batch=10)
                rounds.wait()  # both passes are over: both see the same outbox below
                if all(r.status == "SENT" for r in rows(services).values()):
                    return
        except BaseException as error:  # surfaced by the assertion below
            rounds.abort()
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(sent) == 200 and all(sent), sent
    assert len(smtp.inbox.messages) == 200
    assert smtp.inbox.message_ids() == Counter({f"<{i}@mail.acme.test>": 1 for i in ids})
    assert {(r.status, r.attempts) for r in rows(first).values()} == {("SENT", 1)}


def test_a_row_locked_elsewhere_is_skipped_not_waited_for(build: Any, db: Db, smtp: SmtpServer) -> None:
    """A claim never waits for a row another transaction holds: PostgreSQL skips it (SKIP LOCKED);
    SQLite has no row locks, and a claim just waits its turn for the database write lock."""
    services = build(smtp.url)
    held, free = add(services, db, FakeClock(), emails(2))
    if services.database.is_sqlite:
        assert dispatcher(services).run_once() == 2
        return
    with services.database.transaction(write=True) as other:
        other.execute(select(t.outbox.c.id).where(t.outbox.c.id == held).with_for_update())
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(dispatcher(services).run_once()))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the claim waited for a locked row"
        assert result == [1]
    assert {r.id: r.status for r in rows(services).values()} == {held: "PENDING", free: "SENT"}
    assert dispatcher(services).run_once() == 1


# --- (5) header injection ----------------------------------------------------------------------


def test_header_injection_is_never_delivered_and_fails(build: Any, db: Db, smtp: SmtpServer, clock: FakeClock) -> None:
    services = build(smtp.url)
    [bad_to] = add(services, db, clock, ["a@b.co\r\nBcc: evil@x.y"])
    [bad_subject] = add(services, db, clock, ["a@b.co"], subject="Hello\r\nBcc: evil@x.y")
    [good] = add(services, db, clock, ["a@b.co"])
    worker = dispatcher(services, clock)

    assert worker.run_once() == 1
    clock.advance(86400)
    assert worker.run_once() == 0
    stored = rows(services)
    for message_id in (bad_to, bad_subject):
        assert (stored[message_id].status, stored[message_id].attempts) == ("FAILED", 1)
        assert "line break" in stored[message_id].last_error
    assert stored[good].status == "SENT"
    assert [str(m["X-RcptTo"]) for m in smtp.inbox.messages] == ["a@b.co"]
    assert "evil" not in smtp.inbox.messages[0].as_string()


# --- SMTP AUTH -----------------------------------------------------------------------------------


def test_smtp_login_with_percent_encoded_credentials(build: Any, db: Db, clock: FakeClock) -> None:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=(data.login, data.password) == (b"ap@acme", b"p:ss/w@rd"), handled=False)

    server = SmtpServer(auth_require_tls=False, authenticator=authenticate)
    server.start()
    try:
        good = build(f"smtp://ap%40acme:p%3Ass%2Fw%40rd@127.0.0.1:{server.port}")
        bad = build(f"smtp://ap%40acme:wrong@127.0.0.1:{server.port}")
        [message_id] = add(good, db, clock, emails(1))
        assert dispatcher(bad, clock).run_once() == 0
        row = rows(bad)[message_id]
        assert (row.status, row.attempts) == ("PENDING", 1)  # a login failure is the server's, not the message's
        clock.advance(5)
        assert dispatcher(good, clock).run_once() == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()
