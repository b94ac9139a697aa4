"""OpenID Connect relying party: Tenantry signing users in through an external OpenID provider (Okta, Entra ID,
Google Workspace, any compliant IdP). Authorization code flow with state, nonce and PKCE (S256); the ID token
is validated per OpenID Connect Core 1.0 §3.1.3.7 (see ``id_token.py``)."""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tenantry.protocols.oauth2.pkce import s256_challenge
from tenantry.protocols.oidc.id_token import check_at_hash, check_claims, key_fits, read_header, verify_signature
from tenantry.protocols.oidc.jwks_cache import JwksCache
from tenantry.protocols.oidc.rp_model import OidcEndpoints, OidcError, http_error
from tenantry.protocols.oidc.urls import require_secure_url, split_discovery_url

if TYPE_CHECKING:
    import httpx

__all__ = ["OidcEndpoints", "OidcError", "OidcRelyingParty", "pkce_pair"]

MAX_DOCUMENT_BYTES = 512 * 1024
_SAFE_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


@dataclass(frozen=True)
class _CachedEndpoints:
    endpoints: OidcEndpoints
    fetched_at: float


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise OidcError(f"{what} too large")
    try:
        document = response.json()
    except ValueError as error:
        raise OidcError(f"{what} is not JSON") from error
    if not isinstance(document, dict):
        raise OidcError(f"{what} is not a JSON object")
    return document


def _endpoints_from(document: dict[str, Any], issuer: str) -> OidcEndpoints:
    methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise OidcError("discovery token_endpoint_auth_methods_supported invalid")
    userinfo = document.get("userinfo_endpoint")
    return OidcEndpoints(
        issuer=issuer,
        authorization_endpoint=require_secure_url(document.get("authorization_endpoint"), "authorization_endpoint"),
        token_endpoint=require_secure_url(document.get("token_endpoint"), "token_endpoint"),
        jwks_uri=require_secure_url(document.get("jwks_uri"), "jwks_uri"),
        userinfo_endpoint=None if userinfo is None else require_secure_url(userinfo, "userinfo_endpoint"),
        token_endpoint_auth_methods=tuple(methods),
    )


