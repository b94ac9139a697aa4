"""Token and userinfo claims, OpenID Connect Core 1.0 §2, §5.1, §5.4
(https://openid.net/specs/openid-connect-core-1_0.html), in the shape Wristband's SDKs read:
``sub``, ``tnt_id``, ``app_id``, ``idp_name`` always; the rest by scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tenantry.core.ids import new_id
from tenantry.core.roles.model import Role
from tenantry.core.users.model import User
from tenantry.protocols.oidc.token_hash import half_hash


def base_claims(user: User) -> dict[str, Any]:
    return {
        "sub": user.id,
        "tnt_id": user.tenant_id,
        "app_id": user.application_id,
        "idp_name": user.identity_provider_name,
    }


def access_token_claims(
    *, issuer: str, user: User, client_id: str, scope: Sequence[str], now: int, lifetime: int, auth_time: int, sid: str
) -> dict[str, Any]:
    return {
        "iss": issuer,
        **base_claims(user),
        "aud": [issuer],
        "client_id": client_id,
        "scope": " ".join(scope),
        "auth_time": auth_time,
        "sid": sid,
        "iat": now,
        "exp": now + lifetime,
        "jti": new_id(),
    }


def scoped_claims(user: User, scope: Sequence[str], roles: Sequence[Role]) -> dict[str, Any]:
    """The claims userinfo (and the ID token) carry for ``scope``."""
    claims = base_claims(user)
    profile = user.profile
    if "profile" in scope:
        for claim, field in (
            ("name", "fullName"),
            ("given_name", "givenName"),
            ("family_name", "familyName"),
            ("middle_name", "middleName"),
            ("nickname", "nickname"),
            ("preferred_username", "username"),
            ("picture", "pictureUrl"),
            ("gender", "gender"),
            ("birthdate", "birthdate"),
            ("zoneinfo", "timeZone"),
            ("locale", "locale"),
        ):
            if profile.get(field) is not None:
                claims[claim] = profile[field]
        claims["updated_at"] = int(user.metadata.last_modified_time.timestamp())
    if "email" in scope:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "phone" in scope and profile.get("phoneNumber"):
        claims["phone_number"] = profile["phoneNumber"]
        claims["phone_number_verified"] = False
    if "roles" in scope:
        claims["roles"] = [{"id": r.id, "name": r.name, "displayName": r.display_name} for r in roles]
    return claims


def id_token_claims(
    *,
    issuer: str,
    user: User,
    client_id: str,
    scope: Sequence[str],
    roles: Sequence[Role],
    now: int,
    lifetime: int,
    auth_time: int,
    nonce: str | None,
    access_token: str,
) -> dict[str, Any]:
    claims = {
        **scoped_claims(user, scope, roles),
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": auth_time,
        "at_hash": half_hash(access_token, "RS256"),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return claims
