"""Tenant use cases: create, read, update, list and the asynchronous delete."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenantry.core.access import Principal, require
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, NotFound, Violation
from tenantry.core.ids import new_id
from tenantry.core.metadata_rules import metadata_violations
from tenantry.core.model import EntityMetadata, JsonObject
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.tenants.model import (
    DISPLAY_NAME_MAX,
    DOMAIN_NAME_MAX,
    DOMAIN_NAME_MIN,
    DOMAIN_NAME_PATTERN,
    Tenant,
    TenantStatus,
    TenantType,
)
from tenantry.core.text import text_violation

PURGE_BATCH = 500
# A host name with at least two labels (and an optional port), lower case: it is served as-is.
CUSTOM_DOMAIN_PATTERN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}(?::[0-9]{1,5})?$")

FIELD_PERMISSIONS = {
    "signupEnabled": "tenant:manage-signup-enablement",
    "restrictedMetadata": "tenant:manage-restricted-metadata",
    "status": "tenant:manage-status",
}


@dataclass(frozen=True, slots=True)
class CreateTenant:
    domain_name: str
    display_name: str
    type: TenantType = TenantType.STANDARD
    description: str | None = None
    logo_url: str | None = None
    custom_domain: str | None = None
    signup_enabled: bool = False
    public_metadata: JsonObject = field(default_factory=dict)
    restricted_metadata: JsonObject = field(default_factory=dict)


def domain_name_violations(domain_name: str) -> list[Violation]:
    if len(domain_name) < DOMAIN_NAME_MIN:
        return [Violation("too_short", {"minLength": str(DOMAIN_NAME_MIN)})]
    if len(domain_name) > DOMAIN_NAME_MAX:
        return [Violation("too_long", {"maxLength": str(DOMAIN_NAME_MAX)})]
    if not DOMAIN_NAME_PATTERN.match(domain_name):
        return [Violation("invalid_format", {"pattern": DOMAIN_NAME_PATTERN.pattern})]
    return []


def _text_violations(changes: Mapping[str, Any]) -> dict[str, list[Violation]]:
    found: dict[str, list[Violation]] = {}
    for name in ("publicMetadata", "restrictedMetadata"):
        if problems := metadata_violations(changes.get(name)):
            found[name] = problems
    limits = {"displayName": DISPLAY_NAME_MAX, "description": 1000, "logoUrl": 2000}
    for name, limit in limits.items():
        value = changes.get(name)
        if value is None:
            continue
        problem = text_violation(value, max_length=limit, multiline=name == "description")
        if problem is None and name == "logoUrl" and not value.startswith(("https://", "http://")):
            problem = Violation("invalid_format")
        if problem is not None:
            found[name] = [problem]
    custom = changes.get("customDomain")
    if custom is not None and (len(custom) > 253 or not CUSTOM_DOMAIN_PATTERN.match(custom)):
        found["customDomain"] = [Violation("invalid_format", {"pattern": CUSTOM_DOMAIN_PATTERN.pattern})]
    return found


def create_tenant(ctx: CoreContext, actor: Principal, cmd: CreateTenant) -> Tenant:
    require(actor, "tenant:create", tenant_id=None)
    if cmd.restricted_metadata:
        require(actor, "tenant:manage-restricted-metadata", tenant_id=None)
    violations = _text_violations(
        {
            "displayName": cmd.display_name,
            "description": cmd.description,
            "logoUrl": cmd.logo_url,
            "customDomain": cmd.custom_domain,
            "publicMetadata": cmd.public_metadata,
            "restrictedMetadata": cmd.restricted_metadata,
        }
    )
    if found := domain_name_violations(cmd.domain_name):
        violations["domainName"] = found
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to create a tenant")
    now = ctx.clock.now()
    tenant = Tenant(
        id=new_id(),
        application_id=actor.application_id,
        domain_name=cmd.domain_name,
        display_name=cmd.display_name,
        description=cmd.description,
        logo_url=cmd.logo_url,
        custom_domain=cmd.custom_domain,
        signup_enabled=cmd.signup_enabled,
        type=cmd.type,
        status=TenantStatus.ACTIVE,
        public_metadata=dict(cmd.public_metadata),
        restricted_metadata=dict(cmd.restricted_metadata),
        metadata=EntityMetadata.new(now),
    )
    with ctx.uow(actor.application_id, write=True) as uow:
        uow.tenants.add(tenant)
        record(
            uow,
            ctx,
            "tenant.created",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("tenant", tenant.id),
            details={"domainName": tenant.domain_name},
        )
        uow.commit()
    return tenant


def _visible_tenant(uow: UnitOfWork, actor: Principal, tenant_id: str, permission: str) -> Tenant:
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or not actor.allows(permission, tenant_id=tenant_id):
        if tenant is not None and actor.allows("tenant:read", tenant_id=tenant_id):
            require(actor, permission, tenant_id=tenant_id)
        raise NotFound("tenant", tenant_id)
    return tenant


def get_tenant(ctx: CoreContext, actor: Principal, tenant_id: str) -> Tenant:
    with ctx.uow(actor.application_id) as uow:
        return _visible_tenant(uow, actor, tenant_id, "tenant:read")


def update_tenant(ctx: CoreContext, actor: Principal, tenant_id: str, changes: Mapping[str, Any]) -> Tenant:
    violations = _text_violations(changes)
    if "domainName" in changes:
        violations["domainName"] = [Violation("immutable")]
    if "type" in changes:
        violations["type"] = [Violation("immutable")]
    for name in ("displayName", "signupEnabled", "status", "publicMetadata", "restrictedMetadata"):
        if name in changes and changes[name] is None:
            violations[name] = [Violation("not_null")]
    status = changes.get("status")
    if status is not None and status not in (TenantStatus.ACTIVE, TenantStatus.INACTIVE):
        violations["status"] = [Violation("invalid_value", {"allowedValues": "ACTIVE,INACTIVE"})]
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to update a tenant")
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant = _visible_tenant(uow, actor, tenant_id, "tenant:update")
        for name, permission in FIELD_PERMISSIONS.items():
            if name in changes:
                require(actor, permission, tenant_id=tenant_id)
        if tenant.status is TenantStatus.DELETE_IN_PROGRESS:
            raise NotFound("tenant", tenant_id)
        for name, attr in (
            ("displayName", "display_name"),
            ("description", "description"),
            ("logoUrl", "logo_url"),
            ("customDomain", "custom_domain"),
            ("signupEnabled", "signup_enabled"),
        ):
            if name in changes:
                setattr(tenant, attr, changes[name])
        if status is not None:
            tenant.status = TenantStatus(status)
        if "publicMetadata" in changes:
            tenant.public_metadata = dict(changes["publicMetadata"])
        if "restrictedMetadata" in changes:
            tenant.restricted_metadata = dict(changes["restrictedMetadata"])
        tenant.metadata.touch(now)
        uow.tenants.update(tenant)
        record(
            uow,
            ctx,
            "tenant.updated",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("tenant", tenant.id),
            details={"fields": sorted(changes)},
        )
        uow.commit()
    ctx.changes.tenant_changed(tenant.id)
    return tenant


def request_tenant_deletion(ctx: CoreContext, actor: Principal, tenant_id: str) -> None:
    """Mark the tenant ``DELETE_IN_PROGRESS``; ``purge_deleted_tenants`` removes it later."""
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant = _visible_tenant(uow, actor, tenant_id, "tenant:delete")
        if tenant.status is TenantStatus.DELETE_IN_PROGRESS:
            return
        tenant.status = TenantStatus.DELETE_IN_PROGRESS
        tenant.metadata.touch(now)
        uow.tenants.update(tenant)
        record(
            uow,
            ctx,
            "tenant.deletion_requested",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("tenant", tenant.id),
        )
        uow.commit()
    ctx.changes.tenant_changed(tenant_id)


def purge_deleted_tenants(ctx: CoreContext, application_id: str) -> int:
    """Delete the rows of tenants marked for deletion, in batches (each its own transaction)."""
    with ctx.uow(application_id) as uow:
        pending = uow.tenants.ids_with_status(TenantStatus.DELETE_IN_PROGRESS.value)
    for tenant_id in pending:
        while True:
            with ctx.uow(application_id, write=True) as uow:
                removed = uow.users.delete_for_tenant(tenant_id, PURGE_BATCH)
                uow.commit()
            if removed < PURGE_BATCH:
                break
        with ctx.uow(application_id, write=True) as uow:
            uow.roles.delete_for_tenant(tenant_id)
            uow.tenants.delete(tenant_id)
            uow.commit()
    return len(pending)


def list_tenants(ctx: CoreContext, actor: Principal, application_id: str, spec: ListSpec) -> Page[Tenant]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    scope = actor.tenant_scope("tenant:read")
    if scope.empty:
        require(actor, "tenant:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.tenants.page(spec, scope)
