"""The email outbox as administrators see it: list messages, and send one again now."""

from __future__ import annotations

from tenantry.core.access import Principal, require
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound
from tenantry.core.mail.model import OutboxEntry, OutboxFilter
from tenantry.core.ports import Page


def list_outbox(
    ctx: CoreContext, actor: Principal, where: OutboxFilter, start_index: int = 1, count: int = 50
) -> Page[OutboxEntry]:
    """Every message of the application (they may belong to no tenant): application-wide readers only."""
    require(actor, "application:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.outbox.page(where, start_index, count)


def retry_message(ctx: CoreContext, actor: Principal, message_id: str) -> None:
    """Make a pending or failed message due now; the dispatcher sends it on its next pass."""
    require(actor, "application:update", tenant_id=None)
    with ctx.uow(actor.application_id, write=True) as uow:
        if not uow.outbox.retry(message_id, ctx.clock.now()):
            raise NotFound("message", message_id)
        record(
            uow,
            ctx,
            "email.retry_requested",
            application_id=actor.application_id,
            actor=actor,
            target=("email", message_id),
        )
        uow.commit()
