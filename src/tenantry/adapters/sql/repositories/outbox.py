from __future__ import annotations

from sqlalchemy import insert

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository
from tenantry.core.mail.model import EmailMessage


class SqlOutboxRepository(Repository):
    """Adds messages to the outbox inside the caller's transaction; the dispatcher
    (``tenantry.adapters.mail.dispatch``) claims and delivers them."""

    def add(self, message: EmailMessage) -> None:
        self.write(
            insert(t.outbox).values(
                id=message.id,
                application_id=message.application_id,
                tenant_id=message.tenant_id,
                kind=message.kind.value,
                recipient=message.recipient,
                subject=message.rendered.subject,
                text_body=message.rendered.text,
                html_body=message.rendered.html,
                status="PENDING",
                attempts=0,
                next_attempt_at=message.created_at,
                created_at=message.created_at,
            )
        )
