"""Parsers for the ``query``, ``sort_by`` and ``fields`` parameters of list endpoints.

These functions take untrusted text straight from a URL, so the contract is strict: for *any* input they
either return a result or raise :class:`QueryError` - never ``RecursionError``, ``IndexError`` or the like,
which a web layer would turn into a 500. Hence the hard limits on length, nesting and comparisons, and a
recursive-descent parser whose recursion is bounded by ``MAX_DEPTH`` rather than by the input.

Positions in messages are 1-based character offsets, because they are meant to be read by people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from tenantry.protocols.query.ast import (
    ALL_OPERATORS,
    LIST_OPERATORS,
    NULL_OPERATORS,
    AttributeSpec,
    BoolOp,
    Comparison,
    Expr,
    ScalarValue,
    Value,
    to_utc_datetime,
)

MAX_LENGTH = 4000
MAX_DEPTH = 32
MAX_COMPARISONS = 100
MAX_FIELDS = 100

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

Parameter: TypeAlias = Literal["query", "sort_by", "fields"]


class QueryError(ValueError):
    """A client error in one of the list parameters; ``str(error)`` is the human-readable ``message``."""

    def __init__(self, parameter: Parameter, message: str) -> None:
        super().__init__(message)
        self.parameter: Parameter = parameter
        self.message = message


@dataclass(frozen=True, slots=True)
class SortKey:
    attribute: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class FieldSelection:
    """Requested ``fields``, as dotted paths split into segments, de-duplicated, in request order."""

    paths: tuple[tuple[str, ...], ...]


# --------------------------------------------------------------------------------------------------- query

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_SINGLE_CHAR_TOKENS = {"(": "lparen", ")": "rparen", ",": "comma"}
_WORD_BREAKERS = frozenset('()",')

_TokenKind: TypeAlias = Literal["word", "string", "lparen", "rparen", "comma", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    value: str  # decoded content for strings, the raw text otherwise
    raw: str  # as written, for error messages
    position: int  # 0-based offset into the query


def _error(message: str) -> QueryError:
    return QueryError("query", message)


def _shown(token: _Token) -> str:
    raw = token.raw if len(token.raw) <= 40 else token.raw[:37] + "..."
    return f"'{raw}'"


def _tokenize(text: str) -> list[_Token]:
    """Split into tokens; whitespace only separates, and ``(``, ``)``, ``,`` and quotes also delimit."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _SINGLE_CHAR_TOKENS:
            kind: _TokenKind = "lparen" if char == "(" else "rparen" if char == ")" else "comma"
            tokens.append(_Token(kind, char, char, i))
            i += 1
        elif char == '"':
            i = _read_string(text, i, tokens)
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _WORD_BREAKERS:
                i += 1
            tokens.append(_Token("word", text[start:i], text[start:i], start))
    tokens.append(_Token("end", "", "end of query", n))
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    """Read the quoted string opening at ``start``; return the offset just past its closing quote."""
    chars: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            tokens.append(_Token("string", "".join(chars), text[start : i + 1], start))
            return i + 1
        if char == "\\":
            escaped = text[i + 1] if i + 1 < n else ""
            if escaped not in ('"', "\\"):
                shown = "\\" + escaped if escaped else "\\"
                raise _error(f"Invalid escape sequence '{shown}' at position {i + 1} (only \\\" and \\\\ are allowed)")
            chars.append(escaped)
            i += 2
            continue
        if char == "\x00":
            # PostgreSQL cannot store or compare NUL in text, so reject it here instead of failing in the DB.
            raise _error(f"NUL character in string at position {i + 1}")
        chars.append(char)
        i += 1
    raise _error(f"Unterminated string starting at position {start + 1}")


