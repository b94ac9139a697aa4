"""How ``Database`` hands out connections: the idle ping on PostgreSQL and the explicit BEGIN on
SQLite (a real server and a real file; no fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tenantry.adapters.sql import database as database_module
from tenantry.adapters.sql.database import Database


@pytest.fixture()
def pg_database(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url, pool_size=1)
    yield database
    database.dispose()


def _backend_pid(database: Database) -> int:
    with database.transaction(write=False) as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(
    pg_url: str, pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = _backend_pid(pg_database)
    _terminate(pg_url, first)  # e.g. a database restart while the pool sat idle
    assert _backend_pid(pg_database) != first  # pinged, found dead, replaced: no error


def test_a_recently_used_connection_is_not_pinged_and_a_broken_one_is_replaced_after_its_error(
    pg_url: str, pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trade-off of pinging only idle connections: a connection that broke while in use is
    handed out unpinged and fails its statement once; the pool is then invalidated."""
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _backend_pid(pg_database)
    _terminate(pg_url, first)
    with pytest.raises(DBAPIError) as failed:  # not pinged: the dead connection was used as it was
        _backend_pid(pg_database)
    assert failed.value.connection_invalidated
    assert _backend_pid(pg_database) != first  # a fresh connection, no error
    assert pg_database.write_engine.pool.checkedout() == 0


def test_the_ping_leaves_no_transaction_open(pg_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from psycopg.pq import TransactionStatus

    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    _backend_pid(pg_database)
    with pg_database.write_engine.connect() as connection:  # checked out: pinged
        driver = connection.connection.driver_connection
        assert driver is not None
        assert driver.info.transaction_status == TransactionStatus.IDLE


def test_sqlite_write_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with database.transaction(write=True) as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.commit()
        other = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
        try:
            with database.transaction(write=True) as writer:
                driver = writer.connection.driver_connection
                assert driver is not None and driver.in_transaction  # BEGIN IMMEDIATE, before any statement
                with other.transaction(write=False) as reader:  # WAL: readers never wait
                    assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
                writer.execute(text("INSERT INTO t VALUES (1)"))
                writer.commit()
            with database.transaction(write=False) as reader:
                assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
            with database.transaction(write=True) as writer:
                writer.execute(text("INSERT INTO t VALUES (2)"))
                # no commit: rolled back
            with database.transaction(write=False) as reader:
                assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        finally:
            other.dispose()
    finally:
        database.dispose()


_TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


def _lock_state(path: Path) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _TRY_LOCK, str(path)], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_sqlite_writers_of_other_processes_queue_on_a_file_lock(tmp_path: Path) -> None:
    """A write transaction holds an exclusive flock beside the database file until it ends, so
    another worker process's writer blocks on it (and wakes on release) instead of polling
    SQLite's lock with sleeps; readers never take it."""
    file = tmp_path / "tenantry.db"
    database = Database(f"sqlite:///{file}", pool_size=2)
    lock = Path(f"{file}-writer.lock")
    try:
        with database.transaction(write=False) as connection:
            connection.execute(text("SELECT 1"))
            assert not lock.exists() or _lock_state(lock) == "free"
        with database.transaction(write=True) as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            assert _lock_state(lock) == "held"
            connection.commit()
        assert _lock_state(lock) == "free"
        with pytest.raises(RuntimeError), database.transaction(write=True):
            assert _lock_state(lock) == "held"
            raise RuntimeError("a failed write transaction")
        assert _lock_state(lock) == "free"  # released on the way out of an error too
    finally:
        database.dispose()


def test_an_in_memory_sqlite_database_has_no_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    database = Database("sqlite://", pool_size=1)
    try:
        with database.transaction(write=True) as connection:
            connection.execute(text("SELECT 1"))
    finally:
        database.dispose()
    assert list(tmp_path.iterdir()) == []
