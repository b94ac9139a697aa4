"""What every repository shares: its connection, its application and integrity translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Executable, true
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.errors import translate_integrity_error
from tenantry.core.access import TenantScope
from tenantry.core.model import EntityMetadata
from tenantry.core.text import storable


class Repository:
    def __init__(self, connection: Connection, application_id: str) -> None:
        self.connection = connection
        self.application_id = application_id

    def write(self, statement: Executable, parameters: list[dict[str, Any]] | None = None) -> CursorResult[Any]:
        """Execute an insert/update inside a savepoint-free transaction, mapping constraint
        failures to domain errors (the whole unit of work is then rolled back)."""
        with _constraints_as_domain_errors():
            return self.connection.execute(statement, parameters)

    def write_direct(self, statement: DirectStatement, parameters: dict[str, Any]) -> None:
        """``write`` for the hottest inserts, past SQLAlchemy's per-execution work (``direct.py``)."""
        with _constraints_as_domain_errors():
            statement.execute(self.connection, parameters)


@contextmanager
def _constraints_as_domain_errors() -> Iterator[None]:
    try:
        yield
    except IntegrityError as error:
        raise translate_integrity_error(error) from error


def lookupable(*values: str) -> bool:
    """A key the database could hold. PostgreSQL refuses NUL and lone surrogates outright, so
    looking such a key up must find nothing rather than fail."""
    return all(storable(v) for v in values)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in Tenantry is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def metadata_from(row: Any) -> EntityMetadata:
    return EntityMetadata(
        creation_time=aware(row.created_at),  # type: ignore[arg-type]
        last_modified_time=aware(row.updated_at),  # type: ignore[arg-type]
        version=row.version,
    )


def metadata_values(meta: EntityMetadata) -> dict[str, Any]:
    return {"created_at": meta.creation_time, "updated_at": meta.last_modified_time, "version": meta.version}


def scope_clause(column: ColumnElement[Any], scope: TenantScope) -> ColumnElement[bool]:
    if scope.all_tenants:
        return column.not_in(scope.excluded) if scope.excluded else true()
    return column.in_(scope.included)


class Prefixed:
    """One table's columns of a joined row, by their own names (``row.t_id`` as ``.id``)."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)
