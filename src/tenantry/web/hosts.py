"""Which application a request is for, from its ``Host`` header.

The API and the token endpoint live on the application's vanity domain. Tenant hosts
(``{tenant}-{vanity}``, ``{tenant}.{vanity}``) arrive with the hosted-login issue; this module is
where they will be told apart.
"""

from __future__ import annotations

import threading
import time

from tenantry.core.applications.model import Application
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound

CACHE_SECONDS = 30.0


class ApplicationResolver:
    def __init__(self, core: CoreContext) -> None:
        self._core = core
        self._cache: dict[str, tuple[float, Application | None]] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str) -> Application:
        key = host.strip().lower()
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            application = hit[1]
        else:
            with self._core.uow("") as uow:
                application = uow.applications.get_by_vanity_domain(key)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (time.monotonic(), application)
        if application is None:
            raise NotFound("application", key)
        return application

    def forget(self) -> None:
        self._cache.clear()
