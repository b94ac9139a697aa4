"""Authorization codes and refresh tokens: issuing, one-time redemption, rotation, revocation.

- A code is redeemed once. Redeeming it again revokes every token issued from it (RFC 6749
  §4.1.2, §10.5): the family of refresh tokens it started, and so the access it granted.
- A refresh token is used once; its successor joins the same family. Presenting a used token
  again is treated as theft (OAuth 2.0 Security BCP §4.14.2): the whole family is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tenantry.core.auth.model import AuthorizationCode, AuthSession, RefreshToken, new_token, token_hash
from tenantry.core.clients.model import Client
from tenantry.core.context import CoreContext
from tenantry.core.errors import TenantryError
from tenantry.core.ids import new_id
from tenantry.core.ports import UnitOfWork
from tenantry.core.roles.model import Role
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus


class InvalidGrant(TenantryError):
    code = "invalid_grant"
    default_message = "The grant is invalid, expired, revoked or was issued to another client"


@dataclass(frozen=True, slots=True)
class IssueCode:
    tenant: Tenant
    user: User
    client_id: str
    session_id: str | None
    redirect_uri: str
    scope: tuple[str, ...]
    nonce: str | None
    code_challenge: str
    auth_time_epoch: int
    # A session started by this very sign-in, stored in the code's transaction: (session, token hash).
    new_session: tuple[AuthSession, str] | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """What the token endpoint needs to mint tokens for a user."""

    user: User
    tenant: Tenant
    roles: list[Role]
    client_id: str
    scope: tuple[str, ...]
    nonce: str | None
    auth_time_epoch: int
    family_id: str
    refresh_token: str
    session_id: str | None


def issue_code(ctx: CoreContext, cmd: IssueCode) -> str:
    now = ctx.clock.now()
    code = new_token()
    with ctx.uow(cmd.tenant.application_id, write=True) as uow:
        if cmd.new_session is not None:
            uow.auth_sessions.add(*cmd.new_session)
        uow.authorization_codes.add(
            AuthorizationCode(
                code_hash=token_hash(code),
                application_id=cmd.tenant.application_id,
                tenant_id=cmd.tenant.id,
                user_id=cmd.user.id,
                client_id=cmd.client_id,
                session_id=cmd.session_id,
                redirect_uri=cmd.redirect_uri,
                scope=" ".join(cmd.scope),
                nonce=cmd.nonce,
                code_challenge=cmd.code_challenge,
                auth_time=now.fromtimestamp(cmd.auth_time_epoch, now.tzinfo),
                family_id=new_id(),
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.auth.code_seconds),
            )
        )
        uow.commit()
    return code


def _active_user_and_tenant(uow: UnitOfWork, user_id: str, tenant_id: str) -> tuple[User, Tenant]:
    found = uow.users.get_with_tenant(user_id, tenant_id)
    if found is None or found[0].status is not UserStatus.ACTIVE or not found[1].is_usable:
        raise InvalidGrant("The user or tenant of this grant is no longer active")
    return found


def _new_refresh(
    uow: UnitOfWork,
    ctx: CoreContext,
    *,
    user: User,
    client_id: str,
    scope: str,
    family_id: str,
    session_id: str | None,
    auth_time_epoch: int,
) -> str:
    now = ctx.clock.now()
    token = new_token()
    uow.refresh_tokens.add(
        RefreshToken(
            id=new_id(),
            token_hash=token_hash(token),
            family_id=family_id,
            application_id=user.application_id,
            tenant_id=user.tenant_id,
            user_id=user.id,
            client_id=client_id,
            session_id=session_id,
            scope=scope,
            auth_time=now.fromtimestamp(auth_time_epoch, now.tzinfo),
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.auth.refresh_token_seconds),
        )
    )
    return token


def _successor(
    uow: UnitOfWork,
    ctx: CoreContext,
    client: Client,
    stored: AuthorizationCode | RefreshToken,
    user: User,
    tenant: Tenant,
    roles: list[Role],
    *,
    nonce: str | None,
) -> Grant:
    """A fresh refresh token in the grant's family, and what the token endpoint needs."""
    auth_time = int(stored.auth_time.timestamp())
    refresh_token = _new_refresh(
        uow,
        ctx,
        user=user,
        client_id=client.id,
        scope=stored.scope,
        family_id=stored.family_id,
        session_id=stored.session_id,
        auth_time_epoch=auth_time,
    )
    scope = tuple(stored.scope.split())
    return Grant(
        user, tenant, roles, client.id, scope, nonce, auth_time, stored.family_id, refresh_token, stored.session_id
    )


