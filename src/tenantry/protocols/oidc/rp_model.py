"""Shared values of the OpenID Connect relying party (Tenantry signing users in through an external IdP)."""

from __future__ import annotations

from dataclasses import dataclass


class OidcError(Exception):
    """A refusal while talking to an external OpenID provider.

    ``reason`` is short, safe text for logs and error pages: it never carries token content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OidcEndpoints:
    """What the relying party uses from a provider's discovery document (OpenID Connect Discovery 1.0 §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_endpoint_auth_methods: tuple[str, ...]


def http_error() -> type[Exception]:
    """httpx's base error, for an ``except`` clause (evaluated only once a request has failed).

    httpx is imported where a request is made, not with these modules: a worker that never
    reaches an identity provider does not hold it (3 MB)."""
    import httpx

    return httpx.HTTPError
