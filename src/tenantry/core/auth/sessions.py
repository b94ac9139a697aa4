"""Auth sessions: the opaque, database-backed cookie of the hosted login, one per tenant host."""

from __future__ import annotations

from datetime import timedelta

from tenantry.core.auth.model import AuthSession, new_token, token_hash
from tenantry.core.context import CoreContext
from tenantry.core.ids import new_id
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus

TOUCH_AFTER_SECONDS = 60


def start_session(ctx: CoreContext, tenant: Tenant, user: User) -> tuple[str, AuthSession]:
    """A new session for ``user``; returns the cookie value (shown once) and the session."""
    now = ctx.clock.now()
    token = new_token()
    session = AuthSession(
        id=new_id(),
        application_id=tenant.application_id,
        tenant_id=tenant.id,
        user_id=user.id,
        auth_time=now,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=ctx.auth.session_absolute_seconds),
    )
    with ctx.uow(tenant.application_id, write=True) as uow:
        uow.auth_sessions.add(session, token_hash(token))
        uow.commit()
    return token, session


def current_session(ctx: CoreContext, tenant: Tenant, token: str | None) -> tuple[AuthSession, User] | None:
    """The live session behind a cookie value, with its still-active user; ``None`` otherwise."""
    if not token or len(token) > 100:
        return None
    now = ctx.clock.now()
    with ctx.uow(tenant.application_id) as uow:
        session = uow.auth_sessions.get_by_token_hash(token_hash(token))
        if session is None or session.tenant_id != tenant.id:
            return None
        user = uow.users.get(session.user_id)
    if user is None or user.status is not UserStatus.ACTIVE or not session.is_live(now, ctx.auth.session_idle_seconds):
        return None
    if (now - session.last_seen_at).total_seconds() > TOUCH_AFTER_SECONDS:
        with ctx.uow(tenant.application_id, write=True) as uow:
            uow.auth_sessions.touch(session.id, now)
            uow.commit()
    return session, user


def end_session(ctx: CoreContext, tenant: Tenant, token: str | None) -> None:
    """Log out: delete the session and revoke the refresh tokens issued under it."""
    found = current_session(ctx, tenant, token)
    if found is None:
        return
    session, _ = found
    with ctx.uow(tenant.application_id, write=True) as uow:
        uow.auth_sessions.delete(session.id)
        uow.refresh_tokens.revoke_for_session(session.id, ctx.clock.now())
        uow.commit()
