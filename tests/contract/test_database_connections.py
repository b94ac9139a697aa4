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
