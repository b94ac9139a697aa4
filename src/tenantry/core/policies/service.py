"""Reading (resolved) and setting policies for an application or a tenant override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from tenantry.core.access import Principal, require
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, NotFound, Violation
from tenantry.core.policies.model import (
    POLICY_TYPES,
    PasswordPolicySettings,
    PolicyKind,
    parse_settings,
    resolve,
    to_json,
)
from tenantry.core.ports import UnitOfWork
from tenantry.core.users.passwords import PasswordPolicy


def resolved(uow: UnitOfWork, kind: PolicyKind, tenant_id: str | None) -> Any:
    """The policy in force for ``tenant_id`` (or the application when ``None``)."""
    app_layer = uow.policies.get(kind.value, None)
    tenant_layer = uow.policies.get(kind.value, tenant_id) if tenant_id is not None else None
    return resolve(kind, app_layer, tenant_layer)


def password_policy(ctx: CoreContext, uow: UnitOfWork, tenant_id: str | None) -> PasswordPolicy:
    """The password rules in force: the tenant's override, the application's policy, else the
    server's default (``TENANTRY_PASSWORD_MIN_LENGTH``)."""
    tenant_layer = uow.policies.get(PolicyKind.PASSWORD.value, tenant_id) if tenant_id is not None else None
    settings: PasswordPolicySettings = resolve(
        PolicyKind.PASSWORD,
        {"min_length": ctx.password_policy.min_length},
        uow.policies.get(PolicyKind.PASSWORD.value, None),
        tenant_layer,
    )
    return PasswordPolicy(min_length=settings.min_length, max_length=ctx.password_policy.max_length)


def read_policy(ctx: CoreContext, actor: Principal, kind: PolicyKind, tenant_id: str | None) -> dict[str, Any]:
    with ctx.uow(actor.application_id) as uow:
        if tenant_id is not None:
            tenant = uow.tenants.get(tenant_id)
            if tenant is None or not actor.allows("tenant:read", tenant_id=tenant_id):
                raise NotFound("tenant", tenant_id)
        else:
            require(actor, "application:read", tenant_id=None)
        return to_json(resolved(uow, kind, tenant_id))


def set_policy(
    ctx: CoreContext, actor: Principal, kind: PolicyKind, tenant_id: str | None, document: Mapping[str, Any]
) -> dict[str, Any]:
    """Store the settings present in ``document`` (``null`` clears a tenant override key)."""
    settings = parse_settings(kind, document)
    with ctx.uow(actor.application_id, write=True) as uow:
        if tenant_id is not None:
            tenant = uow.tenants.get(tenant_id)
            if tenant is None or not actor.allows("tenant:update", tenant_id=tenant_id):
                raise NotFound("tenant", tenant_id)
        else:
            require(actor, "application:update", tenant_id=None)
        if kind is PolicyKind.ROLE_ASSIGNMENT:
            _check_role_names(uow, actor.application_id, tenant_id, settings)
        current = uow.policies.get(kind.value, tenant_id) or {}
        merged = {**current, **settings}
        uow.policies.put(kind.value, tenant_id, {k: v for k, v in merged.items() if v is not None})
        result = to_json(resolved(uow, kind, tenant_id))
        uow.commit()
    return result


def _check_role_names(uow: UnitOfWork, application_id: str, tenant_id: str | None, settings: Mapping[str, Any]) -> None:
    """Role-assignment policies name roles; a name no role has would silently give new users
    nothing, so it is refused when the policy is saved (a tenant may name its own roles)."""
    application = uow.applications.get(application_id)
    prefix = f"app:{application.name}:" if application is not None else ""
    violations: dict[str, list[Violation]] = {}
    for field, names in settings.items():
        for name in names or ():
            role = uow.roles.get_by_name(name if ":" in name else prefix + name)
            if role is None or role.tenant_id not in (None, tenant_id):
                head, *rest = field.split("_")
                wire = head + "".join(part.title() for part in rest)
                violations.setdefault(wire, []).append(Violation("role_not_found", {"name": name[:100]}))
    if violations:
        raise ConstraintViolations(violations, "The policy names roles that do not exist")


def read_settings(ctx: CoreContext, actor: Principal, kind: PolicyKind, tenant_id: str | None) -> dict[str, Any]:
    """Only what is set at this level (the application's policy, or the tenant's override), as a
    camelCase document: what an owner edits, as opposed to what is in force (``read_policy``)."""
    with ctx.uow(actor.application_id) as uow:
        if tenant_id is not None:
            tenant = uow.tenants.get(tenant_id)
            if tenant is None or not actor.allows("tenant:read", tenant_id=tenant_id):
                raise NotFound("tenant", tenant_id)
        else:
            require(actor, "application:read", tenant_id=None)
        stored = uow.policies.get(kind.value, tenant_id) or {}
    policy_type = POLICY_TYPES[kind]
    camel = dict(zip((f.name for f in fields(policy_type)), to_json(policy_type()), strict=True))
    return {camel[name]: value for name, value in stored.items() if name in camel}
