"""Wristband's list query language: the ``query``, ``sort_by`` and ``fields`` parameters of list endpoints.

Reference: https://docs.wristband.dev/reference/query-expressions

This package is framework- and database-free: it turns parameter text into plain data (an expression tree,
sort keys, a field selection) and raises :class:`QueryError` for every client mistake, so the web layer can
map it to a 400 and a storage adapter can compile the tree (see ``tenantry.adapters.sql.query``).
"""

from tenantry.protocols.query.ast import (
    ALL_OPERATORS,
    AttributeSpec,
    AttributeType,
    BoolOp,
    Comparison,
    Expr,
    ScalarValue,
    Value,
    to_utc_datetime,
)
from tenantry.protocols.query.parser import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_LENGTH,
    FieldSelection,
    QueryError,
    SortKey,
    format_query,
    parse_fields,
    parse_query,
    parse_sort,
    select_fields,
)

__all__ = [
    "ALL_OPERATORS",
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_LENGTH",
    "AttributeSpec",
    "AttributeType",
    "BoolOp",
    "Comparison",
    "Expr",
    "FieldSelection",
    "QueryError",
    "ScalarValue",
    "SortKey",
    "Value",
    "format_query",
    "parse_fields",
    "parse_query",
    "parse_sort",
    "select_fields",
    "to_utc_datetime",
]
