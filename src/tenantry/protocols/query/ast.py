"""Syntax tree and attribute whitelist of Wristband's list query language.

The tree is deliberately "dumb": values stay exactly as the client wrote them (datetimes remain ISO-8601
strings, case-insensitive values keep their case) so that :func:`format_query` can print a tree back to
text that parses to an identical tree. Interpretation - lower-casing, converting datetimes - is the job of
the backend compiler, which needs :func:`to_utc_datetime` to agree with the parser's validation.

Trees produced by the parser are in a normal form that makes equality meaningful: a :class:`BoolOp` has at
least two operands and never directly contains a :class:`BoolOp` with the same operator (``a and (b and
c)`` is flattened to one ``and`` with three operands).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeAlias

ScalarValue: TypeAlias = str | int | bool
"""A single literal. ``bool`` is listed apart from ``int`` because it means something else."""

Value: TypeAlias = ScalarValue | tuple[ScalarValue, ...] | None
"""``None`` is the ``null`` keyword (``eq``/``ne`` only); a tuple is the value list of ``in``/``nin``."""

AttributeType: TypeAlias = Literal["string", "boolean", "integer", "datetime"]

ALL_OPERATORS: frozenset[str] = frozenset({"eq", "ne", "sw", "lt", "le", "gt", "ge", "in", "nin"})
LIST_OPERATORS: frozenset[str] = frozenset({"in", "nin"})
NULL_OPERATORS: frozenset[str] = frozenset({"eq", "ne"})

# Operators that make sense for a type at all. An AttributeSpec's own ``operators`` is intersected with this,
# so the permissive default (ALL_OPERATORS) never lets a client ask for e.g. "starts with" on a boolean.
_TYPE_OPERATORS: dict[str, frozenset[str]] = {
    "string": ALL_OPERATORS,
    "boolean": frozenset({"eq", "ne", "in", "nin"}),
    "integer": ALL_OPERATORS - {"sw"},
    "datetime": ALL_OPERATORS - {"sw"},
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<attribute> <op> <value>``; ``attribute`` is always the canonical (whitelisted) name."""

    attribute: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class BoolOp:
    """An n-ary ``and``/``or``; n-ary rather than binary so that chains don't nest and printing stays flat."""

    op: Literal["and", "or"]
    operands: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise ValueError(f"BoolOp operator must be 'and' or 'or', not {self.op!r}")
        # A one-operand BoolOp would print without its keyword and so could not survive a round trip.
        if len(self.operands) < 2:
            raise ValueError("BoolOp needs at least two operands")


Expr: TypeAlias = Comparison | BoolOp


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """Whitelist entry: what a client may filter and sort on, and how its values are typed.

    ``case_insensitive`` tells the compiler that the mapped column holds a lower-cased key (such as
    ``email_key``) so values must be lower-cased too; the parser leaves them untouched.
    """

    name: str
    type: AttributeType = "string"
    case_insensitive: bool = False
    operators: frozenset[str] = ALL_OPERATORS
    sortable: bool = True
    filterable: bool = True

    def __post_init__(self) -> None:
        if self.type not in _TYPE_OPERATORS:
            raise ValueError(f"Unknown attribute type {self.type!r} for attribute {self.name!r}")
        unknown = self.operators - ALL_OPERATORS
        if unknown:
            raise ValueError(f"Unknown operators {sorted(unknown)} for attribute {self.name!r}")

    @property
    def allowed_operators(self) -> frozenset[str]:
        """The operators a query may actually use on this attribute."""
        return self.operators & _TYPE_OPERATORS[self.type]


def to_utc_datetime(text: str) -> datetime:
    """Interpret an ISO-8601 query value as an aware UTC datetime.

    Shared by the parser (to reject bad values up front, so compiling never fails on user input) and by
    backends (to bind the value). A trailing ``Z`` is accepted; a value without an offset is taken as UTC,
    which is what every timestamp the server emits is in. Raises ``ValueError`` for anything else, including
    values that are valid ISO-8601 but fall outside ``datetime``'s range once converted to UTC.
    """
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(candidate)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 datetime") from exc
