"""The throwaway PostgreSQL server the suite runs on (scripts/pg-test.sh) lets its role drop the
tests' databases while anything is still in them."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.support import drop_postgres_database, postgres_database


def test_the_role_may_end_sessions_of_other_roles(pg_server_url: str) -> None:
    """DROP DATABASE ... WITH (FORCE) refuses while a process the role may not signal is in the
    database, and an autovacuum worker is one unless the role is in pg_signal_backend (CI lost a
    run to it: the reliability suite's outbox tables churn enough to draw autovacuum)."""
    admin = create_engine(pg_server_url)
    try:
        with admin.connect() as connection:
            member = connection.execute(text("SELECT pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')"))
            assert member.scalar_one() is True
    finally:
        admin.dispose()


def test_a_database_is_dropped_with_its_sessions_still_open(pg_server_url: str) -> None:
    with postgres_database(pg_server_url, "drop") as url:
        name = url.rpartition("/")[2]
        engine = create_engine(url)
        connection = engine.connect()
        connection.execute(text("SELECT 1"))
        drop_postgres_database(pg_server_url, name)
        connection.invalidate()
        engine.dispose()
        admin = create_engine(pg_server_url)
        try:
            with admin.connect() as check:
                left = check.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name})
                assert left.scalar_one() == 0
        finally:
            admin.dispose()
