"""Property tests: printing round-trips, and no input makes the parsers raise anything but QueryError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantry.protocols.query import (
    AttributeSpec,
    BoolOp,
    Comparison,
    Expr,
    QueryError,
    format_query,
    parse_fields,
    parse_query,
    parse_sort,
    select_fields,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in (
        AttributeSpec("status"),
        AttributeSpec("email", case_insensitive=True),
        AttributeSpec("emailVerified", type="boolean"),
        AttributeSpec("loginCount", type="integer"),
        AttributeSpec("createdAt", type="datetime"),
        AttributeSpec("tenantId", operators=frozenset({"eq", "in"})),
    )
}

# Characters that stress quoting and tokenizing, mixed with arbitrary ones (NUL is rejected by design).
STRING_VALUES = st.text(
    alphabet=st.one_of(st.sampled_from('"\\ ()%_,\t\n'), st.characters(exclude_characters="\x00")),
    max_size=12,
)
INTEGER_VALUES = st.integers(min_value=-(2**63), max_value=2**63 - 1)
DATETIME_VALUES = st.builds(
    lambda moment, offset_minutes, style: (
        moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
        if style == "z"
        else moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat()
        if style == "offset"
        else moment.isoformat()
    ),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.sampled_from(["z", "offset", "naive"]),
)
VALUES_BY_TYPE = {
    "string": STRING_VALUES,
    "boolean": st.booleans(),
    "integer": INTEGER_VALUES,
    "datetime": DATETIME_VALUES,
}


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    spec = draw(st.sampled_from(list(ATTRIBUTES.values())))
    op = draw(st.sampled_from(sorted(spec.allowed_operators)))
    values = VALUES_BY_TYPE[spec.type]
    if op in ("in", "nin"):
        return Comparison(spec.name, op, tuple(draw(st.lists(values, min_size=1, max_size=4))))
    if op in ("eq", "ne") and draw(st.integers(min_value=0, max_value=4)) == 0:  # null, now and then
        return Comparison(spec.name, op, None)
    return Comparison(spec.name, op, draw(values))


def _bool_op(op: str, operands: list[Expr]) -> Expr:
    """Build parser normal form: children with the same operator are merged into the parent."""
    flat: list[Expr] = []
    for operand in operands:
        if isinstance(operand, BoolOp) and operand.op == op:
            flat.extend(operand.operands)
        else:
            flat.append(operand)
    return BoolOp("and" if op == "and" else "or", tuple(flat))


EXPRESSIONS: st.SearchStrategy[Expr] = st.recursive(
    comparisons(),
    lambda children: st.builds(_bool_op, st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=4)),
    max_leaves=25,
)


@SETTINGS
@given(EXPRESSIONS)
def test_format_then_parse_round_trips(expr: Expr) -> None:
    assert parse_query(format_query(expr), ATTRIBUTES) == expr


QUERY_TOKENS = [
    *ATTRIBUTES,
    "STATUS",
    "unknown",
    *("eq", "ne", "sw", "lt", "le", "gt", "ge", "in", "nin", "EQ", "like"),
    *("and", "or", "AND", "Or", "true", "false", "null", "0", "-1", "99999999999999999999", "1.5"),
    *("(", ")", ",", '"', '"a"', '"2024-01-01T00:00:00Z"', '"\\"', '"\\\\"', "\\", '"\\x"', '"true"'),
]
TOKEN_SOUP = st.lists(st.sampled_from(QUERY_TOKENS), max_size=30).flatmap(
    lambda tokens: st.sampled_from([" ", "", "  \t"]).map(lambda sep: sep.join(tokens))
)


def _parse_or_query_error(text: str) -> None:
    try:
        expr = parse_query(text, ATTRIBUTES)
    except QueryError as error:
        assert error.parameter == "query"
        assert error.message
        return
    # Anything accepted must also survive canonical printing.
    assert parse_query(format_query(expr), ATTRIBUTES) == expr


@SETTINGS
@given(st.text())
def test_arbitrary_text_raises_only_query_error(text: str) -> None:
    _parse_or_query_error(text)


@SETTINGS
@given(TOKEN_SOUP)
def test_token_soup_raises_only_query_error(text: str) -> None:
    _parse_or_query_error(text)


@SETTINGS
@given(st.integers(min_value=0, max_value=80), st.integers(min_value=0, max_value=80), TOKEN_SOUP)
def test_unbalanced_parentheses_raise_only_query_error(opening: int, closing: int, middle: str) -> None:
    _parse_or_query_error("(" * opening + middle + ")" * closing)


SORT_TOKENS = [*ATTRIBUTES, "createdat", "bogus", ":", "asc", "DESC", "up", ",", " ", ""]


@SETTINGS
@given(st.one_of(st.text(), st.lists(st.sampled_from(SORT_TOKENS), max_size=12).map("".join)))
def test_sort_raises_only_query_error(text: str) -> None:
    try:
        keys = parse_sort(text, ATTRIBUTES)
    except QueryError as error:
        assert error.parameter == "sort_by"
        return
    assert len({key.attribute for key in keys}) == len(keys)
    assert all(key.attribute in ATTRIBUTES for key in keys)


FIELD_TOKENS = ["id", "roles", "name", "metadata", "public", ".", ",", " ", "$x", "-", ""]
DOCUMENT = {
    "id": "1",
    "roles": [{"id": "r", "name": "n"}, "scalar", [{"name": "deep"}]],
    "metadata": {"public": {"id": 2}, "name": None},
}


@SETTINGS
@given(st.one_of(st.text(), st.lists(st.sampled_from(FIELD_TOKENS), max_size=12).map("".join)))
def test_fields_raise_only_query_error_and_select_a_subset(text: str) -> None:
    try:
        selection = parse_fields(text)
    except QueryError as error:
        assert error.parameter == "fields"
        return
    selected = select_fields(DOCUMENT, selection)
    assert set(selected) <= set(DOCUMENT)
