"""Alembic environment. Several nodes may start at once: on PostgreSQL an advisory lock lets one
of them migrate while the others wait; on SQLite the file lock does the same."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from tenantry.adapters.sql.tables import metadata

MIGRATION_LOCK = 7_204_911_337


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        is_pg = connection.dialect.name == "postgresql"
        if is_pg:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


run_migrations_online()
