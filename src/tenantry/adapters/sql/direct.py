"""Statements run on the driver's cursor, past SQLAlchemy's per-execution machinery.

SQLAlchemy spends nearly as much CPU per statement as the driver does: the compiled-cache lookup,
an execution context, result metadata (on psycopg reading ``cursor.description`` builds an object
per column). Measured here: 95 µs of CPU for an INSERT through ``Connection.execute`` against 58
on the cursor, 148 against 61 for a 32-column SELECT. On the statements every Create User runs
that was an eighth of the server's CPU.

A ``DirectStatement`` is compiled by SQLAlchemy once per dialect — its SQL, its parameters (with
the statement's own constants) and its types' bind and result processors, all through public
API — and then runs on the connection's DBAPI cursor, inside the connection's transaction. A
driver error goes through SQLAlchemy's own handling (the same exception classes, disconnect
detection, pool invalidation), so a caller sees what ``Connection.execute`` would raise.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Select, Update
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    compiled: SQLCompiler
    order: tuple[str, ...] | None  # positional parameter names (qmark drivers), else None
    binds: Mapping[str, Callable[[Any], Any]]
    row: Any  # a namedtuple class, or None for a statement without rows
    results: tuple[Processor, ...]

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = self.compiled.construct_params(dict(given))
        for name, process in self.binds.items():
            values[name] = process(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[Any]:
        if not any(self.results):
            return [self.row._make(values) for values in fetched]
        return [
            self.row._make([p(v) if p is not None else v for p, v in zip(self.results, values, strict=True)])
            for values in fetched
        ]


def _row_class(names: list[str]) -> Any:
    """A namedtuple class for the rows: attribute access by label, as SQLAlchemy's rows have."""
    return namedtuple("DirectRow", names)


class DirectStatement:
    """A SELECT, an INSERT (of the columns its parameters name) or an UPDATE (with or without
    RETURNING), run directly. The statement's parameters are ``bindparam`` names."""

    def __init__(self, statement: Select[Any] | Insert | Update) -> None:
        self._statement = statement
        self._is_insert = isinstance(statement, Insert)
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> list[Any]:
        """The rows (namedtuples, by column label); ``[]`` for a statement without rows."""
        return self._run(connection, parameters)[0]

    def count(self, connection: Connection, parameters: Mapping[str, Any]) -> int:
        """The rows an UPDATE matched (the driver's row count)."""
        return self._run(connection, parameters)[1]

    def _run(self, connection: Connection, parameters: Mapping[str, Any]) -> tuple[list[Any], int]:
        key = (connection.dialect.name, tuple(parameters) if self._is_insert else ())
        compiled = self._compiled.get(key) or self._compile(connection.dialect, key)
        values = compiled.parameters(parameters)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, values)
            fetched = cursor.fetchall() if compiled.row is not None else []
            matched = cursor.rowcount
        except Exception as error:  # the driver's: wrapped, and a lost connection invalidated, as SQLAlchemy does
            connection._handle_dbapi_exception(error, compiled.sql, values, cursor, None)
        finally:
            cursor.close()
        return (compiled.rows(fetched) if compiled.row is not None else []), matched

    def _compile(self, dialect: Dialect, key: tuple[str, tuple[str, ...]]) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=list(key[1]) if self._is_insert else None)
        assert isinstance(compiled, SQLCompiler)
        if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
            raise ValueError("a direct statement takes no expanding (IN) or literal parameters")
        if compiled.insert_prefetch:
            raise ValueError("a direct INSERT takes every value from its caller (no Python-side defaults)")
        binds: dict[str, Callable[[Any], Any]] = {}
        for bind in compiled.binds.values():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                # By the name the compiled parameters use: an anonymous bind (a constant of the
                # statement's own) is keyed by its object id in ``binds``, by "status_1" there.
                binds[compiled.bind_names[bind]] = process
        row: Any = None
        results: tuple[Processor, ...] = ()
        columns = list(self._statement.exported_columns)  # a SELECT's columns, or what it RETURNs
        if columns:
            row = _row_class([str(c.key) for c in columns])
            results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        built = _Compiled(str(compiled), compiled, order, binds, row, results)
        self._compiled[key] = built
        return built
