"""Which application and tenant a request is for, from its ``Host`` header.

- the vanity domain itself (``auth.example.com``) → the application, no tenant;
- ``{tenant}-{vanity}`` → that tenant, when the application's custom domain is not active;
- ``{tenant}.{vanity}`` → that tenant, when it is;
- a tenant's own custom domain (``login.customer.com``) → that tenant.

The proxy headers (``X-Forwarded-Host``) are applied by uvicorn only for trusted proxies
(``serve --proxy-headers`` + ``TENANTRY_TRUSTED_PROXIES``), so this module trusts ``Host``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenantry.core.applications.model import Application
from tenantry.core.caching import ExpiringCache
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound
from tenantry.core.tenants.model import Tenant

CACHE_SECONDS = 30.0
# A tenant host's target (the tenant's status, branding, signup switch) is cached briefly: a
# change made on this node is seen at once (``forget``), on other nodes within this time.
TENANT_CACHE_SECONDS = 3.0
CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class HostTarget:
    application: Application
    tenant: Tenant | None
    custom_domain: str | None = None  # the tenant's own host, when the request came through it


@dataclass(frozen=True, slots=True)
class TenantTarget:
    application: Application
    tenant: Tenant
    custom_domain: str | None = None


class ApplicationResolver:
    def __init__(self, core: CoreContext) -> None:
        self._core = core
        self._apps: ExpiringCache[str, Application | None] = ExpiringCache(CACHE_SECONDS, limit=CACHE_LIMIT)
        self._targets: ExpiringCache[str, HostTarget] = ExpiringCache(TENANT_CACHE_SECONDS, limit=CACHE_LIMIT)
        core.changes.on_tenant_change(lambda _tenant_id: self._targets.clear())

    def _application(self, vanity: str) -> Application | None:
        return self._apps.get_or_load(vanity, lambda: self._read_application(vanity))

    def _read_application(self, vanity: str) -> Application | None:
        with self._core.uow("") as uow:
            return uow.applications.get_by_vanity_domain(vanity)

    def cached(self, host: str) -> Application | None:
        """The application of ``host`` if a fresh cache entry knows it (no I/O)."""
        hit = self._apps.get(host.strip().lower())
        return hit[0] if hit is not None else None

    def for_host(self, host: str) -> Application:
        """The application whose vanity domain is exactly ``host`` (API and token endpoints)."""
        key = host.strip().lower()
        application = self._application(key)
        if application is None:
            raise NotFound("application", key[:253])
        return application

    def cached_target(self, host: str) -> HostTarget | None:
        """The target of ``host`` if a fresh cache entry knows it (no I/O)."""
        key = host.strip().lower()
        hit = self._targets.get(key)
        if hit is not None:
            return hit[0]
        application = self.cached(key)
        return HostTarget(application, None) if application is not None else None

    def target(self, host: str) -> HostTarget:
        """Application and (for tenant hosts) tenant of ``host``; ``NotFound`` if neither."""
        key = host.strip().lower()
        cached = self.cached_target(key)
        if cached is not None:
            return cached
        generation = self._targets.generation
        found = self._resolve(key)
        if found.tenant is not None:
            self._targets.put(key, found, generation=generation)
        return found

    def _resolve(self, key: str) -> HostTarget:
        application = self._application(key)
        if application is not None:
            return HostTarget(application, None)
        with self._core.uow("") as uow:
            owner = uow.applications.tenant_of_custom_domain(key)
        if owner is not None:
            with self._core.uow(owner[0]) as uow:
                app, tenant = uow.applications.get(owner[0]), uow.tenants.get(owner[1])
            if app is not None and tenant is not None and tenant.is_usable:
                return HostTarget(app, tenant, custom_domain=key)
        for separator in (".", "-"):
            start = 0
            while (index := key.find(separator, start)) > 0:
                start = index + 1
                candidate = self._application(key[index + 1 :])
                if candidate is None or candidate.tenant_separator != separator:
                    continue
                with self._core.uow(candidate.id) as uow:
                    tenant = uow.tenants.get_by_domain_name(key[:index])
                if tenant is not None and tenant.is_usable:
                    return HostTarget(candidate, tenant)
                raise NotFound("tenant", key[:index][:40])
        raise NotFound("application", key[:253])

    def forget(self) -> None:
        self._apps.clear()
        self._targets.clear()
