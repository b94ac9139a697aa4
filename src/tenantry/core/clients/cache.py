"""OAuth2 clients by id, cached per node (the token endpoint, authorize and the login page read
them on every request)."""

from __future__ import annotations

from tenantry.core.caching import ExpiringCache
from tenantry.core.clients.model import Client
from tenantry.core.context import CoreContext

CLIENT_CACHE_SECONDS = 10.0


class ClientCache:
    """OAuth2 clients by id, kept ``CLIENT_CACHE_SECONDS`` per node: the token endpoint then
    answers a client-credentials request from memory. A deleted client or a rotated secret
    reaches every node within that time (at once on the node that made the change)."""

    def __init__(self, core: CoreContext) -> None:
        self._core = core
        self._clients: ExpiringCache[tuple[str, str], Client | None] = ExpiringCache(CLIENT_CACHE_SECONDS)

    def cached(self, application_id: str, client_id: str) -> tuple[bool, Client | None]:
        """(hit, client): no I/O."""
        hit = self._clients.get((application_id, client_id))
        return (True, hit[0]) if hit is not None else (False, None)

    def get(self, application_id: str, client_id: str) -> Client | None:
        return self._clients.get_or_load((application_id, client_id), lambda: self._read(application_id, client_id))

    def _read(self, application_id: str, client_id: str) -> Client | None:
        with self._core.uow(application_id) as uow:
            return uow.clients.get(client_id) if len(client_id) <= 64 else None

    def forget(self, client_id: str | None = None) -> None:
        if client_id is None:
            self._clients.clear()
        else:
            self._clients.forget_where(lambda key: key[1] == client_id)
