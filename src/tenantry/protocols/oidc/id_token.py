"""ID token checks of OpenID Connect Core 1.0 §3.1.3.7 for a relying party.

The header is read before any key is chosen so that only asymmetric algorithms ever reach verification:
``alg=none`` and every HS* are refused outright (an attacker who signs HS256 with the provider's public key as
the HMAC secret gets nowhere), and a key is only used with an algorithm of its own type."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from tenantry.protocols.oidc.jwks_cache import SigningKey
from tenantry.protocols.oidc.rp_model import OidcError
from tenantry.protocols.oidc.token_hash import half_hash

ALLOWED_ALGORITHMS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "ES256": "EC",
    "ES384": "EC",
}
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384"}
MAX_ID_TOKEN_CHARS = 64 * 1024


def b64url_decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as error:
        raise OidcError("id_token malformed") from error


def read_header(id_token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, refusing encrypted tokens and disallowed algorithms."""
    if len(id_token) > MAX_ID_TOKEN_CHARS:
        raise OidcError("id_token too large")
    parts = id_token.split(".")
    if len(parts) == 5:
        raise OidcError("encrypted id_tokens are not supported")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise OidcError("id_token malformed")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as error:
        raise OidcError("id_token malformed") from error
    if not isinstance(header, dict):
        raise OidcError("id_token malformed")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise OidcError("id_token alg not allowed")
    if "crit" in header:
        raise OidcError("id_token has unsupported critical headers")
    if not parts[2]:
        raise OidcError("id_token signature missing")
    return header


def key_fits(key: SigningKey, alg: str, kid: str | None) -> bool:
    if key.key_type != ALLOWED_ALGORITHMS[alg]:
        return False
    if kid is not None and key.kid != kid:
        return False
    key_alg = key.get("alg")
    if key_alg is not None and key_alg != alg:
        return False
    curve = _EC_CURVES.get(alg)
    return curve is None or key.get("crv") == curve


def verify_signature(id_token: str, alg: str, candidates: list[SigningKey]) -> dict[str, Any]:
    """The claims, if one of ``candidates`` verifies the signature under ``alg`` (and only ``alg``)."""
    for key in candidates:
        try:
            signed = jws.deserialize_compact(id_token, key, algorithms=[alg])
        except JoseError:
            continue
        try:
            claims = json.loads(signed.payload)
        except (TypeError, ValueError) as error:
            raise OidcError("id_token payload is not JSON") from error
        if not isinstance(claims, dict):
            raise OidcError("id_token payload is not a JSON object")
        return claims
    raise OidcError("id_token signature invalid")


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OidcError(f"id_token {name} missing or invalid")
    return float(value)


def check_claims(claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str, now: float, leeway: int) -> None:
    if claims.get("iss") != issuer:
        raise OidcError("id_token issuer mismatch")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise OidcError("id_token sub missing")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise OidcError("id_token aud invalid")
    if client_id not in audiences:
        raise OidcError("id_token audience mismatch")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise OidcError("id_token azp missing for several audiences")
    if azp is not None and azp != client_id:
        raise OidcError("id_token azp mismatch")
    if _number(claims, "exp") + leeway <= now:
        raise OidcError("id_token expired")
    if _number(claims, "iat") - leeway > now:
        raise OidcError("id_token issued in the future")
    if "nbf" in claims and _number(claims, "nbf") - leeway > now:
        raise OidcError("id_token not yet valid")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str):
        raise OidcError("id_token nonce missing")
    if not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
        raise OidcError("id_token nonce mismatch")


def check_at_hash(claims: dict[str, Any], alg: str, access_token: str | None) -> None:
    """``at_hash`` (Core §3.1.3.8 / §3.2.2.9) when both it and the access token are at hand."""
    at_hash = claims.get("at_hash")
    if at_hash is None or access_token is None:
        return
    if not isinstance(at_hash, str):
        raise OidcError("id_token at_hash invalid")
    expected = half_hash(access_token, alg).encode("ascii")
    if not hmac.compare_digest(expected, at_hash.encode("ascii", "replace")):
        raise OidcError("id_token at_hash mismatch")