class OidcRelyingParty:
    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient],
        *,
        clock: Callable[[], float] = time.time,
        leeway_seconds: int = 120,
        metadata_ttl_seconds: int = 3600,
        jwks_refresh_interval_seconds: int = 60,
    ) -> None:
        self._new_http = http
        self._http: httpx.AsyncClient | None = None
        self._clock = clock
        self._leeway = leeway_seconds
        self._metadata_ttl = metadata_ttl_seconds
        self._discovered: dict[str, _CachedEndpoints] = {}
        self._jwks = JwksCache(
            self.http,
            clock=clock,
            ttl_seconds=metadata_ttl_seconds,
            refresh_interval_seconds=jwks_refresh_interval_seconds,
        )

    def http(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use from the factory given."""
        if self._http is None:
            self._http = self._new_http()
        return self._http

    async def discover(self, issuer: str) -> OidcEndpoints:
        """The provider's endpoints from ``{issuer}/.well-known/openid-configuration`` (a full discovery URL is
        accepted too), cached for the metadata TTL. The document's ``issuer`` must be the configured one."""
        expected_issuer, url = split_discovery_url(issuer)
        require_secure_url(expected_issuer, "issuer")
        cached = self._discovered.get(url)
        if cached is not None and self._clock() - cached.fetched_at < self._metadata_ttl:
            return cached.endpoints
        try:
            response = await self.http().get(url, headers={"Accept": "application/json"})
        except http_error() as error:
            raise OidcError("discovery endpoint unreachable") from error
        if response.status_code != 200:
            raise OidcError(f"discovery endpoint answered {response.status_code}")
        document = _json_object(response, "discovery document")
        # Discovery §4.3: the issuer is identical to the URL the document was fetched under; a discovery URL
        # given in full has lost any trailing slash of its issuer, so that one form is accepted as well.
        accepted = {expected_issuer}
        if url == issuer.strip():
            accepted.add(expected_issuer + "/")
        actual_issuer = document.get("issuer")
        if not isinstance(actual_issuer, str) or actual_issuer not in accepted:
            raise OidcError("discovery issuer mismatch")
        endpoints = _endpoints_from(document, actual_issuer)
        self._discovered[url] = _CachedEndpoints(endpoints, self._clock())
        return endpoints

    def authorization_url(
        self,
        endpoints: OidcEndpoints,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        nonce: str,
        code_challenge: str,
        login_hint: str | None = None,
    ) -> str:
        """The authorization request (Core §3.1.2.1) as a URL to redirect the browser to; ``openid`` is always
        among the scopes."""
        scope = ["openid", *(s for s in scopes if s != "openid")]
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scope),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        parts = urlsplit(endpoints.authorization_endpoint)
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
        query = urlencode([*kept, *params.items()])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    async def exchange_code(
        self,
        endpoints: OidcEndpoints,
        *,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The token response (Core §3.1.3.3) for an authorization code. The client authenticates with
        client_secret_basic, or client_secret_post when that is all the provider supports."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        methods = endpoints.token_endpoint_auth_methods
        if "client_secret_basic" in methods or "client_secret_post" not in methods:
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding
            pair = f"{urlencode({'': client_id})[1:]}:{urlencode({'': client_secret})[1:]}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form |= {"client_id": client_id, "client_secret": client_secret}
        try:
            response = await self.http().post(endpoints.token_endpoint, data=form, headers=headers)
        except http_error() as error:
            raise OidcError("token endpoint unreachable") from error
        if response.status_code != 200:
            error_code = None
            try:
                body = response.json()
                error_code = body.get("error") if isinstance(body, dict) else None
            except ValueError:
                pass
            if isinstance(error_code, str) and _SAFE_ERROR_CODE.fullmatch(error_code):
                raise OidcError(f"token endpoint error: {error_code}")
            raise OidcError(f"token endpoint answered {response.status_code}")
        tokens = _json_object(response, "token response")
        if "error" in tokens:
            raise OidcError("token endpoint returned an error")
        if not isinstance(tokens.get("id_token"), str):
            raise OidcError("token response has no id_token")
        if not isinstance(tokens.get("access_token"), str):
            raise OidcError("token response has no access_token")
        return tokens

    async def validate_id_token(
        self,
        endpoints: OidcEndpoints,
        id_token: str,
        *,
        client_id: str,
        nonce: str,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """The ID token's claims once signature, issuer, audience, azp, times, nonce and at_hash all hold."""
        header = read_header(id_token)
        alg: str = header["alg"]
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcError("id_token kid invalid")
        candidates = [key for key in await self._jwks.keys(endpoints.jwks_uri) if key_fits(key, alg, kid)]
        if not candidates and kid is not None:
            refreshed = await self._jwks.refresh_for_unknown_kid(endpoints.jwks_uri)
            if refreshed is not None:
                candidates = [key for key in refreshed if key_fits(key, alg, kid)]
        if not candidates:
            raise OidcError("id_token signing key unknown")
        try:
            claims = verify_signature(id_token, alg, candidates)
        except OidcError:
            # without a kid a rotated key looks like a bad signature: same bounded refetch, then one more try
            refreshed = None if kid is not None else await self._jwks.refresh_for_unknown_kid(endpoints.jwks_uri)
            fresh = [key for key in refreshed or () if key_fits(key, alg, None)]
            if not fresh:
                raise
            claims = verify_signature(id_token, alg, fresh)
        check_claims(
            claims, issuer=endpoints.issuer, client_id=client_id, nonce=nonce, now=self._clock(), leeway=self._leeway
        )
        check_at_hash(claims, alg, access_token)
        return claims

    async def userinfo(self, endpoints: OidcEndpoints, access_token: str, *, expected_sub: str) -> dict[str, Any]:
        """The UserInfo response (Core §5.3); its ``sub`` must be the ID token's (§5.3.2)."""
        if endpoints.userinfo_endpoint is None:
            raise OidcError("provider has no userinfo endpoint")
        try:
            response = await self.http().get(
                endpoints.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        except http_error() as error:
            raise OidcError("userinfo endpoint unreachable") from error
        if response.status_code != 200:
            raise OidcError(f"userinfo endpoint answered {response.status_code}")
        if response.headers.get("content-type", "").split(";")[0].strip().lower() == "application/jwt":
            raise OidcError("signed userinfo responses are not supported")
        claims = _json_object(response, "userinfo response")
        if claims.get("sub") != expected_sub:
            raise OidcError("userinfo sub mismatch")
        return claims
