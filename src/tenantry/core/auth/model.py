"""Auth sessions (the hosted login's cookie), authorization codes and refresh tokens.

Secrets (cookie values, codes, refresh tokens) are random strings handed out once; only their
SHA-256 is stored, so a database leak does not hand out sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class AuthSession:
    id: str
    application_id: str
    tenant_id: str
    user_id: str
    auth_time: datetime
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime, idle_seconds: int) -> bool:
        return now < self.expires_at and (now - self.last_seen_at).total_seconds() < idle_seconds


@dataclass(slots=True)
class AuthorizationCode:
    code_hash: str
    application_id: str
    tenant_id: str
    user_id: str
    client_id: str
    session_id: str | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    auth_time: datetime
    family_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(slots=True)
class RefreshToken:
    id: str
    token_hash: str
    family_id: str
    application_id: str
    tenant_id: str
    user_id: str
    client_id: str
    session_id: str | None
    scope: str
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(slots=True)
class EmailCode:
    """A one-time code sent by email: a link token and, for activation by code, a short OTP."""

    id: str
    application_id: str
    tenant_id: str | None
    user_id: str | None
    kind: str
    code_hash: str
    otp_hash: str | None
    email: str
    data: dict[str, str]
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
