"""OAuth2 clients by id, cached per node (the token endpoint, authorize and the login page read
them on every request)."""

from __future__ import annotations

import threading
import time

from tenantry.core.clients.model import Client
from tenantry.core.context import CoreContext

CLIENT_CACHE_SECONDS = 10.0


class ClientCache:
    """OAuth2 clients by id, kept ``CLIENT_CACHE_SECONDS`` per node: the token endpoint then
    answers a client-credentials request from memory. A deleted client or a rotated secret
    reaches every node within that time (at once on the node that made the change)."""

    def __init__(self, core: CoreContext) -> None:
        self._core = core
        self._clients: dict[tuple[str, str], tuple[float, Client | None]] = {}
        self._lock = threading.Lock()

    def cached(self, application_id: str, client_id: str) -> tuple[bool, Client | None]:
        """(hit, client): no I/O."""
        hit = self._clients.get((application_id, client_id))
        if hit is None or time.monotonic() - hit[0] >= CLIENT_CACHE_SECONDS:
            return False, None
        return True, hit[1]

    def get(self, application_id: str, client_id: str) -> Client | None:
        found, client = self.cached(application_id, client_id)
        if found:
            return client
        with self._core.uow(application_id) as uow:
            client = uow.clients.get(client_id) if len(client_id) <= 64 else None
        with self._lock:
            if len(self._clients) > 10_000:
                self._clients.clear()
            self._clients[(application_id, client_id)] = (time.monotonic(), client)
        return client

    def forget(self, client_id: str | None = None) -> None:
        with self._lock:
            if client_id is None:
                self._clients.clear()
            else:
                self._clients = {k: v for k, v in self._clients.items() if k[1] != client_id}
