"""Contract tests: compiled list queries select exactly the expected rows from a real (SQLite) database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantry.adapters.sql.query import compile_query, compile_sort
from tenantry.protocols.query import (
    AttributeSpec,
    BoolOp,
    Comparison,
    Expr,
    ScalarValue,
    parse_query,
    parse_sort,
    to_utc_datetime,
)

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email_key", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("given_name", sa.String, nullable=True),
    sa.Column("login_count", sa.Integer, nullable=False),
)

ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in (
        AttributeSpec("email", case_insensitive=True),
        AttributeSpec("status"),
        AttributeSpec("emailVerified", type="boolean"),
        AttributeSpec("createdAt", type="datetime"),
        AttributeSpec("givenName"),
        AttributeSpec("loginCount", type="integer"),
    )
}
COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "email": users.c.email_key,
    "status": users.c.status,
    "emailVerified": users.c.email_verified,
    "createdAt": users.c.created_at,
    "givenName": users.c.given_name,
    "loginCount": users.c.login_count,
}


def _at(month: int, hour: int = 0) -> datetime:
    return datetime(2024, month, 1, hour, tzinfo=UTC)


ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "email_key": "alice@example.com",
        "status": "ACTIVE",
        "email_verified": True,
        "created_at": _at(1),
        "given_name": "Alice",
        "login_count": 5,
    },
    {
        "id": 2,
        "email_key": "bob@example.com",
        "status": "PENDING_INVITE_ACCEPTANCE",
        "email_verified": False,
        "created_at": _at(2),
        "given_name": None,
        "login_count": 0,
    },
    {
        "id": 3,
        "email_key": "100%_off@example.com",
        "status": "ACTIVE",
        "email_verified": True,
        "created_at": _at(3),
        "given_name": "Carol",
        "login_count": 12,
    },
    {
        "id": 4,
        "email_key": "100xxoff@example.com",
        "status": "CANCELED",
        "email_verified": False,
        "created_at": _at(4),
        "given_name": "Dave",
        "login_count": 3,
    },
    {
        "id": 5,
        "email_key": "a_b@example.com",
        "status": "COMPLETED",
        "email_verified": True,
        "created_at": _at(5, 12),
        "given_name": None,
        "login_count": 7,
    },
    {
        "id": 6,
        "email_key": 'quote"back\\slash@example.com',
        "status": "active",
        "email_verified": False,
        "created_at": _at(6),
        "given_name": "O'Brien",
        "login_count": -1,
    },
]


@pytest.fixture(scope="module")
def connection() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite+pysqlite:///:memory:")

    @sa.event.listens_for(engine, "connect")
    def _case_sensitive_like(dbapi_connection: Any, _record: Any) -> None:
        # SQLite's LIKE ignores ASCII case by default; PostgreSQL's does not. Match production semantics.
        dbapi_connection.execute("PRAGMA case_sensitive_like = ON")

    with engine.connect() as conn:
        metadata.create_all(conn)
        conn.execute(users.insert(), ROWS)
        yield conn
    engine.dispose()


def select_ids(connection: sa.Connection, query: str | None = None, sort_by: str | None = None) -> list[int]:
    statement = sa.select(users.c.id)
    if query is not None:
        statement = statement.where(compile_query(parse_query(query, ATTRIBUTES), COLUMNS, ATTRIBUTES))
    order = compile_sort(parse_sort(sort_by, ATTRIBUTES), COLUMNS)
    statement = statement.order_by(*order, users.c.id)
    return [row.id for row in connection.execute(statement)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('status eq "ACTIVE"', [1, 3]),
        ('status ne "ACTIVE"', [2, 4, 5, 6]),
        ('status ne "CANCELED" and status ne "COMPLETED"', [1, 2, 3, 6]),
        ('status in ("CANCELED", "COMPLETED")', [4, 5]),
        ('status nin ("CANCELED", "COMPLETED", "ACTIVE")', [2, 6]),
        ('status lt "B"', [1, 3]),
        ('status le "CANCELED"', [1, 3, 4]),
        ('status gt "CANCELED"', [2, 5, 6]),
        ('status ge "PENDING_INVITE_ACCEPTANCE"', [2, 6]),
        ('status sw "ACT"', [1, 3]),
        ('status sw "act"', [6]),  # case-sensitive for ordinary attributes
        ('givenName sw "O\'B"', [6]),
        ("emailVerified eq true", [1, 3, 5]),
        ("emailVerified ne true", [2, 4, 6]),
        ("emailVerified in (false)", [2, 4, 6]),
        ("emailVerified nin (true, false)", []),
        ("loginCount gt 3", [1, 3, 5]),
        ("loginCount le 3", [2, 4, 6]),
        ("loginCount lt 0", [6]),
        ("loginCount in (0, 12)", [2, 3]),
        ("loginCount nin (0, 12)", [1, 4, 5, 6]),
    ],
)
def test_operators(connection: sa.Connection, query: str, expected: list[int]) -> None:
    assert select_ids(connection, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('email eq "ALICE@Example.com"', [1]),
        ('email sw "BOB"', [2]),
        ('email in ("Alice@example.com", "BOB@EXAMPLE.COM")', [1, 2]),
        ('email ne "alice@EXAMPLE.com"', [2, 3, 4, 5, 6]),
        (r'email eq "QUOTE\"BACK\\SLASH@example.com"', [6]),
    ],
)
def test_case_insensitive_attribute_lowercases_values(
    connection: sa.Connection, query: str, expected: list[int]
) -> None:
    assert select_ids(connection, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('email sw "100%_"', [3]),  # unescaped, % and _ would also match 100xxoff
        ('email sw "100%"', [3]),
        ('email sw "a_"', [5]),  # unescaped, _ would also match "al"
        ('email sw "%"', []),
        ('email sw "_"', []),
        ('email sw ""', [1, 2, 3, 4, 5, 6]),
        ('email sw "quote\\"back\\\\"', [6]),
        ('email sw "100/"', []),  # "/" is SQLAlchemy's escape character and must be literal as well
    ],
)
def test_starts_with_treats_wildcards_literally(connection: sa.Connection, query: str, expected: list[int]) -> None:
    assert select_ids(connection, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('createdAt ge "2024-03-01T00:00:00Z"', [3, 4, 5, 6]),
        ('createdAt gt "2024-03-01T00:00:00Z"', [4, 5, 6]),
        ('createdAt lt "2024-02-01T01:00:00+01:00"', [1]),  # == 2024-02-01T00:00Z, exclusive
        ('createdAt le "2024-02-01T01:00:00+01:00"', [1, 2]),
        ('createdAt eq "2024-05-01T12:00:00"', [5]),  # no offset means UTC
        ('createdAt eq "2024-05-01T14:00:00+02:00"', [5]),
        ('createdAt ne "2024-05-01T12:00:00Z"', [1, 2, 3, 4, 6]),
        ('createdAt in ("2024-01-01T00:00:00Z", "2024-02-01")', [1, 2]),
    ],
)
def test_datetimes_compare_as_utc_instants(connection: sa.Connection, query: str, expected: list[int]) -> None:
    assert select_ids(connection, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("givenName eq null", [2, 5]),
        ("givenName ne null", [1, 3, 4, 6]),
        ('givenName ne "Alice"', [3, 4, 6]),  # SQL semantics: NULL is neither equal nor unequal
        ('givenName nin ("Alice")', [3, 4, 6]),
        ('givenName ne "Alice" or givenName eq null', [2, 3, 4, 5, 6]),
        ('givenName lt "D"', [1, 3]),
    ],
)
def test_null_handling(connection: sa.Connection, query: str, expected: list[int]) -> None:
    assert select_ids(connection, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('status eq "ACTIVE" or status eq "CANCELED" and emailVerified eq false', [1, 3, 4]),
        ('(status eq "ACTIVE" or status eq "CANCELED") and emailVerified eq false', [4]),
        ('status eq "ACTIVE" and (loginCount gt 10 or givenName eq "Alice")', [1, 3]),
        ('(((status eq "ACTIVE")))', [1, 3]),
    ],
)
def test_logic_and_grouping(connection: sa.Connection, query: str, expected: list[int]) -> None:
    assert select_ids(connection, query) == expected


def test_values_are_bound_parameters_not_sql_text(connection: sa.Connection) -> None:
    hostile = "x' OR '1'='1"
    clause = compile_query(
        parse_query(f'status eq "{hostile}" or emailVerified eq true', ATTRIBUTES), COLUMNS, ATTRIBUTES
    )
    compiled = sa.select(users.c.id).where(clause).compile(connection)
    assert hostile not in str(compiled)
    assert hostile in compiled.params.values()
    assert True in compiled.params.values()
    assert select_ids(connection, f'status eq "{hostile}"') == []


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        (None, [1, 2, 3, 4, 5, 6]),
        ("loginCount", [6, 2, 4, 1, 5, 3]),
        ("LOGINCOUNT:desc", [3, 5, 1, 4, 2, 6]),
        ("status:asc,createdAt:desc", [3, 1, 4, 5, 2, 6]),
        ("emailVerified:desc,createdAt:desc", [5, 3, 1, 6, 4, 2]),
        ("givenName", [1, 3, 4, 6, 2, 5]),  # NULLs last when ascending, as on PostgreSQL
        ("givenName:desc", [2, 5, 6, 4, 3, 1]),  # and first when descending
    ],
)
def test_sort_order(connection: sa.Connection, sort_by: str | None, expected: list[int]) -> None:
    assert select_ids(connection, sort_by=sort_by) == expected


def test_query_and_sort_together(connection: sa.Connection) -> None:
    assert select_ids(connection, "emailVerified eq true", "createdAt:desc") == [5, 3, 1]


# ------------------------------------------------------------------------------ differential property test


def _reference_value(value: ScalarValue, spec: AttributeSpec) -> Any:
    if isinstance(value, str) and spec.type == "datetime":
        return to_utc_datetime(value)
    if isinstance(value, str) and spec.case_insensitive:
        return value.lower()
    return value


COLUMN_NAMES = {attribute: column.name for attribute, column in COLUMNS.items() if isinstance(column, sa.Column)}


def _column_value(row: dict[str, Any], attribute: str) -> Any:
    return row[COLUMN_NAMES[attribute]]


def _reference_match(expr: Expr, row: dict[str, Any]) -> bool:
    """A plain-Python model of the SQL semantics.

    Treating comparisons with NULL as false is exact here: the language has no negation, so three-valued
    logic can only turn UNKNOWN into TRUE through NOT, which it cannot express.
    """
    if isinstance(expr, BoolOp):
        results = (_reference_match(operand, row) for operand in expr.operands)
        return all(results) if expr.op == "and" else any(results)
    actual = _column_value(row, expr.attribute)
    if expr.value is None:
        return (actual is None) == (expr.op == "eq")
    if actual is None:
        return False
    spec = ATTRIBUTES[expr.attribute]
    if isinstance(expr.value, tuple):
        values = [_reference_value(item, spec) for item in expr.value]
        return (actual in values) == (expr.op == "in")
    wanted = _reference_value(expr.value, spec)
    operations = {
        "eq": lambda: actual == wanted,
        "ne": lambda: actual != wanted,
        "lt": lambda: actual < wanted,
        "le": lambda: actual <= wanted,
        "gt": lambda: actual > wanted,
        "ge": lambda: actual >= wanted,
        "sw": lambda: actual.startswith(wanted),
    }
    return bool(operations[expr.op]())


def _strings(*pool: str) -> st.SearchStrategy[str]:
    noise = st.text(alphabet=st.sampled_from('aAbB%_/\\"@.1 '), max_size=5)
    prefixes = st.sampled_from(pool).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n]))
    return st.one_of(st.sampled_from(pool), prefixes, noise)


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "email": _strings(*(row["email_key"] for row in ROWS), "ALICE@EXAMPLE.COM", "100%_OFF"),
    "status": _strings(*(row["status"] for row in ROWS), "B", "D"),
    "givenName": _strings("Alice", "Carol", "Dave", "O'Brien", "C"),
    "emailVerified": st.booleans(),
    "loginCount": st.one_of(st.sampled_from([row["login_count"] for row in ROWS]), st.integers(-3, 15)),
    "createdAt": st.one_of(
        st.sampled_from([row["created_at"].isoformat() for row in ROWS]),
        st.datetimes(min_value=datetime(2023, 12, 1), max_value=datetime(2024, 7, 1)).map(
            lambda d: d.isoformat() + "Z"
        ),
    ),
}


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    name = draw(st.sampled_from(sorted(ATTRIBUTES)))
    op = draw(st.sampled_from(sorted(ATTRIBUTES[name].allowed_operators)))
    if op in ("in", "nin"):
        return Comparison(name, op, tuple(draw(st.lists(VALUES[name], min_size=1, max_size=3))))
    if op in ("eq", "ne") and draw(st.integers(min_value=0, max_value=5)) == 0:
        return Comparison(name, op, None)
    return Comparison(name, op, draw(VALUES[name]))


EXPRESSIONS = st.recursive(
    comparisons(),
    lambda children: st.builds(
        lambda op, operands: BoolOp(op, tuple(operands)),
        st.sampled_from(["and", "or"]),
        st.lists(children, min_size=2, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=EXPRESSIONS)
def test_compiled_queries_agree_with_reference_semantics(connection: sa.Connection, expr: Expr) -> None:
    clause = compile_query(expr, COLUMNS, ATTRIBUTES)
    actual = [row.id for row in connection.execute(sa.select(users.c.id).where(clause).order_by(users.c.id))]
    expected = [row["id"] for row in ROWS if _reference_match(expr, row)]
    assert actual == expected
