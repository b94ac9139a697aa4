"""User use cases behind ``/api/v1/users`` (onboarding method 5: the Create User API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenantry.core.access import Principal, require
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import ChangedMeanwhile, ConstraintViolations, InvalidRequest, NotFound, Violation
from tenantry.core.metadata_rules import metadata_violations
from tenantry.core.model import JsonObject
from tenantry.core.policies.service import password_policy
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.roles.service import assign_roles_to_new_user
from tenantry.core.users.model import PROFILE_FIELDS, User, UserStatus, new_user
from tenantry.core.users.validation import email_violations, profile_violations

CREATE_STATUSES = (UserStatus.PROVISIONED, UserStatus.ACTIVE)

# PATCH fields that need a permission beyond ``user:update``.
FIELD_PERMISSIONS: dict[str, str] = {
    "status": "user:manage-status",
    "email": "user:manage-email",
    "emailVerified": "user:manage-email",
    "externalId": "user:manage-external-id",
    "restrictedMetadata": "user:manage-restricted-metadata",
}


@dataclass(frozen=True, slots=True)
class CreateUser:
    tenant_id: str
    identity_provider_name: str
    email: str
    email_verified: bool = False
    status: UserStatus = UserStatus.PROVISIONED
    password: str | None = None
    # A hash from the system the user is migrated from (``PasswordHasher.recognizes``); replaced by
    # this server's own hash at the user's first sign-in.
    password_hash: str | None = None
    # When set, the provider ``identity_provider_name`` names in the tenant must be this one (a
    # tenant's own provider shadows an application provider of the same name).
    identity_provider_id: str | None = None
    # Roles assigned in the same transaction (``role-assignment:manage``; ``tenantry users import``).
    role_ids: Sequence[str] = ()
    profile: Mapping[str, str | None] = field(default_factory=dict)
    public_metadata: JsonObject = field(default_factory=dict)
    restricted_metadata: JsonObject = field(default_factory=dict)


def create_user(ctx: CoreContext, actor: Principal, cmd: CreateUser) -> User:
    require(actor, "user:create", tenant_id=cmd.tenant_id)
    if cmd.restricted_metadata:
        require(actor, "user:manage-restricted-metadata", tenant_id=cmd.tenant_id)
    violations: dict[str, list[Violation]] = profile_violations(cmd.profile)
    if found := email_violations(cmd.email):
        violations["email"] = found
    for name, value in (("publicMetadata", cmd.public_metadata), ("restrictedMetadata", cmd.restricted_metadata)):
        if found := metadata_violations(value):
            violations[name] = found
    if cmd.status not in CREATE_STATUSES:
        violations["status"] = [Violation("invalid_value", {"allowedValues": "PROVISIONED,ACTIVE"})]
    if found := _imported_hash_violations(ctx, cmd):
        violations["passwordHash"] = found
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to create a user")
    if cmd.password is not None:
        with ctx.uow(actor.application_id) as uow:
            policy = password_policy(ctx, uow, cmd.tenant_id)
        policy.check(cmd.password, email=cmd.email, common=ctx.common_passwords)
    # Hash outside the transaction: it is the slow part and must not hold a write lock.
    password_hash = ctx.hasher.hash(cmd.password) if cmd.password is not None else cmd.password_hash
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant, provider = uow.identity_providers.tenant_and_provider(cmd.tenant_id, cmd.identity_provider_name)
        if tenant is None or not tenant.is_usable:
            raise NotFound("tenant", cmd.tenant_id)
        if provider is None or (cmd.identity_provider_id not in (None, provider.id)):
            raise ConstraintViolations.single(
                "identityProviderName",
                "invalid_value",
                f"Identity provider [{cmd.identity_provider_name}] not found"
                if provider is None
                else f"The tenant's own provider [{cmd.identity_provider_name}] shadows this one",
            )
        if provider.is_external and not cmd.profile.get("externalId"):
            raise ConstraintViolations.single(
                "externalId", "required", "Users of an external identity provider need an externalId"
            )
        if password_hash is not None and provider.is_external:
            raise ConstraintViolations.single(
                "password" if cmd.password is not None else "passwordHash",
                "invalid_value",
                "Only users of the built-in identity provider have passwords",
            )
        user = new_user(
            application_id=actor.application_id,
            tenant_id=cmd.tenant_id,
            provider=provider,
            email=cmd.email,
            email_verified=cmd.email_verified,
            status=cmd.status,
            profile=dict(cmd.profile),
            now=now,
            password_hash=password_hash,
            public_metadata=cmd.public_metadata,
            restricted_metadata=cmd.restricted_metadata,
        )
        uow.users.add(user)
        record(
            uow,
            ctx,
            "user.created",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=user.tenant_id,
            target=("user", user.id),
            details={"status": user.status.value},
        )
        if cmd.role_ids:
            assign_roles_to_new_user(uow, ctx, actor, user, cmd.role_ids)
        uow.commit()
    return user


def _imported_hash_violations(ctx: CoreContext, cmd: CreateUser) -> list[Violation]:
    if cmd.password_hash is None:
        return []
    if cmd.password is not None:
        return [Violation("invalid_value", {"reason": "password_and_password_hash"})]
    if not ctx.hasher.recognizes(cmd.password_hash):
        return [Violation("invalid_value", {"reason": "unrecognized_password_hash"})]
    return []


def _visible_user(uow: UnitOfWork, actor: Principal, user_id: str, permission: str) -> User:
    """The user, or ``user_not_found`` when it does not exist *or* lies outside the caller's
    boundary: a caller must not learn which ids exist in other tenants."""
    user = uow.users.get(user_id)
    if user is None or not actor.allows(permission, tenant_id=user.tenant_id, user_id=user.id):
        if user is not None and actor.allows("user:read", tenant_id=user.tenant_id, user_id=user.id):
            require(actor, permission, tenant_id=user.tenant_id, user_id=user.id)
        raise NotFound("user", user_id)
    return user


def get_user(ctx: CoreContext, actor: Principal, user_id: str) -> User:
    with ctx.uow(actor.application_id) as uow:
        return _visible_user(uow, actor, user_id, "user:read")


def update_user(
    ctx: CoreContext,
    actor: Principal,
    user_id: str,
    changes: Mapping[str, Any],
    *,
    expected_version: int | None = None,
) -> User:
    """Apply a partial update; ``changes`` holds only the fields the caller sent. With
    ``expected_version`` (what the caller read), ``ChangedMeanwhile`` if the user has changed
    since: a read-modify-write caller then starts again instead of losing the other change."""
    profile_changes = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
    violations = profile_violations(profile_changes)
    if "email" in changes:
        if changes["email"] is None:
            violations["email"] = [Violation("not_null")]
        elif found := email_violations(changes["email"]):
            violations["email"] = found
    for name in ("emailVerified", "status", "publicMetadata", "restrictedMetadata"):
        if name in changes and changes[name] is None:
            violations[name] = [Violation("not_null")]
    for name in ("publicMetadata", "restrictedMetadata"):
        if found := metadata_violations(changes.get(name)):
            violations[name] = found
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to update a user")
    password = changes.get("password")
    if password is not None:
        raise InvalidRequest("Passwords are changed through the change-password workflow, not PATCH")
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        user = _visible_user(uow, actor, user_id, "user:update")
        if expected_version is not None and user.metadata.version != expected_version:
            raise ChangedMeanwhile()
        read_version = user.metadata.version
        for name, permission in FIELD_PERMISSIONS.items():
            if name in changes:
                require(actor, permission, tenant_id=user.tenant_id, user_id=user.id)
        if "status" in changes:
            user.change_status(UserStatus(changes["status"]), now)
            if user.status is UserStatus.INACTIVE:
                # Deactivation takes effect at once: no session or refresh token survives it.
                uow.auth_sessions.delete_for_user(user.id)
                uow.refresh_tokens.revoke_for_user(user.id, now)
        if "email" in changes and changes["email"] != user.email:
            user.email = changes["email"]
            user.email_verified = False
        if "emailVerified" in changes:
            user.email_verified = bool(changes["emailVerified"])
            if user.email_verified:
                user.metadata.last_verification_time = now
        for name, value in profile_changes.items():
            if value is None:
                user.profile.pop(name, None)
            else:
                user.profile[name] = value
        if "publicMetadata" in changes:
            user.public_metadata = dict(changes["publicMetadata"])
        if "restrictedMetadata" in changes:
            user.restricted_metadata = dict(changes["restrictedMetadata"])
        user.metadata.touch(now)
        uow.users.update(user, read_version if expected_version is not None else None)
        record(
            uow,
            ctx,
            "user.updated",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=user.tenant_id,
            target=("user", user.id),
            details={"fields": sorted(changes)},
        )
        uow.commit()
    return user


def delete_user(ctx: CoreContext, actor: Principal, user_id: str) -> None:
    with ctx.uow(actor.application_id, write=True) as uow:
        user = _visible_user(uow, actor, user_id, "user:delete")
        uow.users.delete(user_id)
        record(
            uow,
            ctx,
            "user.deleted",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=user.tenant_id,
            target=("user", user_id),
            details={"email": user.email},
        )
        uow.commit()


def list_tenant_users(ctx: CoreContext, actor: Principal, tenant_id: str, spec: ListSpec) -> Page[User]:
    with ctx.uow(actor.application_id) as uow:
        tenant = uow.tenants.get(tenant_id)
        if tenant is None or not actor.reaches_tenant("user:read", tenant_id):
            if tenant is not None and actor.reaches_tenant("tenant:read", tenant_id):
                require(actor, "user:read", tenant_id=tenant_id)
            raise NotFound("tenant", tenant_id)
        return uow.users.page(spec, actor.tenant_scope("user:read"), tenant_id=tenant_id)


def list_application_users(ctx: CoreContext, actor: Principal, application_id: str, spec: ListSpec) -> Page[User]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    scope = actor.tenant_scope("user:read")
    if scope.empty:
        require(actor, "user:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.users.page(spec, scope)
