"""URL rules for talking to external OpenID providers: https only, except on the loopback host (tests, dev)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tenantry.protocols.oidc.rp_model import OidcError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


def require_secure_url(url: object, what: str) -> str:
    """``url`` if it is an absolute https URL (http only for a loopback host), else OidcError."""
    if not isinstance(url, str) or not url:
        raise OidcError(f"{what} missing")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        raise OidcError(f"{what} is not a valid URL") from error
    if not host or parts.fragment:
        raise OidcError(f"{what} is not a valid URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return url
    raise OidcError(f"{what} must use https")


def split_discovery_url(issuer_or_url: str) -> tuple[str, str]:
    """(expected issuer, discovery document URL) from an issuer or a full discovery URL."""
    value = issuer_or_url.strip()
    if value.endswith(DISCOVERY_SUFFIX):
        issuer = value[: -len(DISCOVERY_SUFFIX)]
        return issuer, value
    return value, value.rstrip("/") + DISCOVERY_SUFFIX
