"""The composition root: settings in, a ready ``Services`` object out. Nothing else builds adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tenantry.adapters.security.keys import KeyStore
from tenantry.adapters.security.passwords import Argon2Hasher, CommonPasswordList
from tenantry.adapters.sql.database import Database
from tenantry.adapters.sql.migrate import upgrade
from tenantry.adapters.sql.uow import SqlUnitOfWorkFactory
from tenantry.core.context import CoreContext
from tenantry.core.users.passwords import PasswordPolicy
from tenantry.settings import Settings


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    database: Database
    core: CoreContext
    keys: KeyStore

    def close(self) -> None:
        self.database.dispose()


def bootstrap(settings: Settings, *, migrate: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if migrate:
        upgrade(url)
    database = Database(url, pool_size=settings.db_pool_size)
    clock = SystemClock()
    core = CoreContext(
        uow=SqlUnitOfWorkFactory(database),
        clock=clock,
        hasher=Argon2Hasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        common_passwords=CommonPasswordList(),
        password_policy=PasswordPolicy(min_length=settings.password_min_length),
    )
    keys = KeyStore(database, clock, refresh_seconds=settings.key_refresh_seconds)
    return Services(settings=settings, database=database, core=core, keys=keys)