def _grant(
    uow: UnitOfWork, ctx: CoreContext, client: Client, stored: AuthorizationCode | RefreshToken, *, nonce: str | None
) -> Grant:
    user, tenant = _active_user_and_tenant(uow, stored.user_id, stored.tenant_id)
    roles = uow.roles.roles_of_users([user.id]).get(user.id, [])
    return _successor(uow, ctx, client, stored, user, tenant, roles, nonce=nonce)


def exchange_code(
    ctx: CoreContext, client: Client, code: str, redirect_uri: str | None, verifier_matches: Callable[[str], bool]
) -> Grant:
    """Redeem ``code`` for ``client``. ``verifier_matches(challenge) -> bool`` checks PKCE (the
    S256 transform is protocol code, kept out of the core)."""
    now = ctx.clock.now()
    with ctx.uow(client.application_id, write=True) as uow:
        stored, consumed = uow.authorization_codes.consume(token_hash(code), now)
        if stored is None:
            raise InvalidGrant("Unknown authorization code")
        if not consumed:
            uow.refresh_tokens.revoke_family(stored.family_id, now)
            uow.commit()
            raise InvalidGrant("The authorization code was already used; its tokens are revoked")
        if stored.client_id != client.id or stored.expires_at <= now:
            uow.commit()
            raise InvalidGrant("The authorization code is expired or was issued to another client")
        if redirect_uri != stored.redirect_uri:
            uow.commit()
            raise InvalidGrant("redirect_uri does not match the authorization request")
        if stored.code_challenge is None or not verifier_matches(stored.code_challenge):
            uow.commit()
            raise InvalidGrant("PKCE verification failed")
        grant = _grant(uow, ctx, client, stored, nonce=stored.nonce)
        uow.commit()
    return grant


def refresh(ctx: CoreContext, client: Client, token: str) -> Grant:
    """Rotate a refresh token. The reads (token, user, tenant, roles) run before the write
    transaction, which then holds only the conditional ``mark_used`` and the successor's insert:
    a token revoked or used in between fails ``mark_used`` and nothing is issued."""
    now = ctx.clock.now()
    with ctx.uow(client.application_id) as uow:
        stored = uow.refresh_tokens.get_by_token_hash(token_hash(token)) if len(token) <= 200 else None
        if stored is None or stored.client_id != client.id:
            raise InvalidGrant("Unknown refresh token")
        if stored.revoked_at is not None or stored.expires_at <= now:
            raise InvalidGrant("The refresh token is expired or revoked")
        reused = stored.used_at is not None
        if not reused:
            user, tenant = _active_user_and_tenant(uow, stored.user_id, stored.tenant_id)
            roles = uow.roles.roles_of_users([user.id]).get(user.id, [])
    with ctx.uow(client.application_id, write=True) as uow:
        if reused or not uow.refresh_tokens.mark_used(stored.id, now):
            uow.refresh_tokens.revoke_family(stored.family_id, now)
            uow.commit()
            raise InvalidGrant("The refresh token was already used or revoked; its family is revoked")
        grant = _successor(uow, ctx, client, stored, user, tenant, roles, nonce=None)
        uow.commit()
    return grant


def revoke_refresh_token(ctx: CoreContext, client: Client, token: str) -> None:
    """RFC 7009: revoking an unknown or foreign token is not an error (nothing is revealed)."""
    now = ctx.clock.now()
    with ctx.uow(client.application_id, write=True) as uow:
        stored = uow.refresh_tokens.get_by_token_hash(token_hash(token)) if len(token) <= 200 else None
        if stored is not None and stored.client_id == client.id:
            uow.refresh_tokens.revoke_family(stored.family_id, now)
            uow.commit()


def grant_revoked(ctx: CoreContext, application_id: str, family_id: str) -> bool:
    with ctx.uow(application_id) as uow:
        return uow.refresh_tokens.family_revoked(family_id)
