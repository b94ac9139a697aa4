"""Engines for SQLite (embedded default) and PostgreSQL, with the per-dialect tuning in one place.

SQLite allows one writer at a time. Write transactions start with ``BEGIN IMMEDIATE`` so that
they queue on the lock (``busy_timeout``) instead of failing with "database is locked" when a
read transaction tries to upgrade; inside one process writers also queue on a one-connection
pool, which is cheaper than spinning on the file lock, and the processes of ``serve --workers N``
queue on an exclusive ``flock`` of a file beside the database: SQLite's own busy handler polls
with sleeps of up to 100 ms, so with two workers a writer slept while the lock sat free (Create
User on two workers ran at 56 % of the machine, p99 96 ms), where a blocked ``flock`` wakes the
moment the lock is released. Reads use their own pool and, thanks to WAL, never wait for writers.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled PostgreSQL connection unused for this long is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle: a connection used
    less than ``PING_AFTER_IDLE_SECONDS`` ago is handed out as it is. (``pool_pre_ping`` pings on
    every checkout: a round trip per transaction, a seventh of Create User's.) A connection that
    broke while busy fails its statement instead; SQLAlchemy then sees the disconnect and
    invalidates the whole pool, so the requests after it get fresh connections — the error
    handler answers that one request 503 with Retry-After."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            # A ping outside a transaction leaves the driver in one (psycopg is not autocommit).
            dbapi_connection.rollback()
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError(str(error)) from error


class _WriterLock:
    """An exclusive ``flock`` on ``path``, shared by the threads of this process (they take turns
    on the one write connection already) and excluding the other processes."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks without the GIL; wakes on release

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._writer_lock: _WriterLock | None = None
        if self.is_sqlite:
            file = make_url(url).database
            if file and file != ":memory:" and not file.startswith("file::memory:"):
                self._writer_lock = _WriterLock(file + "-writer.lock")
            self.write_engine = self._sqlite_engine(url, pool_size=1, echo=echo)
            self.read_engine = self._sqlite_engine(url, pool_size=pool_size, echo=echo)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, echo=echo)
            _ping_when_idle(engine)
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

        return engine

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """A connection inside a transaction; the caller commits, anything else rolls back."""
        engine = self.write_engine if write else self.read_engine
        with engine.connect() as connection:
            locked = write and self._writer_lock is not None
            if locked:
                self._writer_lock.acquire()  # type: ignore[union-attr]
            try:
                connection.begin()
                if self.is_sqlite:
                    # The driver runs in autocommit mode (``isolation_level = None``), so the BEGIN
                    # is ours, sent straight to it. (An engine "begin" event listener would do the
                    # same, but any engine-level listener makes SQLAlchemy join event dispatchers
                    # on every connection: it cost more than the statement.)
                    driver = connection.connection.driver_connection
                    assert driver is not None
                    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
                try:
                    yield connection
                finally:
                    if connection.in_transaction():
                        connection.rollback()
            finally:
                if locked:
                    self._writer_lock.release()  # type: ignore[union-attr]

    def dispose(self) -> None:
        if self._writer_lock is not None:
            self._writer_lock.close()
            self._writer_lock = None
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
