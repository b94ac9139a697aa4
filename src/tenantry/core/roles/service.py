"""Role use cases: tenant roles, and which roles a user holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenantry.core.access import Principal, require, require_grantable
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, NotFound, Violation
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.roles.model import (
    PERMISSION_SET,
    ROLE_NAME_PATTERN,
    Boundary,
    OwnerType,
    PermissionGrant,
    Role,
    RoleType,
    qualify_role_name,
)
from tenantry.core.text import storable, text_violation
from tenantry.core.users.model import User

MAX_ROLE_IDS = 100


@dataclass(frozen=True, slots=True)
class CreateTenantRole:
    tenant_id: str
    name: str
    display_name: str
    description: str | None
    permissions: Sequence[str]


@dataclass(frozen=True, slots=True)
class UserRoles:
    user_id: str
    roles: list[Role]


def _tenant_or_404(uow: UnitOfWork, actor: Principal, tenant_id: str, permission: str) -> None:
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or not actor.reaches_tenant(permission, tenant_id):
        if tenant is not None and actor.reaches_tenant("tenant:read", tenant_id):
            require(actor, permission, tenant_id=tenant_id)
        raise NotFound("tenant", tenant_id)


def list_tenant_roles(
    ctx: CoreContext, actor: Principal, tenant_id: str, include_application_roles: bool, spec: ListSpec
) -> Page[Role]:
    with ctx.uow(actor.application_id) as uow:
        _tenant_or_404(uow, actor, tenant_id, "role:read")
        return uow.roles.list_for_tenant(tenant_id, include_application_roles, spec)


def list_application_roles(ctx: CoreContext, actor: Principal, spec: ListSpec) -> Page[Role]:
    """The application-owned roles (those any tenant's users and clients may hold)."""
    require(actor, "role:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.roles.list_for_application(spec)


def create_tenant_role(ctx: CoreContext, actor: Principal, cmd: CreateTenantRole) -> Role:
    violations: dict[str, list[Violation]] = {}
    unknown = sorted(set(cmd.permissions) - PERMISSION_SET)
    if unknown:
        violations["permissions"] = [Violation("invalid_value", {"unknown": ",".join(unknown)})]
    if problem := text_violation(cmd.display_name, max_length=200):
        violations["displayName"] = [problem]
    if cmd.description is not None and (problem := text_violation(cmd.description, max_length=1000, multiline=True)):
        violations["description"] = [problem]
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        _tenant_or_404(uow, actor, cmd.tenant_id, "role:create")
        tenant = uow.tenants.get(cmd.tenant_id)
        assert tenant is not None
        name = qualify_role_name(cmd.name, tenant_domain=tenant.domain_name)
        if name is None or not storable(name) or not ROLE_NAME_PATTERN.match(name):
            violations["name"] = [Violation("invalid_format", {"pattern": ROLE_NAME_PATTERN.pattern})]
        if violations:
            raise ConstraintViolations(violations, "Field violations detected while trying to create a role")
        assert name is not None
        role = Role(
            id=new_id(),
            application_id=actor.application_id,
            owner_type=OwnerType.TENANT,
            owner_id=cmd.tenant_id,
            tenant_id=cmd.tenant_id,
            name=name,
            display_name=cmd.display_name,
            description=cmd.description,
            type=RoleType.CUSTOM,
            grants=tuple(PermissionGrant(p, Boundary.TENANT) for p in dict.fromkeys(cmd.permissions)),
            metadata=EntityMetadata.new(now),
        )
        require_grantable(actor, [role], cmd.tenant_id)
        uow.roles.add(role)
        uow.commit()
    return role


def delete_role(ctx: CoreContext, actor: Principal, role_id: str) -> None:
    with ctx.uow(actor.application_id, write=True) as uow:
        role = uow.roles.get(role_id)
        if role is None or role.tenant_id is None or not actor.allows("role:delete", tenant_id=role.tenant_id):
            if role is not None and role.tenant_id is None and actor.allows("role:read", tenant_id=None):
                raise InvalidState("role_not_deletable", "Application roles cannot be deleted through this API")
            raise NotFound("role", role_id)
        uow.roles.delete(role_id)
        uow.commit()


def _user_for_roles(uow: UnitOfWork, actor: Principal, user_id: str, permission: str) -> User:
    user = uow.users.get(user_id)
    if user is None or not actor.allows(permission, tenant_id=user.tenant_id, user_id=user.id):
        if user is not None and actor.allows("user:read", tenant_id=user.tenant_id, user_id=user.id):
            require(actor, permission, tenant_id=user.tenant_id, user_id=user.id)
        raise NotFound("user", user_id)
    return user


def _assignable(uow: UnitOfWork, actor: Principal, user: User, role_ids: Sequence[str]) -> list[str]:
    """Check that every role exists, belongs to the application or the user's tenant, and grants
    nothing beyond the actor's own reach."""
    if len(role_ids) > MAX_ROLE_IDS:
        raise ConstraintViolations.single("roleIds", "too_many", "Too many role ids", maxItems=str(MAX_ROLE_IDS))
    unique = list(dict.fromkeys(role_ids))
    roles = {r.id: r for r in uow.roles.get_many(unique)}
    bad = [rid for rid in unique if rid not in roles or roles[rid].tenant_id not in (None, user.tenant_id)]
    if bad:
        raise ConstraintViolations.single(
            "roleIds", "invalid_value", f"Roles [{', '.join(bad)}] cannot be assigned to this user"
        )
    require_grantable(actor, roles.values(), user.tenant_id)
    return unique


def assign_roles(ctx: CoreContext, actor: Principal, user_id: str, role_ids: Sequence[str], *, replace: bool) -> None:
    with ctx.uow(actor.application_id, write=True) as uow:
        user = _user_for_roles(uow, actor, user_id, "role-assignment:manage")
        _assign(uow, ctx, actor, user, role_ids, replace=replace)
        uow.commit()


def assign_roles_to_new_user(
    uow: UnitOfWork, ctx: CoreContext, actor: Principal, user: User, role_ids: Sequence[str]
) -> None:
    """The roles of a user being created, in the transaction that creates it (all or nothing)."""
    require(actor, "role-assignment:manage", tenant_id=user.tenant_id, user_id=user.id)
    _assign(uow, ctx, actor, user, role_ids, replace=False)


def _assign(
    uow: UnitOfWork, ctx: CoreContext, actor: Principal, user: User, role_ids: Sequence[str], *, replace: bool
) -> None:
    wanted = _assignable(uow, actor, user, role_ids)
    if replace:
        current = [r.id for r in uow.roles.roles_of_users([user.id]).get(user.id, [])]
        uow.roles.unassign(user.id, [rid for rid in current if rid not in wanted])
    uow.roles.assign(user.id, user.tenant_id, wanted)
    action = "user.roles_replaced" if replace else "user.roles_assigned"
    record(
        uow,
        ctx,
        action,
        application_id=actor.application_id,
        actor=actor,
        tenant_id=user.tenant_id,
        target=("user", user.id),
        details={"roleIds": wanted},
    )


def unassign_roles(ctx: CoreContext, actor: Principal, user_id: str, role_ids: Sequence[str]) -> None:
    with ctx.uow(actor.application_id, write=True) as uow:
        user = _user_for_roles(uow, actor, user_id, "role-assignment:manage")
        removed = list(dict.fromkeys(role_ids))[:MAX_ROLE_IDS]
        uow.roles.unassign(user_id, removed)
        record(
            uow,
            ctx,
            "user.roles_unassigned",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=user.tenant_id,
            target=("user", user_id),
            details={"roleIds": removed},
        )
        uow.commit()


def user_roles(ctx: CoreContext, actor: Principal, user_id: str, spec: ListSpec) -> Page[Role]:
    with ctx.uow(actor.application_id) as uow:
        _user_for_roles(uow, actor, user_id, "role:read")
        return uow.roles.roles_of_user(user_id, spec)


@dataclass(frozen=True, slots=True)
class ResolveFailure:
    index: int
    user_id: str
    code: str
    message: str


def resolve_assigned_roles(
    ctx: CoreContext, actor: Principal, user_ids: Sequence[str]
) -> tuple[list[UserRoles], list[ResolveFailure]]:
    if len(user_ids) > MAX_ROLE_IDS:
        raise ConstraintViolations.single("userIds", "too_many", "Too many user ids", maxItems=str(MAX_ROLE_IDS))
    found: list[UserRoles] = []
    failures: list[ResolveFailure] = []
    with ctx.uow(actor.application_id) as uow:
        visible: list[str] = []
        for index, user_id in enumerate(user_ids):
            user = uow.users.get(user_id)
            if user is None or not actor.allows("role:read", tenant_id=user.tenant_id, user_id=user.id):
                failures.append(
                    ResolveFailure(index, user_id, "user_not_found", f"User [{user_id}] could not be found")
                )
            else:
                visible.append(user_id)
        by_user = uow.roles.roles_of_users(visible)
        found = [UserRoles(uid, by_user.get(uid, [])) for uid in visible]
    return found, failures
