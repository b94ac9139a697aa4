"""The provider's signing keys (JWKS), cached, with a bounded refetch for key rotation.

A token whose ``kid`` is unknown triggers at most one refetch per ``refresh_interval`` seconds for that JWKS
URL, so rotation works without letting anyone who can present tokens drive a fetch storm against the IdP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from tenantry.protocols.oidc.rp_model import OidcError, http_error

if TYPE_CHECKING:
    import httpx

SigningKey = RSAKey | ECKey

MAX_JWKS_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Fetched:
    keys: tuple[SigningKey, ...]
    fetched_at: float


def _import_signing_keys(document: Any) -> tuple[SigningKey, ...]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise OidcError("jwks document malformed")
    keys: list[SigningKey] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            if entry.get("kty") == "RSA":
                keys.append(RSAKey.import_key(entry))
            elif entry.get("kty") == "EC":
                keys.append(ECKey.import_key(entry))
        except (JoseError, ValueError, TypeError):
            continue  # a key we cannot read is a key that cannot verify anything
    # symmetric ("oct") and unknown key types are ignored on purpose: an IdP's public JWKS never holds secrets
    return tuple(key for key in keys if not key.is_private)


class JwksCache:
    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient],
        *,
        clock: Callable[[], float],
        ttl_seconds: int,
        refresh_interval_seconds: int,
    ) -> None:
        self._http = http
        self._clock = clock
        self._ttl = ttl_seconds
        self._refresh_interval = refresh_interval_seconds
        self._cache: dict[str, _Fetched] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def keys(self, jwks_uri: str) -> tuple[SigningKey, ...]:
        """The cached keys, fetched when absent or older than the TTL."""
        cached = self._cache.get(jwks_uri)
        if cached is not None and self._clock() - cached.fetched_at < self._ttl:
            return cached.keys
        return await self._refetch(jwks_uri, only_if_older_than=0.0)

    async def refresh_for_unknown_kid(self, jwks_uri: str) -> tuple[SigningKey, ...] | None:
        """Refetch after an unknown ``kid`` unless a fetch happened within the refresh interval (then None)."""
        cached = self._cache.get(jwks_uri)
        if cached is not None and self._clock() - cached.fetched_at < self._refresh_interval:
            return None
        return await self._refetch(jwks_uri, only_if_older_than=float(self._refresh_interval))

    async def _refetch(self, jwks_uri: str, *, only_if_older_than: float) -> tuple[SigningKey, ...]:
        lock = self._locks.setdefault(jwks_uri, asyncio.Lock())
        async with lock:
            cached = self._cache.get(jwks_uri)
            # another task fetched while we waited: use its result instead of fetching again
            if cached is not None and self._clock() - cached.fetched_at < max(only_if_older_than, 1.0):
                return cached.keys
            try:
                response = await self._http().get(jwks_uri, headers={"Accept": "application/json"})
            except http_error() as error:
                raise OidcError("jwks endpoint unreachable") from error
            if response.status_code != 200:
                raise OidcError(f"jwks endpoint answered {response.status_code}")
            if len(response.content) > MAX_JWKS_BYTES:
                raise OidcError("jwks document too large")
            try:
                document = response.json()
            except ValueError as error:
                raise OidcError("jwks document is not JSON") from error
            keys = _import_signing_keys(document)
            self._cache[jwks_uri] = _Fetched(keys=keys, fetched_at=self._clock())
            return keys
