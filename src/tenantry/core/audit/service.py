"""Recording and reading audit events."""

from __future__ import annotations

from typing import Any

from tenantry.core.access import Principal, require
from tenantry.core.audit.model import AuditEvent, actor_of, current_origin
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound
from tenantry.core.ids import new_id
from tenantry.core.ports import ListSpec, Page, UnitOfWork


def record(
    uow: UnitOfWork,
    ctx: CoreContext,
    action: str,
    *,
    application_id: str,
    actor: Principal | None = None,
    tenant_id: str | None = None,
    target: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to the open unit of work (it commits or rolls back with the change)."""
    actor_type, actor_id = actor_of(actor)
    origin = current_origin.get()
    uow.audit.add(
        AuditEvent(
            id=new_id(),
            application_id=application_id,
            tenant_id=tenant_id,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target_type=target[0] if target else None,
            target_id=target[1] if target else None,
            created_at=ctx.clock.now(),
            ip=origin.ip if origin else None,
            user_agent=origin.user_agent if origin else None,
            details=dict(details or {}),
        )
    )


def list_events(ctx: CoreContext, actor: Principal, application_id: str, spec: ListSpec) -> Page[AuditEvent]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    scope = actor.tenant_scope("audit-event:read")
    if scope.empty:
        require(actor, "audit-event:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.audit.page(spec, scope)


def record_event(
    ctx: CoreContext,
    action: str,
    *,
    application_id: str,
    actor: Principal | None = None,
    tenant_id: str | None = None,
    target: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event in its own transaction: for changes made outside the core's units of
    work (e.g. a signing-key rotation by the key store)."""
    with ctx.uow(application_id, write=True) as uow:
        record(
            uow,
            ctx,
            action,
            application_id=application_id,
            actor=actor,
            tenant_id=tenant_id,
            target=target,
            details=details,
        )
        uow.commit()
