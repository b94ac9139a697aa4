"""Compile list-query trees (``tenantry.protocols.query``) to SQLAlchemy Core expressions.

Every client-supplied value reaches the database as a bound parameter; nothing is spliced into SQL text.
The caller supplies the attribute-to-column mapping, which keeps this module ignorant of the schema and
lets a case-insensitive attribute point at a lower-cased key column (e.g. ``users.email_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from tenantry.protocols.query import (
    AttributeSpec,
    BoolOp,
    Comparison,
    Expr,
    ScalarValue,
    SortKey,
    to_utc_datetime,
)

_Binary = Callable[[ColumnElement[Any], Any], ColumnElement[bool]]

# ``ne``/``nin`` follow SQL semantics: a row whose column is NULL matches neither ``col = x`` nor
# ``col <> x``, so ``givenName ne "Bob"`` leaves out rows without a given name. Clients who want those rows
# too can say so explicitly: ``givenName ne "Bob" or givenName eq null``.
_BINARY: dict[str, _Binary] = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: column != value,
    "lt": lambda column, value: column < value,
    "le": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "ge": lambda column, value: column >= value,
}


def compile_query(
    expr: Expr,
    columns: Mapping[str, ColumnElement[Any]],
    attributes: Mapping[str, AttributeSpec],
) -> ColumnElement[bool]:
    """Translate a parsed (hence validated) tree into a WHERE clause over ``columns``.

    ``columns`` and ``attributes`` are keyed by canonical attribute name. A tree that did not come from
    ``parse_query`` with the same ``attributes`` may fail with ``KeyError``/``ValueError``; that is a
    programming error, not a client one.
    """
    if isinstance(expr, BoolOp):
        parts = [compile_query(operand, columns, attributes) for operand in expr.operands]
        return and_(*parts) if expr.op == "and" else or_(*parts)
    return _compile_comparison(expr, columns[expr.attribute], attributes[expr.attribute])


def _compile_comparison(comparison: Comparison, column: ColumnElement[Any], spec: AttributeSpec) -> ColumnElement[bool]:
    op, value = comparison.op, comparison.value
    if value is None:
        return column.is_(None) if op == "eq" else column.is_not(None)
    if isinstance(value, tuple):
        items = [_bind_value(item, spec) for item in value]
        # NULL NOT IN (...) is NULL, so ``nin`` excludes NULL rows just like ``ne`` does.
        return column.in_(items) if op == "in" else column.not_in(items)
    bound = _bind_value(value, spec)
    if op == "sw":
        # autoescape makes % and _ in the value literal characters instead of LIKE wildcards. LIKE is
        # case-sensitive on PostgreSQL but ignores ASCII case on SQLite unless the connection runs
        # ``PRAGMA case_sensitive_like = ON``. Case-insensitive attributes are unaffected (both sides lower).
        return column.startswith(bound, autoescape=True)
    # literal() rather than the raw value: SQLAlchemy would inline True/False as SQL keywords otherwise.
    return _BINARY[op](column, literal(bound, type_=column.type))


def _bind_value(value: ScalarValue, spec: AttributeSpec) -> Any:
    """The Python value to bind: lower-cased for key columns, an aware UTC datetime for datetimes."""
    if isinstance(value, str):
        if spec.type == "datetime":
            return to_utc_datetime(value)
        if spec.case_insensitive:
            return value.lower()
    return value


def compile_sort(keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``keys``, highest priority first.

    NULL placement is pinned to PostgreSQL's default (NULLs sort as the largest value) so that SQLite-backed
    tests and PostgreSQL deployments return the same order. Callers should append a unique column as a final
    tie-breaker when they paginate.
    """
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        column = columns[key.attribute]
        clauses.append(column.desc().nulls_first() if key.descending else column.asc().nulls_last())
    return clauses