class _Parser:
    """Recursive descent over ``or_expr := and_expr (OR and_expr)*``, ``and_expr := primary (AND primary)*``,
    ``primary := '(' or_expr ')' | comparison``. Only parentheses recurse, and they are capped at MAX_DEPTH.
    """

    def __init__(self, tokens: list[_Token], attributes: Mapping[str, AttributeSpec]) -> None:
        self._tokens = tokens
        self._index = 0
        self._attributes = attributes
        self._by_lower_name = {name.lower(): name for name in attributes}
        self._comparisons = 0

    def parse(self) -> Expr:
        if self._peek().kind == "end":
            raise _error("Query expression is empty")
        expr = self._or_expr(0)
        token = self._peek()
        if token.kind != "end":
            raise self._unexpected(token, "'and', 'or' or the end of the query")
        return expr

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":  # the end token is sticky, so lookahead past it can never go out of range
            self._index += 1
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind == "word" and token.value.lower() == keyword

    @staticmethod
    def _unexpected(token: _Token, expected: str) -> QueryError:
        if token.kind == "end":
            return _error(f"Unexpected end of query, expected {expected}")
        return _error(f"Unexpected token {_shown(token)} at position {token.position + 1}, expected {expected}")

    def _or_expr(self, depth: int) -> Expr:
        operands = [self._and_expr(depth)]
        while self._at_keyword("or"):
            self._advance()
            operands.append(self._and_expr(depth))
        return _combine("or", operands)

    def _and_expr(self, depth: int) -> Expr:
        operands = [self._primary(depth)]
        while self._at_keyword("and"):
            self._advance()
            operands.append(self._primary(depth))
        return _combine("and", operands)

    def _primary(self, depth: int) -> Expr:
        token = self._peek()
        if token.kind != "lparen":
            return self._comparison()
        if depth >= MAX_DEPTH:
            raise _error(f"Query is nested too deeply (at most {MAX_DEPTH} levels of parentheses)")
        self._advance()
        expr = self._or_expr(depth + 1)
        closing = self._advance()
        if closing.kind != "rparen":
            raise self._unexpected(closing, "')'")
        return expr

    def _comparison(self) -> Comparison:
        token = self._advance()
        if token.kind != "word" or not _IDENTIFIER.fullmatch(token.value):
            raise self._unexpected(token, "an attribute name or '('")
        name = self._by_lower_name.get(token.value.lower())
        if name is None:
            if token.value.lower() in ("and", "or"):  # "a and or b" is a grammar slip, not a bad attribute
                raise self._unexpected(token, "an attribute name or '('")
            raise _error(f"Unknown query attribute '{token.value}'")
        spec = self._attributes[name]
        if not spec.filterable:
            raise _error(f"Attribute '{name}' cannot be used in a query")

        op_token = self._advance()
        if op_token.kind != "word":
            raise self._unexpected(op_token, "an operator")
        op = op_token.value.lower()
        if op not in ALL_OPERATORS:
            raise _error(f"Unknown operator {_shown(op_token)} at position {op_token.position + 1}")
        if op not in spec.allowed_operators:
            raise _error(f"Operator '{op}' is not supported for attribute '{name}'")

        value: Value = self._value_list(name, spec, op) if op in LIST_OPERATORS else self._value(name, spec, op)
        self._comparisons += 1
        if self._comparisons > MAX_COMPARISONS:
            raise _error(f"Query has too many comparisons (at most {MAX_COMPARISONS})")
        return Comparison(name, op, value)

    def _value_list(self, name: str, spec: AttributeSpec, op: str) -> tuple[ScalarValue, ...]:
        opening = self._advance()
        if opening.kind != "lparen":
            raise self._unexpected(opening, f"'(' after '{op}'")
        if self._peek().kind == "rparen":
            raise _error(f"The value list of '{op}' for attribute '{name}' must not be empty")
        values: list[ScalarValue] = []
        while True:
            item = self._value(name, spec, op)
            if item is None:
                raise _error(f"null is not allowed in the value list of '{op}'")
            values.append(item)
            separator = self._advance()
            if separator.kind == "rparen":
                return tuple(values)
            if separator.kind != "comma":
                raise self._unexpected(separator, "',' or ')'")

    def _value(self, name: str, spec: AttributeSpec, op: str) -> ScalarValue | None:
        token = self._advance()
        if token.kind not in ("word", "string"):
            raise self._unexpected(token, "a value")
        if token.kind == "word" and token.value.lower() == "null":
            if op not in NULL_OPERATORS:
                raise _error(f"null can only be compared with 'eq' or 'ne' (position {token.position + 1})")
            return None
        value = _convert(token, spec)
        if value is None:
            raise _error(
                f"Invalid value {_shown(token)} at position {token.position + 1}: "
                f"attribute '{name}' expects {_EXPECTED[spec.type]}"
            )
        return value


