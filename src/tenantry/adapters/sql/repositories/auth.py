"""Auth sessions, authorization codes and refresh tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.repositories.base import Repository, aware, lookupable
from tenantry.core.auth.model import AuthorizationCode, AuthSession, EmailCode, RefreshToken

S = t.auth_sessions
C = t.authorization_codes
R = t.refresh_tokens


def _session(row: Any) -> AuthSession:
    return AuthSession(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        auth_time=aware(row.auth_time),  # type: ignore[arg-type]
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        last_seen_at=aware(row.last_seen_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
    )


# The statements of every sign-in, built once and run on the driver's cursor (``direct.py``):
# building a SQLAlchemy construct per call cost more than running it on SQLite.
INSERT_SESSION = DirectStatement(insert(S))
SESSION_BY_HASH = DirectStatement(
    select(S).where((S.c.token_hash == bindparam("hash")) & (S.c.application_id == bindparam("app")))
)
TOUCH_SESSION = DirectStatement(
    update(S).where(S.c.id == bindparam("session_id")).values(last_seen_at=bindparam("now"))
)


class SqlAuthSessionRepository(Repository):
    def add(self, session: AuthSession, token_hash: str) -> None:
        row = {
            "id": session.id,
            "token_hash": token_hash,
            "application_id": self.application_id,
            "tenant_id": session.tenant_id,
            "user_id": session.user_id,
            "auth_time": session.auth_time,
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
            "expires_at": session.expires_at,
        }
        self.write_direct(INSERT_SESSION, row)

    def get_by_token_hash(self, token_hash: str) -> AuthSession | None:
        rows = SESSION_BY_HASH.execute(self.connection, {"hash": token_hash, "app": self.application_id})
        return _session(rows[0]) if rows else None

    def touch(self, session_id: str, now: datetime) -> None:
        TOUCH_SESSION.execute(self.connection, {"session_id": session_id, "now": now})

    def delete(self, session_id: str) -> None:
        self.connection.execute(delete(S).where((S.c.id == session_id) & (S.c.application_id == self.application_id)))

    def delete_for_user(self, user_id: str) -> int:
        mine = (S.c.user_id == user_id) & (S.c.application_id == self.application_id)
        return self.connection.execute(delete(S).where(mine)).rowcount


def _code(row: Any) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=row.code_hash,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        client_id=row.client_id,
        session_id=row.session_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        auth_time=aware(row.auth_time),  # type: ignore[arg-type]
        family_id=row.family_id,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
        used_at=aware(row.used_at),
    )


INSERT_CODE = DirectStatement(insert(C))
_MY_CODE = (C.c.code_hash == bindparam("hash")) & (C.c.application_id == bindparam("app"))
# The conditional UPDATE is the one-time guarantee: of two racing redemptions only one sees
# rowcount 1, on SQLite and PostgreSQL alike.
CONSUME_CODE = DirectStatement(
    update(C).where(_MY_CODE & C.c.used_at.is_(None)).values(used_at=bindparam("now")).returning(C)
)
CODE_BY_HASH = DirectStatement(select(C).where(_MY_CODE))


class SqlAuthorizationCodeRepository(Repository):
    def add(self, code: AuthorizationCode) -> None:
        row = {
            "code_hash": code.code_hash,
            "application_id": self.application_id,
            "tenant_id": code.tenant_id,
            "user_id": code.user_id,
            "client_id": code.client_id,
            "session_id": code.session_id,
            "redirect_uri": code.redirect_uri,
            "scope": code.scope,
            "nonce": code.nonce,
            "code_challenge": code.code_challenge,
            "auth_time": code.auth_time,
            "family_id": code.family_id,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
        }
        self.write_direct(INSERT_CODE, row)

    def consume(self, code_hash: str, now: datetime) -> tuple[AuthorizationCode | None, bool]:
        if not lookupable(code_hash):
            return None, False
        mine = {"hash": code_hash, "app": self.application_id}
        consumed = CONSUME_CODE.execute(self.connection, {**mine, "now": now})
        if consumed:
            return _code(consumed[0]), True
        # Not consumed now: unknown, or redeemed before (a replay the caller must act on).
        rows = CODE_BY_HASH.execute(self.connection, mine)
        return (_code(rows[0]) if rows else None), False


def _refresh(row: Any) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        token_hash=row.token_hash,
        family_id=row.family_id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        client_id=row.client_id,
        session_id=row.session_id,
        scope=row.scope,
        auth_time=aware(row.auth_time),  # type: ignore[arg-type]
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
        used_at=aware(row.used_at),
        revoked_at=aware(row.revoked_at),
    )


# The refresh grant's statements, built once and run on the driver's cursor.
INSERT_REFRESH = DirectStatement(insert(R))
REFRESH_BY_HASH = DirectStatement(
    select(R).where((R.c.token_hash == bindparam("hash")) & (R.c.application_id == bindparam("app")))
)
MARK_USED = DirectStatement(
    update(R)
    .where((R.c.id == bindparam("token_id")) & R.c.used_at.is_(None) & R.c.revoked_at.is_(None))
    .values(used_at=bindparam("now"))
)


class SqlRefreshTokenRepository(Repository):
    def add(self, token: RefreshToken) -> None:
        row = {
            "id": token.id,
            "token_hash": token.token_hash,
            "family_id": token.family_id,
            "application_id": self.application_id,
            "tenant_id": token.tenant_id,
            "user_id": token.user_id,
            "client_id": token.client_id,
            "session_id": token.session_id,
            "scope": token.scope,
            "auth_time": token.auth_time,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
        }
        self.write_direct(INSERT_REFRESH, row)

    def get_by_token_hash(self, token_hash: str) -> RefreshToken | None:
        rows = REFRESH_BY_HASH.execute(self.connection, {"hash": token_hash, "app": self.application_id})
        return _refresh(rows[0]) if rows else None

    def get(self, token_id: str) -> RefreshToken | None:
        if not lookupable(token_id):
            return None
        query = select(R).where((R.c.id == token_id) & (R.c.application_id == self.application_id))
        row = self.connection.execute(query).first()
        return _refresh(row) if row else None

    def mark_used(self, token_id: str, now: datetime) -> bool:
        return MARK_USED.count(self.connection, {"token_id": token_id, "now": now}) == 1

    def revoke(self, token_id: str, now: datetime) -> None:
        self.connection.execute(update(R).where((R.c.id == token_id) & R.c.revoked_at.is_(None)).values(revoked_at=now))

    def revoke_family(self, family_id: str, now: datetime) -> None:
        query = update(R).where((R.c.family_id == family_id) & R.c.revoked_at.is_(None)).values(revoked_at=now)
        self.connection.execute(query)

    def revoke_for_user(self, user_id: str, now: datetime) -> int:
        mine = (R.c.user_id == user_id) & (R.c.application_id == self.application_id) & R.c.revoked_at.is_(None)
        return self.connection.execute(update(R).where(mine).values(revoked_at=now)).rowcount

    def revoke_for_session(self, session_id: str, now: datetime) -> int:
        mine = (R.c.session_id == session_id) & R.c.revoked_at.is_(None)
        return self.connection.execute(update(R).where(mine).values(revoked_at=now)).rowcount

    def family_revoked(self, family_id: str) -> bool:
        query = select(R.c.id).where((R.c.family_id == family_id) & R.c.revoked_at.is_not(None)).limit(1)
        return self.connection.execute(query).first() is not None


E = t.email_codes


def _email_code(row: Any) -> EmailCode:
    return EmailCode(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        kind=row.kind,
        code_hash=row.code_hash,
        otp_hash=row.otp_hash,
        email=row.email,
        data=dict(row.data),
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
        attempts=row.attempts,
        used_at=aware(row.used_at),
    )


# Every signup, activation and invitation email sends a code, and most come back: built once too.
INSERT_EMAIL_CODE = DirectStatement(insert(E))
EMAIL_CODE_BY_ID = DirectStatement(
    select(E).where((E.c.id == bindparam("id")) & (E.c.application_id == bindparam("app")))
)
EMAIL_CODE_BY_HASH = DirectStatement(
    select(E).where((E.c.code_hash == bindparam("hash")) & (E.c.application_id == bindparam("app")))
)
CONSUME_EMAIL_CODE = DirectStatement(
    update(E).where((E.c.id == bindparam("id")) & E.c.used_at.is_(None)).values(used_at=bindparam("now"))
)
INVALIDATE_EMAIL_CODES = DirectStatement(
    update(E)
    .where((E.c.user_id == bindparam("user_id")) & (E.c.kind == bindparam("kind")) & E.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)


class SqlEmailCodeRepository(Repository):
    def add(self, code: EmailCode) -> None:
        row = {
            "id": code.id,
            "application_id": self.application_id,
            "tenant_id": code.tenant_id,
            "user_id": code.user_id,
            "kind": code.kind,
            "code_hash": code.code_hash,
            "otp_hash": code.otp_hash,
            "email": code.email,
            "data": code.data,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
        }
        self.write_direct(INSERT_EMAIL_CODE, row)

    def get(self, code_id: str) -> EmailCode | None:
        if not lookupable(code_id):
            return None
        rows = EMAIL_CODE_BY_ID.execute(self.connection, {"id": code_id, "app": self.application_id})
        return _email_code(rows[0]) if rows else None

    def get_by_code_hash(self, code_hash: str) -> EmailCode | None:
        rows = EMAIL_CODE_BY_HASH.execute(self.connection, {"hash": code_hash, "app": self.application_id})
        return _email_code(rows[0]) if rows else None

    def latest_for_user(self, user_id: str, kind: str) -> EmailCode | None:
        query = (
            select(E)
            .where((E.c.user_id == user_id) & (E.c.kind == kind) & (E.c.application_id == self.application_id))
            .order_by(E.c.created_at.desc())
            .limit(1)
        )
        row = self.connection.execute(query).first()
        return _email_code(row) if row else None

    def consume(self, code_id: str, now: datetime) -> bool:
        return CONSUME_EMAIL_CODE.count(self.connection, {"id": code_id, "now": now}) == 1

    def count_attempt(self, code_id: str) -> int:
        self.connection.execute(update(E).where(E.c.id == code_id).values(attempts=E.c.attempts + 1))
        return int(self.connection.execute(select(E.c.attempts).where(E.c.id == code_id)).scalar_one())

    def invalidate_for_user(self, user_id: str, kind: str, now: datetime) -> None:
        INVALIDATE_EMAIL_CODES.execute(self.connection, {"user_id": user_id, "kind": kind, "now": now})
