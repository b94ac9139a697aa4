"""Engines for SQLite (embedded default) and PostgreSQL, with the per-dialect tuning in one place.

SQLite allows one writer at a time. Write transactions start with ``BEGIN IMMEDIATE`` so that
they queue on the lock (``busy_timeout``) instead of failing with "database is locked" when a
read transaction tries to upgrade; inside one process writers also queue on a one-connection
pool, which is cheaper than spinning on the file lock. Reads use their own pool and, thanks to
WAL, never wait for writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = self._sqlite_engine(url, pool_size=1, echo=echo)
            self.read_engine = self._sqlite_engine(url, pool_size=pool_size, echo=echo)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo)
            self.write_engine = self.read_engine = engine

    @staticmethod
    def _sqlite_engine(url: str, *, pool_size: int, echo: bool) -> Engine:
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=60,
            # Every transaction ends in an explicit commit or rollback; no reset on check-in.
            pool_reset_on_return=None,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            # The driver must not open transactions on its own; we issue BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # LIKE must be case-sensitive, as on PostgreSQL: ``sw`` filters rely on it.
            cursor.execute("PRAGMA case_sensitive_like=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            mode = "IMMEDIATE" if connection.info.get("write") else "DEFERRED"
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """A connection inside a transaction; the caller commits, anything else rolls back."""
        engine = self.write_engine if write else self.read_engine
        with engine.connect() as connection:
            connection.info["write"] = write
            connection.begin()
            try:
                yield connection
            finally:
                if connection.in_transaction():
                    connection.rollback()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
