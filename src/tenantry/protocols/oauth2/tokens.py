"""Access-token claims (RFC 9068, JWT profile for OAuth 2.0 access tokens,
https://www.rfc-editor.org/rfc/rfc9068) in Wristband's shape: ``iss`` is ``https://{vanity}``,
plus ``app_id`` and, for tenant-owned subjects, ``tnt_id``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantry.core.ids import new_id


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"

    def as_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


def client_credentials_claims(
    *, issuer: str, application_id: str, client_id: str, tenant_id: str | None, now: int, lifetime: int
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": client_id,
        "aud": [issuer],
        "client_id": client_id,
        "app_id": application_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": new_id(),
    }
    if tenant_id is not None:
        claims["tnt_id"] = tenant_id
    return claims
