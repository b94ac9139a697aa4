"""The external providers a tenant's login page offers, cached per node (every sign-in page
shows them; reading them costs two statements and a transaction)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tenantry.core.caching import ExpiringCache
from tenantry.core.context import CoreContext
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.sso.service import providers_for_login
from tenantry.core.tenants.model import Tenant

LOGIN_PROVIDERS_SECONDS = 3.0


class LoginProviderCache:
    """``providers_for_login`` per tenant, kept ``LOGIN_PROVIDERS_SECONDS``: a provider created,
    changed or deleted on this node shows at once, on other nodes within that time. For display
    only: starting a sign-in reads the provider afresh (``provider_for_sign_in``), so a button
    still shown for a provider just disabled leads to a refusal, never to a sign-in."""

    def __init__(self, core: CoreContext, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._core = core
        self._providers: ExpiringCache[tuple[str, str], tuple[IdentityProvider, ...]] = ExpiringCache(
            LOGIN_PROVIDERS_SECONDS, clock=clock
        )
        core.changes.on_identity_provider_change(
            lambda application_id: self._providers.forget_where(lambda key: key[0] == application_id)
        )

    def get(self, tenant: Tenant) -> tuple[IdentityProvider, ...]:
        return self._providers.get_or_load(
            (tenant.application_id, tenant.id), lambda: tuple(providers_for_login(self._core, tenant))
        )
