"""Identity-provider use cases: create or update (upsert), read, list, patch and delete. Which
providers a tenant uses is in ``overrides``; who may touch which provider in ``access``.

Permissions: ``identity-provider:read`` / ``identity-provider:manage``, bounded like every other
grant. Group → role mappings may not hand out more than the caller holds.

Secrets: ``protocol.clientSecret`` is write-only. Updating without it keeps the stored one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry.core.access import Principal, require, require_grantable
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, NotFound, Violation
from tenantry.core.identity_providers import validation as v
from tenantry.core.identity_providers.access import (
    MANAGE,
    READ,
    live_tenant,
    owner_tenant,
    tenant_in_reach,
    visible_provider,
)
from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
    ProtocolType,
    RoleMapping,
)
from tenantry.core.identity_providers.settings import oidc_settings, saml_settings
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import UnitOfWork
from tenantry.core.roles.model import OwnerType
from tenantry.core.tenants.model import Tenant

UPDATABLE = (
    "displayName",
    "domainName",
    "status",
    "jitProvisioningEnabled",
    "emailDomains",
    "roleMappings",
    "protocol",
)


@dataclass(frozen=True, slots=True)
class ProviderView:
    """A provider and the tenant it belongs to (``None`` for an application-owned one)."""

    provider: IdentityProvider
    tenant: Tenant | None


# ------------------------------------------------------------------------------------ permissions


# ------------------------------------------------------------------------------------- validation


@dataclass(slots=True)
class _Owner:
    type: OwnerType
    id: str
    tenant_id: str | None


def _read_owner(actor: Principal, fields: Mapping[str, Any], found: v.Violations) -> _Owner | None:
    owner_type, owner_id = fields.get("ownerType"), fields.get("ownerId")
    if not isinstance(owner_type, str) or owner_type not in OwnerType.__members__:
        found.setdefault("ownerType", []).append(Violation("invalid_value", {"allowedValues": "APPLICATION,TENANT"}))
        return None
    if not isinstance(owner_id, str) or not owner_id:
        found.setdefault("ownerId", []).append(Violation("required"))
        return None
    if owner_type == OwnerType.APPLICATION.value:
        if owner_id != actor.application_id:
            found.setdefault("ownerId", []).append(Violation("invalid_value"))
            return None
        return _Owner(OwnerType.APPLICATION, owner_id, None)
    return _Owner(OwnerType.TENANT, owner_id, owner_id)


@dataclass(slots=True)
class _Draft:
    type: IdentityProviderType
    name: str
    display_name: str
    status: IdentityProviderStatus
    jit: bool
    email_domains: tuple[str, ...]
    role_mappings: tuple[RoleMapping, ...]
    protocol: dict[str, Any]


def _protocol(
    provider_type: IdentityProviderType, raw: Any, domain_name: str | None, found: v.Violations
) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        found.setdefault("protocol", []).append(Violation("required" if raw is None else "invalid_type"))
        return None
    protocol_type = v.protocol_type_of(provider_type, raw, found)
    if protocol_type is None:
        return None
    protocol = v.stored_protocol(protocol_type, raw)
    if (
        provider_type is IdentityProviderType.OKTA
        and protocol_type is ProtocolType.OIDC
        and "issuer" not in protocol
        and domain_name
        and v.DNS_NAME.match(domain_name.lower())
    ):
        protocol["issuer"] = f"https://{domain_name.lower()}"  # an Okta org's own authorization server
    try:
        if protocol_type is ProtocolType.OIDC:
            oidc_settings(provider_type, protocol)
        else:
            saml_settings(protocol)
    except ConstraintViolations as error:
        for name, problems in error.violations.items():
            found.setdefault(name, []).extend(problems)
        return None
    if domain_name:
        protocol["domainName"] = domain_name
    return protocol


def _draft(doc: Mapping[str, Any], found: v.Violations) -> _Draft | None:
    """Every field of a full wire document (the body of a create, or the stored provider with a
    patch applied), validated."""
    provider_type = v.read_type(doc.get("type"), found)
    name = v.read_name(doc.get("name"), found)
    display = doc.get("displayName")
    if display is None and provider_type is not None:
        display = v.DEFAULT_DISPLAY_NAMES[provider_type]
    display_name = v.read_display_name(display, found)
    domain_name = v.read_domain_name(doc.get("domainName"), found)
    status = v.read_status(doc.get("status", IdentityProviderStatus.ENABLED.value), found)
    jit = v.read_flag("jitProvisioningEnabled", doc.get("jitProvisioningEnabled", False), found)
    domains = v.read_email_domains(doc.get("emailDomains"), found)
    mappings = v.read_role_mappings(doc.get("roleMappings"), found)
    protocol = _protocol(provider_type, doc.get("protocol"), domain_name, found) if provider_type else None
    if (
        provider_type is None
        or name is None
        or display_name is None
        or status is None
        or jit is None
        or domains is None
        or mappings is None
        or protocol is None
    ):
        return None
    return _Draft(
        type=provider_type,
        name=name,
        display_name=display_name,
        status=status,
        jit=jit,
        email_domains=domains,
        role_mappings=tuple(RoleMapping(group, role_ids) for group, role_ids in mappings),
        protocol=protocol,
    )


def _check_roles(uow: UnitOfWork, actor: Principal, mappings: Sequence[RoleMapping], tenant_id: str | None) -> None:
    """Mapped roles exist, belong to the application or the owning tenant, and grant nothing
    beyond the caller's own reach (a group mapping hands roles out at every login)."""
    wanted = list(dict.fromkeys(r for m in mappings for r in m.role_ids))
    if not wanted:
        return
    roles = {r.id: r for r in uow.roles.get_many(wanted)}
    bad = [rid for rid in wanted if rid not in roles or roles[rid].tenant_id not in (None, tenant_id)]
    if bad:
        raise ConstraintViolations.single(
            "roleMappings",
            "invalid_value",
            f"Roles [{', '.join(bad)}] do not exist or cannot be assigned in this tenant",
            values=",".join(bad)[:500],
        )
    require_grantable(actor, roles.values(), tenant_id)


