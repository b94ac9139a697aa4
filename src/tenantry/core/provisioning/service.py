"""Directory provisioning use cases: tokens (issued by an administrator, shown once, stored
hashed) and the user operations a directory performs with one.

A directory acts through a principal with the user permissions on its tenant only, and every
operation also checks that the user belongs to the directory's identity provider: a directory
never sees the tenant's password users or another provider's users. Users go through the same use
cases as the API (validation, constraints, audit)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from tenantry.core.access import Principal, require
from tenantry.core.audit.service import record
from tenantry.core.auth.model import token_hash
from tenantry.core.context import CoreContext
from tenantry.core.errors import ChangedMeanwhile, ConstraintViolations, NotFound
from tenantry.core.identity_providers.access import MANAGE, READ, tenant_in_reach
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.provisioning.model import Directory, DirectoryTokenStatus, DirectoryUser, IssuedDirectoryToken
from tenantry.core.roles.model import Boundary, PermissionGrant
from tenantry.core.tenants.model import Tenant
from tenantry.core.users import service as users
from tenantry.core.users.model import PROFILE_FIELDS, User, UserStatus

PATCH_ATTEMPTS = 5
TOKEN_PREFIX = "tdt_"  # Tenantry directory token: recognisable in a leaked-secrets scan
DIRECTORY_PERMISSIONS = (
    "user:create",
    "user:read",
    "user:update",
    "user:delete",
    "user:manage-status",
    "user:manage-email",
    "user:manage-external-id",
)


# --- tokens ----------------------------------------------------------------------------------------


def issue_directory_token(ctx: CoreContext, actor: Principal, provider_id: str, tenant_id: str) -> IssuedDirectoryToken:
    """A new token for the directory of ``tenant_id`` through ``provider_id``; it replaces the
    pair's previous token, which stops working at once. The issuer must hold every permission the
    token carries: a token is never a way to more than its issuer may do."""
    require(actor, MANAGE, tenant_id=tenant_id)
    for permission in DIRECTORY_PERMISSIONS:
        require(actor, permission, tenant_id=tenant_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant, provider = _pair(uow, actor, provider_id, tenant_id)
        uow.directory_tokens.replace(tenant.id, provider.id, token_hash(token), ctx.clock.now())
        record(
            uow,
            ctx,
            "directory_token.issued",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("identity_provider", provider.id),
        )
        uow.commit()
    return IssuedDirectoryToken(token, tenant, provider)


def revoke_directory_token(ctx: CoreContext, actor: Principal, provider_id: str, tenant_id: str) -> None:
    require(actor, MANAGE, tenant_id=tenant_id)
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant, provider = _pair(uow, actor, provider_id, tenant_id)
        if not uow.directory_tokens.revoke(tenant.id, provider.id):
            raise NotFound("directory_token", provider_id)
        record(
            uow,
            ctx,
            "directory_token.revoked",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=tenant.id,
            target=("identity_provider", provider.id),
        )
        uow.commit()


def directory_token_status(
    ctx: CoreContext, actor: Principal, provider_id: str, tenant_id: str
) -> DirectoryTokenStatus:
    """The tenant, the provider, and when the pair's token was issued (None: no token)."""
    with ctx.uow(actor.application_id) as uow:
        tenant, provider = _pair(uow, actor, provider_id, tenant_id)
        return DirectoryTokenStatus(tenant, provider, uow.directory_tokens.issued_at(tenant.id, provider.id))


def _pair(uow: UnitOfWork, actor: Principal, provider_id: str, tenant_id: str) -> tuple[Tenant, IdentityProvider]:
    """The tenant and a provider its users sign in with (its own, or one of the application's)."""
    tenant = tenant_in_reach(uow, actor, tenant_id, READ)
    provider = uow.identity_providers.get(provider_id)
    if provider is None or provider.tenant_id not in (None, tenant.id):
        raise NotFound("identity_provider", provider_id)
    return tenant, provider