_EXPECTED = {
    "string": 'a double-quoted string such as "ACTIVE"',
    "boolean": "true or false",
    "integer": "an integer",
    "datetime": 'a double-quoted ISO-8601 datetime such as "2024-01-31T12:00:00Z"',
}


def _convert(token: _Token, spec: AttributeSpec) -> ScalarValue | None:
    """Type a literal for ``spec``, or return None if it doesn't fit.

    Booleans and integers may also be quoted ("true", "42"): clients that quote every value shouldn't be
    punished, and the tree holds the typed value so printing it back still round-trips.
    """
    text, quoted = token.value, token.kind == "string"
    if spec.type == "string":
        return text if quoted else None
    if spec.type == "datetime":
        if not quoted:
            return None
        try:
            to_utc_datetime(text)
        except ValueError:
            return None
        return text
    if spec.type == "boolean":
        lowered = text.lower()
        return True if lowered == "true" else False if lowered == "false" else None
    if _INTEGER.fullmatch(text):
        number = int(text)
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
    return None


def _combine(op: Literal["and", "or"], operands: list[Expr]) -> Expr:
    """Build the normal form: single operands unwrapped, same-operator children flattened."""
    if len(operands) == 1:
        return operands[0]
    flat: list[Expr] = []
    for operand in operands:
        if isinstance(operand, BoolOp) and operand.op == op:
            flat.extend(operand.operands)
        else:
            flat.append(operand)
    return BoolOp(op, tuple(flat))


def parse_query(text: str, attributes: Mapping[str, AttributeSpec]) -> Expr:
    """Parse a ``query`` parameter against a whitelist keyed by canonical attribute name.

    Attribute names, operators and keywords (``and``, ``or``, ``true``, ``false``, ``null``) are matched
    case-insensitively; the tree always carries the canonical attribute name and lower-case operator.
    An empty expression is an error: callers should treat an absent parameter as "no filter" themselves.
    """
    if len(text) > MAX_LENGTH:
        raise _error(f"Query is too long ({len(text)} characters, at most {MAX_LENGTH})")
    return _Parser(_tokenize(text), attributes).parse()


