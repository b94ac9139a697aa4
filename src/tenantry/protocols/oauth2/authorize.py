"""The authorization endpoint's request, RFC 6749 §4.1.1
(https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1) with PKCE (RFC 7636) and OpenID Connect
Core §3.1.2.1, under Wristband's parameter constraints.

Validation happens in two stages, as §4.1.2.1 requires: problems with ``client_id`` or
``redirect_uri`` must never redirect (``UnsafeAuthorizeError``: show an error page), every other
problem is reported to the client's redirect URI (``AuthorizeError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

SUPPORTED_SCOPES = frozenset({"openid", "offline_access", "email", "profile", "phone", "roles"})
PLACEHOLDERS = ("{tenant_name}", "{tenant_domain}")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PARAM_LIMITS = {
    "client_id": (1, 64),
    "redirect_uri": (1, 2000),
    "state": (1, 512),
    "nonce": (1, 128),
    "scope": (1, 1000),
    "login_hint": (1, 320),
    "idp_hint": (1, 100),
    "code_challenge": (43, 43),
}


class UnsafeAuthorizeError(Exception):
    """The request cannot be answered by redirecting (unknown client, unregistered redirect)."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(description)


class AuthorizeError(Exception):
    """An error to report to the (validated) redirect URI."""

    def __init__(self, error: str, description: str, redirect_to: str, state: str | None) -> None:
        self.error = error
        self.description = description
        self.redirect_to = redirect_to
        self.state = state
        super().__init__(description)


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str  # exactly as sent (placeholders included): the token request must match it
    redirect_to: str  # where the browser goes: the registered URI with the tenant substituted
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: str | None
    login_hint: str | None
    idp_hint: str | None

    def as_params(self) -> dict[str, str]:
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scope),
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }
        for name in ("state", "nonce", "prompt", "login_hint", "idp_hint"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        return params


def substitute_tenant(uri: str, tenant_domain: str) -> str:
    for placeholder in PLACEHOLDERS:
        uri = uri.replace(placeholder, tenant_domain)
    return uri


def resolve_redirect_uri(requested: str | None, registered: Sequence[str], tenant_domain: str) -> tuple[str, str]:
    """(raw value to remember, URI to redirect to). Exact string comparison only: the tenant
    placeholder is the one substitution allowed (DESIGN.md, security baseline)."""
    if requested is None:
        if len(registered) != 1:
            raise UnsafeAuthorizeError("invalid_request", "redirect_uri is required for this client")
        return registered[0], substitute_tenant(registered[0], tenant_domain)
    for uri in registered:
        if requested == uri or requested == substitute_tenant(uri, tenant_domain):
            return requested, substitute_tenant(uri, tenant_domain)
    raise UnsafeAuthorizeError("invalid_request", "redirect_uri is not registered for this client")


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"Parameter [{name}] is repeated")
    value = values[0]
    low, high = PARAM_LIMITS.get(name, (0, 2000))
    if not low <= len(value) <= high:
        raise ValueError(f"Parameter [{name}] must be {low} to {high} characters")
    return value


def parse_authorize_request(
    params: Mapping[str, Sequence[str]], registered_redirects: Sequence[str] | None, tenant_domain: str
) -> AuthorizeRequest:
    """Validate an authorize request for a known client (``registered_redirects`` is ``None``
    when the client is unknown or may not use this flow)."""
    try:
        client_id = _single(params, "client_id")
        requested_redirect = _single(params, "redirect_uri")
    except ValueError as error:
        raise UnsafeAuthorizeError("invalid_request", str(error)) from error
    if client_id is None or registered_redirects is None:
        raise UnsafeAuthorizeError("invalid_client", "Unknown client_id")
    raw_redirect, redirect_to = resolve_redirect_uri(requested_redirect, registered_redirects, tenant_domain)
    state_values = params.get("state") or []
    state = state_values[0][:512] if len(state_values) == 1 else None

    def fail(error: str, description: str) -> AuthorizeError:
        return AuthorizeError(error, description, redirect_to, state)

    try:
        values = {name: _single(params, name) for name in PARAM_LIMITS if name not in ("client_id", "redirect_uri")}
        response_type = _single(params, "response_type")
        method = _single(params, "code_challenge_method")
        prompt = _single(params, "prompt")
    except ValueError as error:
        raise fail("invalid_request", str(error)) from error
    if response_type != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported")
    scope = tuple(dict.fromkeys((values["scope"] or "").split()))
    if not scope:
        raise fail("invalid_scope", "scope is required")
    if unknown := [s for s in scope if s not in SUPPORTED_SCOPES]:
        raise fail("invalid_scope", f"Unsupported scope [{unknown[0][:50]}]")
    challenge = values["code_challenge"]
    if challenge is None:
        raise fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not PKCE_CHALLENGE.match(challenge):
        raise fail("invalid_request", "code_challenge must be 43 base64url characters")
    if prompt not in (None, "login", "none"):
        raise fail("invalid_request", "prompt must be login or none")
    return AuthorizeRequest(
        client_id=client_id,
        redirect_uri=raw_redirect,
        redirect_to=redirect_to,
        scope=scope,
        state=values["state"],
        nonce=values["nonce"],
        code_challenge=challenge,
        prompt=prompt,
        login_hint=values["login_hint"],
        idp_hint=values["idp_hint"],
    )


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (RFC 6749 §4.1.2: keep existing ones)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
