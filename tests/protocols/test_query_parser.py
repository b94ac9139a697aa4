"""Unit tests for the list query language: ``query``, ``sort_by`` and ``fields``."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.protocols.query import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_LENGTH,
    AttributeSpec,
    BoolOp,
    Comparison,
    FieldSelection,
    QueryError,
    SortKey,
    format_query,
    parse_fields,
    parse_query,
    parse_sort,
    select_fields,
    to_utc_datetime,
)

ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in (
        AttributeSpec("status"),
        AttributeSpec("email", case_insensitive=True),
        AttributeSpec("givenName"),
        AttributeSpec("emailVerified", type="boolean"),
        AttributeSpec("loginCount", type="integer"),
        AttributeSpec("createdAt", type="datetime"),
        AttributeSpec("tenantId", operators=frozenset({"eq", "in"})),
        AttributeSpec("secret", filterable=False, sortable=False),
    )
}


def parse(text: str) -> Any:
    return parse_query(text, ATTRIBUTES)


def query_error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.parameter == "query"
    assert str(info.value) == info.value.message
    return info.value


def eq(attribute: str, value: Any) -> Comparison:
    return Comparison(attribute, "eq", value)


# ------------------------------------------------------------------------------------------------ operators


@pytest.mark.parametrize("op", ["eq", "ne", "sw", "lt", "le", "gt", "ge"])
def test_scalar_operators(op: str) -> None:
    assert parse(f'status {op} "ACTIVE"') == Comparison("status", op, "ACTIVE")


@pytest.mark.parametrize("op", ["in", "nin"])
def test_list_operators(op: str) -> None:
    expected = Comparison("status", op, ("a", "b"))
    assert parse(f'status {op} ("a","b")') == expected
    assert parse(f'status {op} ( "a" , "b" )') == expected
    assert parse(f'status {op}("a",  "b")') == expected
    assert parse(f'status {op} ("a")') == Comparison("status", op, ("a",))


def test_wristband_doc_examples() -> None:
    assert parse('status eq "PENDING_INVITE_ACCEPTANCE"') == eq("status", "PENDING_INVITE_ACCEPTANCE")
    assert parse('status ne "CANCELED" and status ne "COMPLETED"') == BoolOp(
        "and", (Comparison("status", "ne", "CANCELED"), Comparison("status", "ne", "COMPLETED"))
    )


def test_typed_literals() -> None:
    assert parse("emailVerified eq true") == eq("emailVerified", True)
    assert parse("emailVerified ne FALSE") == Comparison("emailVerified", "ne", False)
    assert parse("emailVerified in (true, false)") == Comparison("emailVerified", "in", (True, False))
    assert parse("loginCount gt 3") == Comparison("loginCount", "gt", 3)
    assert parse("loginCount ge -12") == Comparison("loginCount", "ge", -12)
    assert parse("loginCount nin (1, 2)") == Comparison("loginCount", "nin", (1, 2))
    assert parse(f"loginCount le {2**63 - 1}") == Comparison("loginCount", "le", 2**63 - 1)


def test_quoted_booleans_and_integers_are_accepted_for_lenient_clients() -> None:
    assert parse('emailVerified eq "true"') == eq("emailVerified", True)
    assert parse('loginCount eq "7"') == eq("loginCount", 7)


def test_datetimes_stay_strings_in_the_tree() -> None:
    for text in (
        "2024-01-31T12:00:00Z",
        "2024-01-31T12:00:00.123456+02:00",
        "2024-01-31",
        "2024-01-31T12:00",
    ):
        assert parse(f'createdAt lt "{text}"') == Comparison("createdAt", "lt", text)


def test_null() -> None:
    assert parse("givenName eq null") == eq("givenName", None)
    assert parse("givenName ne NULL") == Comparison("givenName", "ne", None)
    assert parse("emailVerified eq null") == eq("emailVerified", None)
    # Quoted, it is just a string.
    assert parse('givenName eq "null"') == eq("givenName", "null")


# ----------------------------------------------------------------------------------------- logic & grouping


def test_and_binds_tighter_than_or() -> None:
    a, b, c = eq("status", "a"), eq("status", "b"), eq("status", "c")
    assert parse('status eq "a" or status eq "b" and status eq "c"') == BoolOp("or", (a, BoolOp("and", (b, c))))
    assert parse('status eq "a" and status eq "b" or status eq "c"') == BoolOp("or", (BoolOp("and", (a, b)), c))


def test_parentheses_override_precedence() -> None:
    a, b, c = eq("status", "a"), eq("status", "b"), eq("status", "c")
    assert parse('(status eq "a" or status eq "b") and status eq "c"') == BoolOp("and", (BoolOp("or", (a, b)), c))
    assert parse('((status eq "a"))') == a


def test_same_operator_chains_are_flattened() -> None:
    a, b, c, d = (eq("status", v) for v in "abcd")
    expected = BoolOp("and", (a, b, c, d))
    assert parse('status eq "a" and status eq "b" and status eq "c" and status eq "d"') == expected
    assert parse('(status eq "a" and status eq "b") and (status eq "c" and status eq "d")') == expected
    assert parse('status eq "a" or (status eq "b" or status eq "c")') == BoolOp("or", (a, b, c))


def test_keywords_operators_and_attributes_are_case_insensitive() -> None:
    expected = BoolOp("or", (eq("status", "x"), Comparison("emailVerified", "ne", True)))
    assert parse('STATUS EQ "x" OR emailverified Ne True') == expected
    assert parse('Status eq "x" oR EMAILVERIFIED ne true') == expected


def test_whitespace_runs_collapse() -> None:
    assert parse('  status \t eq\n"a"   and  status  eq  "b"  ') == BoolOp(
        "and", (eq("status", "a"), eq("status", "b"))
    )


def test_string_values_are_verbatim_including_case_and_spaces() -> None:
    # Lower-casing case-insensitive attributes is the backend's job, so the tree round-trips exactly.
    assert parse('email eq "Alice@Example.COM"') == eq("email", "Alice@Example.COM")
    assert parse('status eq "  two  spaces and (parens), commas "') == eq(
        "status", "  two  spaces and (parens), commas "
    )
    assert parse('status eq ""') == eq("status", "")


def test_escapes() -> None:
    assert parse(r'status eq "say \"hi\""') == eq("status", 'say "hi"')
    assert parse(r'status eq "back\\slash"') == eq("status", "back\\slash")
    assert parse(r'status eq "\\"') == eq("status", "\\")
    assert parse(r'status eq "\\\""') == eq("status", '\\"')


# ---------------------------------------------------------------------------------------------------- errors


def test_unexpected_token_reports_one_based_position() -> None:
    assert query_error('status eq "x")').message.startswith("Unexpected token ')' at position 14")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("status", "Unexpected end of query"),
        ("status eq", "Unexpected end of query"),
        ('status eq "a" and', "Unexpected end of query"),
        ('status eq "a" status eq "b"', "Unexpected token 'status' at position 15"),
        ('(status eq "a"', "Unexpected end of query, expected ')'"),
        ('status eq "a")', "Unexpected token ')'"),
        (")", "Unexpected token ')' at position 1"),
        ('status eq "a" and or status eq "b"', "Unexpected token 'or'"),
        ('status "a"', "expected an operator"),
        ('status == "a"', "Unknown operator '=='"),
        ('status like "a"', "Unknown operator 'like'"),
        ('"status" eq "a"', "expected an attribute name"),
        ('status eq ("a")', "Unexpected token '('"),
        ('status in "a"', "Unexpected token '\"a\"' at position 11, expected '(' after 'in'"),
        ('status in ("a",)', "Unexpected token ')'"),
        ('status in ("a" "b")', "expected ',' or ')'"),
        ('status in ("a"', "Unexpected end of query"),
        ('status eq "abc', "Unterminated string starting at position 11"),
        (r'status eq "a\n"', "Invalid escape sequence '\\n' at position 13"),
        ('status eq "a\\', "Invalid escape sequence"),
        ('status eq "a\x00"', "NUL character"),
        ("", "Query expression is empty"),
        ("   ", "Query expression is empty"),
    ],
)
def test_syntax_errors(text: str, fragment: str) -> None:
    assert fragment in query_error(text).message


def test_unknown_attribute() -> None:
    assert query_error('foo eq "x"').message == "Unknown query attribute 'foo'"


def test_attribute_that_is_not_filterable() -> None:
    assert query_error('secret eq "x"').message == "Attribute 'secret' cannot be used in a query"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('emailVerified sw "t"', "Operator 'sw' is not supported for attribute 'emailVerified'"),
        ("emailVerified gt false", "Operator 'gt' is not supported for attribute 'emailVerified'"),
        ('createdAt sw "2024"', "Operator 'sw' is not supported for attribute 'createdAt'"),
        ("loginCount sw 1", "Operator 'sw' is not supported for attribute 'loginCount'"),
        ('TENANTID ne "t"', "Operator 'ne' is not supported for attribute 'tenantId'"),
    ],
)
def test_operator_not_allowed_for_attribute(text: str, message: str) -> None:
    assert query_error(text).message == message


@pytest.mark.parametrize(
    ("text", "expects"),
    [
        ('emailVerified eq "yes"', "true or false"),
        ("emailVerified eq 1", "true or false"),
        ("emailVerified in (true, maybe)", "true or false"),
        ("status eq ACTIVE", "double-quoted string"),
        ("status eq true", "double-quoted string"),
        ("status eq 42", "double-quoted string"),
        ('loginCount eq "many"', "an integer"),
        ("loginCount eq 1.5", "an integer"),
        ("loginCount eq true", "an integer"),
        (f"loginCount eq {2**63}", "an integer"),
        ('createdAt gt "yesterday"', "ISO-8601"),
        ('createdAt gt "2024-13-01T00:00:00Z"', "ISO-8601"),
        ("createdAt gt 2024", "ISO-8601"),
        ('createdAt gt "0001-01-01T00:00:00+01:00"', "ISO-8601"),  # out of range once converted to UTC
    ],
)
def test_value_of_wrong_type(text: str, expects: str) -> None:
    message = query_error(text).message
    assert message.startswith("Invalid value ")
    assert expects in message


def test_empty_value_list() -> None:
    assert query_error("status in ()").message == "The value list of 'in' for attribute 'status' must not be empty"
    assert "must not be empty" in query_error("status nin ( )").message


@pytest.mark.parametrize("text", ["status lt null", "status sw null", "status in (null)", 'status nin ("a", null)'])
def test_null_only_with_eq_and_ne(text: str) -> None:
    assert "null can only be compared with 'eq' or 'ne'" in query_error(text).message


def test_length_limit() -> None:
    padding = " " * (MAX_LENGTH - len('status eq "a"'))
    assert parse('status eq "a"' + padding) == eq("status", "a")
    assert "too long" in query_error('status eq "a"' + padding + " ").message


def test_nesting_limit() -> None:
    def nested(depth: int) -> str:
        return "(" * depth + 'status eq "a"' + ")" * depth

    assert parse(nested(MAX_DEPTH)) == eq("status", "a")
    assert "nested too deeply" in query_error(nested(MAX_DEPTH + 1)).message
    assert "nested too deeply" in query_error("(" * 3000).message


def test_comparison_limit() -> None:
    def chain(count: int) -> str:
        return " or ".join(f"loginCount eq {i}" for i in range(count))

    result = parse(chain(MAX_COMPARISONS))
    assert isinstance(result, BoolOp)
    assert len(result.operands) == MAX_COMPARISONS
    assert "too many comparisons" in query_error(chain(MAX_COMPARISONS + 1)).message


def test_hostile_inputs_raise_only_query_errors() -> None:
    for text in ["(" * 5000, ")" * 5000, '"' * 5000, "\\" * 100, "status eq " + '"\\' * 10, "\x00", "\ud800"]:
        with pytest.raises(QueryError):
            parse(text)


# ------------------------------------------------------------------------------------------------ formatting


def test_format_quotes_escapes_and_parenthesizes() -> None:
    expr = BoolOp(
        "or",
        (
            BoolOp("and", (eq("status", 'a "quoted" \\ value'), Comparison("loginCount", "in", (1, -2)))),
            Comparison("emailVerified", "ne", False),
            eq("givenName", None),
        ),
    )
    text = format_query(expr)
    assert text == (
        r'(status eq "a \"quoted\" \\ value" and loginCount in (1, -2))'
        r" or emailVerified ne false or givenName eq null"
    )
    assert parse(text) == expr


def test_format_is_canonical_for_messy_input() -> None:
    messy = 'STATUS   EQ "x" AND (emailverified eq TRUE or loginCount in ( 1 ,2 ))'
    assert format_query(parse(messy)) == 'status eq "x" and (emailVerified eq true or loginCount in (1, 2))'


def test_boolop_requires_two_operands() -> None:
    with pytest.raises(ValueError):
        BoolOp("and", (eq("status", "a"),))


def test_attribute_spec_rejects_unknown_operators() -> None:
    with pytest.raises(ValueError):
        AttributeSpec("x", operators=frozenset({"eq", "like"}))


def test_to_utc_datetime() -> None:
    assert to_utc_datetime("2024-01-31T12:00:00Z").isoformat() == "2024-01-31T12:00:00+00:00"
    assert to_utc_datetime("2024-01-31T14:00:00+02:00").isoformat() == "2024-01-31T12:00:00+00:00"
    assert to_utc_datetime("2024-01-31T12:00:00").isoformat() == "2024-01-31T12:00:00+00:00"
    with pytest.raises(ValueError):
        to_utc_datetime("31/01/2024")


# --------------------------------------------------------------------------------------------------- sort_by


def test_sort_defaults_and_directions() -> None:
    assert parse_sort(None, ATTRIBUTES) == ()
    assert parse_sort("", ATTRIBUTES) == ()
    assert parse_sort("status", ATTRIBUTES) == (SortKey("status", descending=False),)
    assert parse_sort("CREATEDAT:DESC, email:asc ,loginCount", ATTRIBUTES) == (
        SortKey("createdAt", True),
        SortKey("email", False),
        SortKey("loginCount", False),
    )
    assert parse_sort("status : desc", ATTRIBUTES) == (SortKey("status", True),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "Unknown sort_by attribute 'foo'"),
        ("status:up", "Invalid sort direction 'up' for 'status' (use asc or desc)"),
        ("status:", "Invalid sort direction '' for 'status' (use asc or desc)"),
        ("status:asc:desc", "Invalid sort direction 'asc:desc' for 'status' (use asc or desc)"),
        ("status,", "sort_by contains an empty entry"),
        (",status", "sort_by contains an empty entry"),
        (":desc", "sort_by contains an empty entry"),
        ("status,STATUS:desc", "Attribute 'status' appears more than once in sort_by"),
        ("secret", "Attribute 'secret' cannot be used in sort_by"),
    ],
)
def test_sort_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_sort(text, ATTRIBUTES)
    assert info.value.parameter == "sort_by"
    assert info.value.message == message


def test_sort_length_limit() -> None:
    with pytest.raises(QueryError, match="too long"):
        parse_sort("status," * 1000, ATTRIBUTES)


# ---------------------------------------------------------------------------------------------------- fields


def test_parse_fields() -> None:
    assert parse_fields(None) is None
    assert parse_fields(" ") is None
    assert parse_fields("id, email ,metadata.public.plan,id") == FieldSelection(
        (("id",), ("email",), ("metadata", "public", "plan"))
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id,,email", "empty entry"),
        ("id,", "empty entry"),
        ("a..b", "Invalid field name 'a..b'"),
        (".a", "Invalid field name"),
        ("a b", "Invalid field name 'a b'"),
        ("a.(b)", "Invalid field name"),
        (".".join(["a"] * (MAX_DEPTH + 1)), "nested too deeply"),
        (",".join(f"f{i}" for i in range(101)), "Too many fields"),
        ("a," * 2001, "too long"),
    ],
)
def test_fields_errors(text: str, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_fields(text)
    assert info.value.parameter == "fields"
    assert fragment in info.value.message


USER: dict[str, Any] = {
    "id": "u1",
    "email": "a@example.com",
    "emailVerified": True,
    "metadata": {"public": {"plan": "pro", "seats": 3}, "private": {"note": "x"}},
    "roles": [
        {"id": "r1", "name": "admin", "permissions": [{"id": "p1", "action": "read"}]},
        {"id": "r2", "name": "viewer", "permissions": []},
    ],
    "nickname": None,
    "tags": ["a", "b"],
}


def select(fields: str | None) -> dict[str, Any]:
    return select_fields(USER, parse_fields(fields))


def test_select_all_when_omitted() -> None:
    result = select(None)
    assert result == USER
    assert result is not USER


def test_select_top_level_keeps_document_order() -> None:
    assert list(select("emailVerified,id")) == ["id", "emailVerified"]
    assert select("id,nickname") == {"id": "u1", "nickname": None}


def test_select_nested() -> None:
    assert select("metadata.public.plan") == {"metadata": {"public": {"plan": "pro"}}}
    assert select("metadata.public") == {"metadata": {"public": {"plan": "pro", "seats": 3}}}


def test_select_whole_parent_wins_over_child_in_any_order() -> None:
    expected = {"metadata": USER["metadata"]}
    assert select("metadata,metadata.public.plan") == expected
    assert select("metadata.public.plan,metadata") == expected


def test_select_through_lists_applies_to_each_element() -> None:
    assert select("roles.name") == {"roles": [{"name": "admin"}, {"name": "viewer"}]}
    assert select("roles.permissions.action") == {"roles": [{"permissions": [{"action": "read"}]}, {"permissions": []}]}
    assert select("tags") == {"tags": ["a", "b"]}


def test_select_unknown_fields_are_absent() -> None:
    assert select("id,missing,metadata.missing") == {"id": "u1", "metadata": {}}
    assert select("id.sub,tags.sub,emailVerified.x") == {"tags": []}  # scalars have no sub-fields
    assert select("nope") == {}
