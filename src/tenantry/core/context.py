"""What every use case gets handed: the ports, built once by ``tenantry.bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantry.core.auth.settings import AuthSettings
from tenantry.core.ports import Clock, CommonPasswords, EmailRenderer, PasswordHasher, UnitOfWorkFactory
from tenantry.core.users.passwords import PasswordPolicy


@dataclass(frozen=True, slots=True)
class CoreContext:
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    common_passwords: CommonPasswords
    password_policy: PasswordPolicy
    auth: AuthSettings = field(default_factory=AuthSettings)
    renderer: EmailRenderer | None = None
