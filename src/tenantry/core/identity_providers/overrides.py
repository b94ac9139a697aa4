"""Which providers a tenant uses: the application's, or the tenant's own ones that override them
(``resolve-overrides``, the override toggle), and the provider a connection test is about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenantry.core.access import Principal
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidRequest, NotFound, Violation
from tenantry.core.identity_providers import validation as v
from tenantry.core.identity_providers.access import MANAGE, READ, tenant_in_reach
from tenantry.core.identity_providers.model import IdentityProvider, IdentityProviderStatus, IdentityProviderType
from tenantry.core.ports import UnitOfWork
from tenantry.core.roles.model import OwnerType
from tenantry.core.tenants.model import Tenant


@dataclass(frozen=True, slots=True)
class Resolved:
    """A provider a tenant uses; ``is_default`` when it is the application's (not overridden)."""

    provider: IdentityProvider
    is_default: bool


@dataclass(frozen=True, slots=True)
class OverrideToggle:
    owner_type: OwnerType
    owner_id: str
    status: IdentityProviderStatus


def effective_providers(
    visible: Sequence[IdentityProvider],
    override_enabled: bool,
    *,
    types: Sequence[IdentityProviderType] = (),
    names: Sequence[str] = (),
) -> list[Resolved]:
    """For each requested type (or name): the application's providers (``is_default``), unless
    the tenant has its own and either its override toggle is ENABLED or the application has none
    of that type / name. Pure: usable by sign-in."""
    keys: list[tuple[str, str]] = [("type", t.value) for t in types] + [("name", n.lower()) for n in names]
    result: list[Resolved] = []
    seen: set[str] = set()
    for kind, key in keys:

        def matches(p: IdentityProvider, kind: str = kind, key: str = key) -> bool:
            return (p.type.value if kind == "type" else p.name.lower()) == key

        own = [Resolved(p, False) for p in visible if p.owner_type is OwnerType.TENANT and matches(p)]
        shared = [Resolved(p, True) for p in visible if p.owner_type is OwnerType.APPLICATION and matches(p)]
        chosen = own if own and (override_enabled or not shared) else shared
        for item in chosen:
            if item.provider.id not in seen:
                seen.add(item.provider.id)
                result.append(item)
    return result


def _override_enabled(uow: UnitOfWork, tenant_id: str) -> bool:
    return uow.identity_providers.override_toggle(tenant_id) is IdentityProviderStatus.ENABLED


def parse_types(values: Sequence[str]) -> list[IdentityProviderType]:
    unknown = [t for t in values if t not in IdentityProviderType.__members__]
    if unknown:
        raise InvalidRequest(
            f"Unknown identity provider type [{', '.join(unknown)[:200]}]; "
            f"use {', '.join(t.value for t in IdentityProviderType)}"
        )
    return [IdentityProviderType(t) for t in dict.fromkeys(values)]


def resolve_overrides(
    ctx: CoreContext,
    actor: Principal,
    tenant_id: str,
    *,
    types: Sequence[str] = (),
    names: Sequence[str] = (),
    permission: str = READ,
) -> tuple[Tenant, list[Resolved]]:
    if not types and not names:
        raise InvalidRequest("Give the identity provider types or names to resolve")
    parsed = parse_types(types)
    with ctx.uow(actor.application_id) as uow:
        tenant = tenant_in_reach(uow, actor, tenant_id, permission)
        visible = uow.identity_providers.visible_to_tenant(tenant_id)
        enabled = _override_enabled(uow, tenant_id)
    return tenant, effective_providers(visible, enabled, types=parsed, names=list(names))


def connection_target(
    ctx: CoreContext,
    actor: Principal,
    tenant_id: str,
    *,
    provider_type: str | None = None,
    provider_id: str | None = None,
) -> tuple[Tenant, IdentityProvider]:
    """The provider a connection test of this tenant is about: the one named by id (the tenant's
    own or the application's), else the one the tenant uses for the type."""
    if provider_id:
        with ctx.uow(actor.application_id) as uow:
            tenant = tenant_in_reach(uow, actor, tenant_id, MANAGE)
            provider = next(
                (p for p in uow.identity_providers.visible_to_tenant(tenant_id) if p.id == provider_id), None
            )
        if provider is None:
            raise NotFound("identity_provider", provider_id)
    elif provider_type:
        tenant, resolved = resolve_overrides(ctx, actor, tenant_id, types=[provider_type], permission=MANAGE)
        if not resolved:
            raise NotFound("identity_provider", provider_type)
        provider = resolved[0].provider
    else:
        raise InvalidRequest("Give identityProviderType or identityProviderId")
    if not provider.is_external:
        raise InvalidRequest("The built-in identity provider has no external connection to test")
    return tenant, provider


def set_override_toggle(
    ctx: CoreContext, actor: Principal, owner_type: Any, owner_id: str, status: Any, *, upsert: bool = True
) -> tuple[OverrideToggle, bool]:
    """Whether the tenant's own providers override the application's; returns (toggle, created).
    Without ``upsert``, a tenant that already has a toggle is a ``not_unique`` violation."""
    found: v.Violations = {}
    if owner_type != OwnerType.TENANT.value:
        found["ownerType"] = [Violation("invalid_value", {"allowedValues": "TENANT"})]
    parsed = v.read_status(status, found)
    if found:
        raise ConstraintViolations(found, "Field violations detected while trying to set an override toggle")
    assert parsed is not None
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant = tenant_in_reach(uow, actor, owner_id, MANAGE)
        if not upsert and uow.identity_providers.override_toggle(tenant.id) is not None:
            raise ConstraintViolations.single("ownerId", "not_unique", "This tenant already has an override toggle")
        created = uow.identity_providers.set_override_toggle(OwnerType.TENANT, tenant.id, parsed, ctx.clock.now())
        record(
            uow,
            ctx,
            "identity_provider.override_toggle_set",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("tenant", tenant.id),
            details={"status": parsed.value},
        )
        uow.commit()
    ctx.changes.identity_providers_changed(actor.application_id)
    return OverrideToggle(OwnerType.TENANT, tenant.id, parsed), created


def override_toggle(ctx: CoreContext, actor: Principal, tenant_id: str) -> IdentityProviderStatus:
    """The tenant's toggle; a tenant that never set it uses the application's providers (DISABLED)."""
    with ctx.uow(actor.application_id) as uow:
        tenant_in_reach(uow, actor, tenant_id, READ)
        return uow.identity_providers.override_toggle(tenant_id) or IdentityProviderStatus.DISABLED