def _keep_secret(doc: dict[str, Any], stored: IdentityProvider | None) -> None:
    """An omitted (or empty) ``clientSecret`` keeps the stored one."""
    protocol = doc.get("protocol")
    if stored is None or not isinstance(protocol, Mapping):
        return
    protocol = dict(protocol)
    for key in v.SECRET_KEYS:
        if protocol.get(key) in (None, "") and stored.protocol.get(key):
            protocol[key] = stored.protocol[key]
    doc["protocol"] = protocol


def document_of(provider: IdentityProvider) -> dict[str, Any]:
    """The stored provider as the wire fields a create would take (secrets included)."""
    protocol = {k: val for k, val in provider.protocol.items() if k != "domainName"}
    return {
        "type": provider.type.value,
        "name": provider.name,
        "displayName": provider.display_name,
        "domainName": provider.protocol.get("domainName"),
        "status": provider.status.value,
        "jitProvisioningEnabled": provider.jit_provisioning_enabled,
        "emailDomains": list(provider.email_domains),
        "roleMappings": [{"group": m.group, "roleIds": list(m.role_ids)} for m in provider.role_mappings],
        "protocol": protocol,
    }


def _apply(provider: IdentityProvider, draft: _Draft) -> None:
    provider.display_name = draft.display_name
    provider.status = draft.status
    provider.jit_provisioning_enabled = draft.jit
    provider.email_domains = draft.email_domains
    provider.role_mappings = draft.role_mappings
    provider.protocol = draft.protocol


def _raise(found: v.Violations, action: str) -> None:
    if found:
        raise ConstraintViolations(found, f"Field violations detected while trying to {action} an identity provider")


# -------------------------------------------------------------------------------------- use cases


def upsert_identity_provider(
    ctx: CoreContext, actor: Principal, fields: Mapping[str, Any], *, upsert: bool
) -> tuple[ProviderView, bool]:
    """Create the provider, or (with ``upsert``) replace the one with the same owner and name.
    Returns the provider and whether it was created."""
    found: v.Violations = {}
    owner = _read_owner(actor, fields, found)
    if owner is not None:
        require(actor, MANAGE, tenant_id=owner.tenant_id)
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant = None
        if owner is not None and owner.tenant_id is not None:
            tenant = live_tenant(uow, owner.tenant_id)
            if tenant is None:
                found.setdefault("ownerId", []).append(Violation("invalid_value"))
        name = fields.get("name")
        existing = (
            uow.identity_providers.get_owned(owner.id, name) if owner is not None and isinstance(name, str) else None
        )
        if existing is not None and not upsert:
            found.setdefault("name", []).append(Violation("not_unique"))
        doc = dict(fields)
        _keep_secret(doc, existing)
        draft = _draft(doc, found)
        if existing is not None and draft is not None and existing.type is not draft.type:
            found.setdefault("type", []).append(Violation("immutable"))
        _raise(found, "update" if existing else "create")
        assert owner is not None and draft is not None
        _check_roles(uow, actor, draft.role_mappings, owner.tenant_id)
        if existing is None:
            provider = IdentityProvider(
                id=new_id(),
                application_id=actor.application_id,
                owner_type=owner.type,
                owner_id=owner.id,
                type=draft.type,
                name=draft.name,
                display_name=draft.display_name,
                status=draft.status,
                jit_provisioning_enabled=draft.jit,
                metadata=EntityMetadata.new(now),
                protocol=draft.protocol,
                role_mappings=draft.role_mappings,
                email_domains=draft.email_domains,
            )
            uow.identity_providers.add(provider)
        else:
            provider = existing
            _apply(provider, draft)
            provider.metadata.touch(now)
            uow.identity_providers.update(provider)
        record(
            uow,
            ctx,
            "identity_provider.updated" if existing else "identity_provider.created",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=owner.tenant_id,
            target=("identity_provider", provider.id),
            details={"name": provider.name, "type": provider.type.value, "fields": sorted(fields)},
        )
        uow.commit()
    ctx.changes.identity_providers_changed(actor.application_id)
    return ProviderView(provider, tenant), existing is None


