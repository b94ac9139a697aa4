"""A dashboard administrator and one signed-in dashboard session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class Admin:
    id: str
    application_id: str
    tenant_id: str | None  # None: an application administrator (every tenant)
    email: str
    password_hash: str
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    totp_secret: str | None = None  # the stored TOTP state, see ``tenantry.core.admins.totp``

    @property
    def is_application_admin(self) -> bool:
        return self.tenant_id is None


@dataclass(frozen=True, slots=True)
class AdminSession:
    id: str
    admin_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
