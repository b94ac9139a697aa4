"""Managing dashboard administrators from the dashboard: application administrators only."""

from __future__ import annotations

from tenantry.core.access import Principal, require
from tenantry.core.admins.model import Admin
from tenantry.core.admins.service import CreateAdmin, create_admin
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import InvalidState, NotFound
from tenantry.core.ports import Page

MANAGE = "application:update"


def list_admins(ctx: CoreContext, actor: Principal, start_index: int = 1, count: int = 50) -> Page[Admin]:
    require(actor, MANAGE, tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.admins.page(start_index, count)


def add_admin(ctx: CoreContext, actor: Principal, cmd: CreateAdmin) -> Admin:
    require(actor, MANAGE, tenant_id=None)
    return create_admin(ctx, actor.application_id, cmd, actor=actor)


def delete_admin(ctx: CoreContext, actor: Principal, admin_id: str) -> None:
    """Delete another administrator (and end their sessions); nobody deletes themselves."""
    require(actor, MANAGE, tenant_id=None)
    if actor.kind == "admin" and actor.subject == admin_id:
        raise InvalidState("admin_is_self", "You cannot delete your own administrator account")
    with ctx.uow(actor.application_id, write=True) as uow:
        admin = uow.admins.get(admin_id)
        if admin is None:
            raise NotFound("admin", admin_id)
        uow.admins.delete(admin_id)
        record(
            uow,
            ctx,
            "admin.deleted",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=admin.tenant_id,
            target=("admin", admin_id),
            details={"email": admin.email},
        )
        uow.commit()
