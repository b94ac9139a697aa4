"""Ending every hosted-login session and refresh token of a user (an administrator's action)."""

from __future__ import annotations

from tenantry.core.access import Principal, require
from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound


def revoke_user_sessions(ctx: CoreContext, actor: Principal, user_id: str) -> tuple[int, int]:
    """(sessions ended, refresh tokens revoked). Access tokens already issued live out their
    short lifetime."""
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        user = uow.users.get(user_id)
        if user is None or not actor.allows("user:read", tenant_id=user.tenant_id, user_id=user.id):
            raise NotFound("user", user_id)
        require(actor, "auth-session:delete", tenant_id=user.tenant_id, user_id=user.id)
        require(actor, "refresh-token:revoke", tenant_id=user.tenant_id, user_id=user.id)
        sessions = uow.auth_sessions.delete_for_user(user.id)
        tokens = uow.refresh_tokens.revoke_for_user(user.id, now)
        record(
            uow,
            ctx,
            "user.sessions_revoked",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=user.tenant_id,
            target=("user", user.id),
            details={"sessions": sessions, "refreshTokens": tokens},
        )
        uow.commit()
    return sessions, tokens
