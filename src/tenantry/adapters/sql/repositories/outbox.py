from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.repositories.base import Repository, aware
from tenantry.core.mail.model import EmailMessage, OutboxEntry, OutboxFilter
from tenantry.core.ports import Page

OUT = t.outbox
INSERT_MESSAGE = DirectStatement(insert(OUT))  # beside every signup, invitation and reset (``direct.py``)


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        kind=row.kind,
        recipient=row.recipient,
        subject=row.subject,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        next_attempt_at=aware(row.next_attempt_at),  # type: ignore[arg-type]
        sent_at=aware(row.sent_at),
        tenant_id=row.tenant_id,
    )


class SqlOutboxRepository(Repository):
    """Adds messages to the outbox inside the caller's transaction; the dispatcher
    (``tenantry.adapters.mail.dispatch``) claims and delivers them."""

    def add(self, message: EmailMessage) -> None:
        row = {
            "id": message.id,
            "application_id": message.application_id,
            "tenant_id": message.tenant_id,
            "kind": message.kind.value,
            "recipient": message.recipient,
            "subject": message.rendered.subject,
            "text_body": message.rendered.text,
            "html_body": message.rendered.html,
            "status": "PENDING",
            "attempts": 0,
            "next_attempt_at": message.created_at,
            "created_at": message.created_at,
        }
        self.write_direct(INSERT_MESSAGE, row)

    def page(self, where: OutboxFilter, start_index: int, count: int) -> Page[OutboxEntry]:
        columns = [OUT.c[name] for name in (*OutboxEntry.__slots__,)]  # never the bodies
        query = select(*columns).where(OUT.c.application_id == self.application_id)
        if where.status is not None:
            query = query.where(OUT.c.status == where.status)
        if where.with_error:
            query = query.where(OUT.c.last_error.is_not(None))
        if where.min_attempts:
            query = query.where(OUT.c.attempts >= where.min_attempts)
        if where.recipient_prefix:
            escaped = where.recipient_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(OUT.c.recipient.like(escaped + "%", escape="\\"))
        total = self.connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = self.connection.execute(
            query.order_by(OUT.c.created_at.desc(), OUT.c.id.desc()).offset(start_index - 1).limit(count)
        ).all()
        return Page(total, start_index, [_entry(r) for r in rows])

    def retry(self, message_id: str, now: datetime) -> bool:
        result = self.connection.execute(
            update(OUT)
            .where(
                (OUT.c.id == message_id)
                & (OUT.c.application_id == self.application_id)
                & OUT.c.status.in_(("PENDING", "FAILED"))
            )
            .values(status="PENDING", next_attempt_at=now)
        )
        return result.rowcount == 1
