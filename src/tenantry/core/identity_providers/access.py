"""Who may read or change which identity provider, and the tenant a request is about.

A tenant-owned provider lives in its tenant; an application-owned one needs an application-wide
grant to change, and is readable by anyone who may read providers in their own tenant (they are
used there). Out of reach is a 404 (403 when the caller can see the resource but lacks the
permission), as everywhere."""

from __future__ import annotations

from tenantry.core.access import Principal, require
from tenantry.core.errors import Forbidden, NotFound
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant, TenantStatus

READ = "identity-provider:read"
MANAGE = "identity-provider:manage"


def may(actor: Principal, permission: str, provider: IdentityProvider) -> bool:
    if provider.tenant_id is not None:
        return actor.allows(permission, tenant_id=provider.tenant_id)
    if actor.allows(permission, tenant_id=None):
        return True
    # Everyone who may read providers in their own tenant sees the application's: they are used there.
    return permission == READ and actor.tenant_id is not None and actor.allows(READ, tenant_id=actor.tenant_id)


def visible_provider(uow: UnitOfWork, actor: Principal, provider_id: str, permission: str) -> IdentityProvider:
    provider = uow.identity_providers.get(provider_id)
    if provider is None or not may(actor, permission, provider):
        if provider is not None and may(actor, READ, provider):
            raise Forbidden(f"Missing permission [{permission}] for this identity provider")
        raise NotFound("identity_provider", provider_id)
    return provider


def live_tenant(uow: UnitOfWork, tenant_id: str) -> Tenant | None:
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or tenant.status is TenantStatus.DELETE_IN_PROGRESS:
        return None
    return tenant


def tenant_in_reach(uow: UnitOfWork, actor: Principal, tenant_id: str, permission: str) -> Tenant:
    tenant = live_tenant(uow, tenant_id)
    if tenant is None or not actor.reaches_tenant(permission, tenant_id):
        if tenant is not None and (
            actor.reaches_tenant(READ, tenant_id) or actor.reaches_tenant("tenant:read", tenant_id)
        ):
            require(actor, permission, tenant_id=tenant_id)
        raise NotFound("tenant", tenant_id)
    return tenant


def owner_tenant(uow: UnitOfWork, provider: IdentityProvider) -> Tenant | None:
    return uow.tenants.get(provider.tenant_id) if provider.tenant_id else None