def require_may_configure(actor: Principal, fields: Mapping[str, Any]) -> None:
    """Refuse early (before any metadata is fetched for the caller) when the owner named by a
    create / upsert body is out of the caller's reach."""
    owner = _read_owner(actor, fields, {})
    if owner is not None:
        require(actor, MANAGE, tenant_id=owner.tenant_id)


def get_identity_provider(ctx: CoreContext, actor: Principal, provider_id: str, permission: str = READ) -> ProviderView:
    with ctx.uow(actor.application_id) as uow:
        provider = visible_provider(uow, actor, provider_id, permission)
        return ProviderView(provider, owner_tenant(uow, provider))


def update_identity_provider(
    ctx: CoreContext, actor: Principal, provider_id: str, changes: Mapping[str, Any]
) -> ProviderView:
    """A partial update: ``protocol`` keys are merged into the stored ones (``null`` removes one)."""
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        provider = visible_provider(uow, actor, provider_id, MANAGE)
        if not provider.is_external:
            raise InvalidState(
                "identity_provider_not_editable",
                "The built-in identity provider is configured through the application's policies",
            )
        found: v.Violations = {}
        current = document_of(provider)
        fixed = {
            "ownerType": provider.owner_type.value,
            "ownerId": provider.owner_id,
            "type": provider.type.value,
            "name": provider.name,
        }
        for name, value in fixed.items():
            if name in changes and changes[name] != value:
                found.setdefault(name, []).append(Violation("immutable"))
        doc = dict(current)
        for name in UPDATABLE:
            if name not in changes:
                continue
            if name == "protocol" and isinstance(changes[name], Mapping):
                merged = {**current["protocol"], **changes[name]}
                doc["protocol"] = {k: val for k, val in merged.items() if val is not None}
            else:
                doc[name] = changes[name]
        for name in ("displayName", "status", "jitProvisioningEnabled", "protocol"):
            if name in changes and changes[name] is None:
                found.setdefault(name, []).append(Violation("not_null"))
        _keep_secret(doc, provider)
        draft = _draft(doc, found)
        _raise(found, "update")
        assert draft is not None
        _check_roles(uow, actor, draft.role_mappings, provider.tenant_id)
        _apply(provider, draft)
        provider.metadata.touch(now)
        uow.identity_providers.update(provider)
        record(
            uow,
            ctx,
            "identity_provider.updated",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=provider.tenant_id,
            target=("identity_provider", provider.id),
            details={"name": provider.name, "type": provider.type.value, "fields": sorted(changes)},
        )
        uow.commit()
        view = ProviderView(provider, owner_tenant(uow, provider))
    ctx.changes.identity_providers_changed(actor.application_id)
    return view


def delete_identity_provider(ctx: CoreContext, actor: Principal, provider_id: str) -> None:
    """Delete an external provider. One that users sign in through is refused: deleting it
    would delete them too; disable it instead (or delete those users first)."""
    with ctx.uow(actor.application_id, write=True) as uow:
        provider = visible_provider(uow, actor, provider_id, MANAGE)
        if not provider.is_external:
            raise InvalidState("identity_provider_not_deletable", "The built-in identity provider cannot be deleted")
        if uow.identity_providers.has_users(provider.id):
            raise InvalidState(
                "identity_provider_in_use",
                "Users sign in through this identity provider: disable it, or delete its users first",
            )
        uow.identity_providers.delete(provider.id)
        record(
            uow,
            ctx,
            "identity_provider.deleted",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=provider.tenant_id,
            target=("identity_provider", provider.id),
            details={"name": provider.name, "type": provider.type.value},
        )
        uow.commit()
    ctx.changes.identity_providers_changed(actor.application_id)


def list_tenant_identity_providers(
    ctx: CoreContext, actor: Principal, tenant_id: str
) -> tuple[Tenant, list[IdentityProvider]]:
    """The tenant's own providers and the application's (tenant-owned first, by name)."""
    with ctx.uow(actor.application_id) as uow:
        tenant = tenant_in_reach(uow, actor, tenant_id, READ)
        return tenant, uow.identity_providers.visible_to_tenant(tenant_id)


def list_application_identity_providers(
    ctx: CoreContext, actor: Principal, application_id: str
) -> list[IdentityProvider]:
    """The providers the application owns (the built-in one included)."""
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    if not (actor.allows(READ, tenant_id=None) or (actor.tenant_id and actor.allows(READ, tenant_id=actor.tenant_id))):
        require(actor, READ, tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.identity_providers.owned_by_application()
