"""What every use case gets handed: the ports, built once by ``tenantry.bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tenantry.core.auth.settings import AuthSettings
from tenantry.core.ports import Clock, CommonPasswords, EmailRenderer, PasswordHasher, UnitOfWorkFactory
from tenantry.core.users.passwords import PasswordPolicy


class ChangeListeners:
    """Who wants to know, on this node, that a tenant or an application's identity providers
    changed (the web layer's host cache, the login pages' provider cache)."""

    def __init__(self) -> None:
        self._tenant: list[Callable[[str], None]] = []
        self._identity_providers: list[Callable[[str], None]] = []

    def on_tenant_change(self, listener: Callable[[str], None]) -> None:
        self._tenant.append(listener)

    def tenant_changed(self, tenant_id: str) -> None:
        for listener in self._tenant:
            listener(tenant_id)

    def on_identity_provider_change(self, listener: Callable[[str], None]) -> None:
        """``listener(application_id)`` after a provider or an override toggle of it changed."""
        self._identity_providers.append(listener)

    def identity_providers_changed(self, application_id: str) -> None:
        for listener in self._identity_providers:
            listener(application_id)


@dataclass(frozen=True, slots=True)
class CoreContext:
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    common_passwords: CommonPasswords
    password_policy: PasswordPolicy
    auth: AuthSettings = field(default_factory=AuthSettings)
    renderer: EmailRenderer | None = None
    changes: ChangeListeners = field(default_factory=ChangeListeners)
