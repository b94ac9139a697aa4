"""Auth sessions: the opaque, database-backed cookie of the hosted login, one per tenant host."""

from __future__ import annotations

from datetime import timedelta

from tenantry.core.auth.model import AuthSession, EmailCode, new_token, token_hash
from tenantry.core.context import CoreContext
from tenantry.core.ids import new_id
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus

TOUCH_AFTER_SECONDS = 60


def new_session(ctx: CoreContext, tenant: Tenant, user: User) -> tuple[str, AuthSession]:
    """A session for ``user``, not yet stored: the cookie value (shown once) and the session."""
    now = ctx.clock.now()
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
    return new_token(), session


def store_session(ctx: CoreContext, session: AuthSession, token: str) -> None:
    with ctx.uow(session.application_id, write=True) as uow:
        uow.auth_sessions.add(session, token_hash(token))
        uow.commit()


def start_session(ctx: CoreContext, tenant: Tenant, user: User) -> tuple[str, AuthSession]:
    """A new, stored session for ``user``; returns the cookie value (shown once) and the session."""
    token, session = new_session(ctx, tenant, user)
    store_session(ctx, session, token)
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


HANDOFF = "session_handoff"
HANDOFF_SECONDS = 300


def issue_handoff(uow: UnitOfWork, ctx: CoreContext, tenant: Tenant, user: User, redirect_to: str) -> str:
    """A one-time code that starts a session on the tenant host when the browser brings it
    there (``/api/v1/auth-sessions/create``): pages on the vanity domain cannot set the tenant
    host's cookie themselves."""
    code = new_token()
    now = ctx.clock.now()
    uow.email_codes.add(
        EmailCode(
            id=new_id(),
            application_id=tenant.application_id,
            tenant_id=tenant.id,
            user_id=user.id,
            kind=HANDOFF,
            code_hash=token_hash(code),
            otp_hash=None,
            email=user.email,
            data={"redirect": redirect_to},
            created_at=now,
            expires_at=now + timedelta(seconds=HANDOFF_SECONDS),
        )
    )
    return code


def redeem_handoff(ctx: CoreContext, tenant: Tenant, code: str) -> tuple[str, AuthSession, str] | None:
    """(cookie value, session, where to go) for a live handoff code of this tenant."""
    now = ctx.clock.now()
    with ctx.uow(tenant.application_id, write=True) as uow:
        stored = uow.email_codes.get_by_code_hash(token_hash(code)) if code and len(code) <= 100 else None
        if stored is None or stored.kind != HANDOFF or stored.tenant_id != tenant.id or not stored.usable(now):
            return None
        if not uow.email_codes.consume(stored.id, now):
            return None
        user = uow.users.get(stored.user_id or "")
        uow.commit()
    if user is None or user.status is not UserStatus.ACTIVE:
        return None
    token, session = start_session(ctx, tenant, user)
    return token, session, stored.data.get("redirect", "")
