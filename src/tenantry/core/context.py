"""What every use case gets handed: the ports, built once by ``tenantry.bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tenantry.core.auth.settings import AuthSettings
from tenantry.core.ports import Clock, CommonPasswords, EmailRenderer, PasswordHasher, UnitOfWorkFactory
from tenantry.core.users.passwords import PasswordPolicy


class ChangeListeners:
    """Who wants to know that a tenant changed (e.g. the web layer's host cache)."""

    def __init__(self) -> None:
        self._tenant: list[Callable[[str], None]] = []

    def on_tenant_change(self, listener: Callable[[str], None]) -> None:
        self._tenant.append(listener)

    def tenant_changed(self, tenant_id: str) -> None:
        for listener in self._tenant:
            listener(tenant_id)


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