def _format_value(value: ScalarValue | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_query(expr: Expr) -> str:
    """Print ``expr`` canonically, so that ``parse_query(format_query(e), attrs) == e`` for parsed trees.

    Nested BoolOps are always parenthesized, even where precedence would make it unnecessary, because the
    output is also read by people (e.g. in pagination links) and explicit grouping is easier to read.
    """
    if isinstance(expr, Comparison):
        if isinstance(expr.value, tuple):
            items = ", ".join(_format_value(item) for item in expr.value)
            return f"{expr.attribute} {expr.op} ({items})"
        return f"{expr.attribute} {expr.op} {_format_value(expr.value)}"
    parts = (
        f"({format_query(operand)})" if isinstance(operand, BoolOp) else format_query(operand)
        for operand in expr.operands
    )
    return f" {expr.op} ".join(parts)


# ------------------------------------------------------------------------------------------------- sort_by


def parse_sort(text: str | None, attributes: Mapping[str, AttributeSpec]) -> tuple[SortKey, ...]:
    """Parse ``sort_by=<attr>[:asc|:desc],...``; earlier keys take priority. Absent or blank means no keys."""
    if text is None or not text.strip():
        return ()
    if len(text) > MAX_LENGTH:
        raise QueryError("sort_by", f"sort_by is too long ({len(text)} characters, at most {MAX_LENGTH})")
    by_lower_name = {name.lower(): name for name in attributes}
    keys: list[SortKey] = []
    seen: set[str] = set()
    for item in text.split(","):
        raw_name, has_direction, raw_direction = item.partition(":")
        raw_name = raw_name.strip()
        if not raw_name:
            raise QueryError("sort_by", "sort_by contains an empty entry")
        name = by_lower_name.get(raw_name.lower())
        if name is None:
            raise QueryError("sort_by", f"Unknown sort_by attribute '{raw_name}'")
        if not attributes[name].sortable:
            raise QueryError("sort_by", f"Attribute '{name}' cannot be used in sort_by")
        direction = raw_direction.strip().lower() if has_direction else "asc"
        if direction not in ("asc", "desc"):
            raise QueryError(
                "sort_by", f"Invalid sort direction '{raw_direction.strip()}' for '{name}' (use asc or desc)"
            )
        if name in seen:
            raise QueryError("sort_by", f"Attribute '{name}' appears more than once in sort_by")
        seen.add(name)
        keys.append(SortKey(name, direction == "desc"))
    return tuple(keys)


# -------------------------------------------------------------------------------------------------- fields

_FIELD_SEGMENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")

_Tree: TypeAlias = "dict[str, _Tree | None]"  # None: the whole value under this key is selected
_MISSING: Any = object()


def parse_fields(text: str | None) -> FieldSelection | None:
    """Parse ``fields=a,b,c.d``. Absent or blank means "all fields", signalled by ``None``.

    Field names are JSON property names and therefore case-sensitive, unlike query attributes.
    """
    if text is None or not text.strip():
        return None
    if len(text) > MAX_LENGTH:
        raise QueryError("fields", f"fields is too long ({len(text)} characters, at most {MAX_LENGTH})")
    paths: dict[tuple[str, ...], None] = {}  # an ordered set
    for item in text.split(","):
        field = item.strip()
        if not field:
            raise QueryError("fields", "fields contains an empty entry")
        segments = tuple(field.split("."))
        if not all(_FIELD_SEGMENT.fullmatch(segment) for segment in segments):
            raise QueryError("fields", f"Invalid field name '{field}'")
        if len(segments) > MAX_DEPTH:
            raise QueryError("fields", f"Field '{field[:60]}' is nested too deeply (max {MAX_DEPTH} levels)")
        paths[segments] = None
    if len(paths) > MAX_FIELDS:
        raise QueryError("fields", f"Too many fields requested (at most {MAX_FIELDS})")
    return FieldSelection(tuple(paths))


def _build_tree(selection: FieldSelection) -> _Tree:
    root: _Tree = {}
    for path in selection.paths:
        node = root
        for segment in path[:-1]:
            child = node.setdefault(segment, {})
            if child is None:  # an ancestor is selected whole, which already covers this path
                break
            node = child
        else:
            node[path[-1]] = None
    return root


def _project(value: Any, tree: _Tree) -> Any:
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if key not in tree:
                continue
            subtree = tree[key]
            projected = item if subtree is None else _project(item, subtree)
            if projected is not _MISSING:
                result[key] = projected
        return result
    if isinstance(value, list):
        return [projected for item in value if (projected := _project(item, tree)) is not _MISSING]
    return _MISSING  # a scalar has no sub-fields, so a path through it selects nothing


def select_fields(document: dict[str, Any], selection: FieldSelection | None) -> dict[str, Any]:
    """Keep only the selected fields of ``document`` (a shallow copy of it when ``selection`` is None).

    Paths that descend into a list apply to every element of it; a requested field that the document lacks
    is simply absent from the result, as is a path that runs into a scalar, so clients can ask for optional
    fields without probing first. Output keys keep the document's order.
    """
    if selection is None:
        return dict(document)
    projected: dict[str, Any] = _project(document, _build_tree(selection))
    return projected