def authenticate_directory(ctx: CoreContext, application_id: str, tenant_id: str, token: str) -> Directory | None:
    """The directory whose token this is, if it was issued for ``tenant_id`` (the host's tenant)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with ctx.uow(application_id) as uow:
        found = uow.directory_tokens.find(token_hash(token))
        if found is None or found.tenant_id != tenant_id:
            return None
        tenant = uow.tenants.get(found.tenant_id)
        provider = uow.identity_providers.get(found.identity_provider_id)
    if tenant is None or not tenant.is_usable or provider is None:
        return None
    return Directory(application_id, tenant, provider)


# --- users -----------------------------------------------------------------------------------------


def directory_principal(directory: Directory) -> Principal:
    grants = tuple(PermissionGrant(p, Boundary.TENANT) for p in DIRECTORY_PERMISSIONS)
    return Principal(
        directory.application_id, f"directory:{directory.provider.id}", "directory", directory.tenant.id, grants
    )


def create_directory_user(ctx: CoreContext, directory: Directory, data: DirectoryUser) -> User:
    """An active user is ``ACTIVE`` at once; an inactive one waits as ``PROVISIONED``. The
    directory is the authority on the addresses of its own users: an external provider's users
    come with their email verified (a password user's is verified when they accept an invitation).

    An external provider's user is found at sign-in by its external id, the subject the provider
    asserts. A directory that sends no ``externalId`` gets its ``userName`` as one: what a SAML
    IdP sending the username as its NameID asserts (Okta and Entra ID send an ``externalId``)."""
    profile = {k: v for k, v in data.profile.items() if v is not None}
    username = profile.get("username")
    if directory.provider.is_external and not profile.get("externalId") and username:
        profile["externalId"] = username
    command = users.CreateUser(
        tenant_id=directory.tenant.id,
        identity_provider_name=directory.provider.name,
        identity_provider_id=directory.provider.id,
        email=data.email,
        email_verified=directory.provider.is_external,
        status=UserStatus.PROVISIONED if data.active is False else UserStatus.ACTIVE,
        profile=profile,
    )
    return users.create_user(ctx, directory_principal(directory), command)


def directory_user(ctx: CoreContext, directory: Directory, user_id: str) -> User:
    user = users.get_user(ctx, directory_principal(directory), user_id)
    if user.identity_provider_id != directory.provider.id:
        raise NotFound("user", user_id)
    return user


def patch_directory_user(
    ctx: CoreContext, directory: Directory, user_id: str, patched: Callable[[User], DirectoryUser]
) -> User:
    """A read-modify-write: ``patched`` turns the user as read into the user as wanted, and the
    change is stored only if nobody changed the user in between (``update_user``'s
    ``expected_version``); else it starts again, a few times, so two directories' PATCHes of one
    user never lose one of them. A patch may replace an SSO user's external id, not remove it (a
    PUT that leaves it out keeps it)."""
    attempts = 1
    while True:
        user = directory_user(ctx, directory, user_id)
        wanted = patched(user)
        if directory.provider.is_external and user.profile.get("externalId") and not wanted.profile.get("externalId"):
            raise ConstraintViolations.single(
                "externalId", "immutable", "An SSO user's externalId is how its sign-ins find it: replace it instead"
            )
        try:
            return _replace(ctx, directory, user, wanted, user.metadata.version)
        except ChangedMeanwhile:
            if attempts == PATCH_ATTEMPTS:
                raise
            attempts += 1


def replace_directory_user(ctx: CoreContext, directory: Directory, user_id: str, data: DirectoryUser) -> User:
    """The user as ``data`` describes it (a PUT)."""
    return _replace(ctx, directory, directory_user(ctx, directory, user_id), data, None)


def _replace(
    ctx: CoreContext, directory: Directory, user: User, data: DirectoryUser, expected_version: int | None
) -> User:
    """The profile fields the directory manages take ``data``'s values (None clears one; the
    fields it does not manage are left alone), except an external provider's user's external id,
    which stays (it is how sign-ins find the user); ``active`` makes the user ``ACTIVE`` or, if it
    was, ``INACTIVE`` (which ends its sessions), and an unsaid one changes nothing."""
    changes: dict[str, object] = {name: value for name, value in data.profile.items() if name in PROFILE_FIELDS}
    if directory.provider.is_external and not changes.get("externalId"):
        del changes["externalId"]
    if data.email != user.email:
        changes["email"] = data.email
        if directory.provider.is_external:
            changes["emailVerified"] = True
    if data.active is True and user.status is not UserStatus.ACTIVE:
        changes["status"] = UserStatus.ACTIVE.value
    elif data.active is False and user.status is UserStatus.ACTIVE:
        changes["status"] = UserStatus.INACTIVE.value
    return users.update_user(ctx, directory_principal(directory), user.id, changes, expected_version=expected_version)


def delete_directory_user(ctx: CoreContext, directory: Directory, user_id: str) -> None:
    directory_user(ctx, directory, user_id)
    users.delete_user(ctx, directory_principal(directory), user_id)


def directory_users(ctx: CoreContext, directory: Directory, spec: ListSpec) -> Page[User]:
    """A page of the tenant's users; ``spec.filter`` must hold to the directory's provider (the
    SCIM layer conjoins it with the directory's own filter). A page holding another provider's
    user is a programming error, refused rather than shown."""
    page = users.list_tenant_users(ctx, directory_principal(directory), directory.tenant.id, spec)
    if any(user.identity_provider_id != directory.provider.id for user in page.items):
        raise RuntimeError("a directory's listing must be filtered to its identity provider")
    return page
