"""Alembic environment. Several nodes may start at once: on PostgreSQL an advisory lock lets one
of them migrate while the others wait; on SQLite the file lock does the same."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool, text

from tenantry.adapters.sql.tables import POSTGRESQL_ONLY_INDEXES, metadata

MIGRATION_LOCK = 7_204_911_337


def _for_dialect(dialect: str) -> Any:
    """Autogenerate's filter: PostgreSQL-only indexes are not missing on another database."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES and dialect != "postgresql")

    return include


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
                include_object=_for_dialect(connection.dialect.name),
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


run_migrations_online()
