"""OAuth2 clients of an application (optionally owned by one tenant)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum

from tenantry.core.model import EntityMetadata


class ClientType(StrEnum):
    BACKEND_SERVER = "BACKEND_SERVER"
    SPA = "SPA"
    NATIVE = "NATIVE"
    MACHINE_TO_MACHINE = "MACHINE_TO_MACHINE"

    @property
    def is_confidential(self) -> bool:
        return self in (ClientType.BACKEND_SERVER, ClientType.MACHINE_TO_MACHINE)

    @property
    def grant_types(self) -> tuple[str, ...]:
        if self is ClientType.MACHINE_TO_MACHINE:
            return ("client_credentials",)
        return ("authorization_code", "refresh_token")


def hash_secret(secret: str) -> str:
    """Client secrets are 48 random characters (~285 bits): a plain SHA-256 is enough at rest
    and keeps the token endpoint fast (see docs/decisions.md)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Client:
    id: str
    application_id: str
    tenant_id: str | None
    name: str
    type: ClientType
    secret_hash: str | None
    redirect_uris: list[str]
    login_url: str | None
    metadata: EntityMetadata
    role_ids: list[str] = field(default_factory=list)

    def verify_secret(self, secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))
