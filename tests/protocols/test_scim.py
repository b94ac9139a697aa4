"""SCIM 2.0 pieces without a server: the User mapping, PATCH, filters, attribute selection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.protocols.query.ast import BoolOp, Comparison
from tenantry.protocols.scim.errors import ScimError
from tenantry.protocols.scim.filter import user_filter
from tenantry.protocols.scim.patch import apply_patch
from tenantry.protocols.scim.projection import project
from tenantry.protocols.scim.users import directory_user

BASE: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "u1",
    "userName": "ada@example.com",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "emails": [{"value": "ada@example.com"}],
    "active": True,
}


def test_a_directory_user_takes_the_primary_email_and_lenient_fields_only_when_valid() -> None:
    user = directory_user(
        {
            "USERNAME": "ada",
            "emails": [{"value": "home@example.com"}, {"value": "work@example.com", "primary": True}],
            "name": {"Formatted": "Ada King", "givenName": "Ada"},
            "locale": "not a locale!",
            "timezone": "Europe/London",
            "phoneNumbers": [{"value": "+442071234567"}],
            "active": "False",
            "roles": [{"value": "admin"}],
        }
    )
    assert user.email == "work@example.com" and user.active is False
    profile = user.profile
    assert profile["username"] == "ada" and profile["fullName"] == "Ada King" and profile["givenName"] == "Ada"
    assert profile["locale"] is None and profile["timeZone"] == "Europe/London"
    assert profile["phoneNumber"] == "+442071234567" and profile["familyName"] is None
    assert "birthdate" not in profile  # not a directory's field: a replace leaves it alone


def test_a_username_that_is_an_address_stands_for_a_missing_email() -> None:
    assert directory_user({"userName": "grace@example.com"}).email == "grace@example.com"
    with pytest.raises(ScimError) as missing:
        directory_user({"userName": "grace"})
    assert missing.value.status == 400 and missing.value.scim_type == "invalidValue"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"userName": ""},
        {"userName": 7},
        {"userName": "a b"},
        {"userName": "a", "name": "Ada"},
        {"userName": "a", "active": 1},
    ],
)
def test_bad_user_bodies_are_invalid_values(body: dict[str, Any]) -> None:
    with pytest.raises(ScimError) as refused:
        directory_user({"emails": [{"value": "x@example.com"}], **body})
    assert refused.value.scim_type == "invalidValue"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(BASE, {"Operations": list(operations)})


def test_patch_paths_and_values() -> None:
    assert patch({"op": "replace", "value": {"active": False, "displayName": "A"}})["displayName"] == "A"
    assert patch({"op": "Replace", "path": "NAME.givenName", "value": "Augusta"})["name"] == {
        "givenName": "Augusta",
        "familyName": "Lovelace",
    }
    selected = patch({"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"})
    assert selected["emails"] == [{"value": "new@example.com"}]
    assert patch({"op": "remove", "path": "name.familyName"})["name"] == {"givenName": "Ada"}
    assert "name" not in patch({"op": "remove", "path": "name"})
    added = patch({"op": "add", "path": "emails", "value": [{"value": "second@example.com"}]})
    assert [e["value"] for e in added["emails"]] == ["ada@example.com", "second@example.com"]
    urn = patch({"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "Countess"})
    assert urn["nickName"] == "Countess"
    other_schema = {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
    assert patch({**other_schema, "value": "R&D"}) == BASE
    assert BASE["name"] == {"givenName": "Ada", "familyName": "Lovelace"}  # the input is not changed


def test_patch_follows_rfc_7644_on_complex_values_filters_and_unknown_attributes() -> None:
    merged = patch({"op": "replace", "path": "name", "value": {"givenName": "Augusta"}})
    assert merged["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}  # §3.5.2.3
    pathless = patch({"op": "replace", "value": {"name": {"middleName": "King"}}})
    assert pathless["name"] == {"givenName": "Ada", "familyName": "Lovelace", "middleName": "King"}
    other = patch({"op": "remove", "path": 'emails[value eq "home@example.com"].value'})
    assert other["emails"] == BASE["emails"]  # the filter does not select the value kept
    same = patch({"op": "replace", "path": 'emails[value eq "ADA@example.com"]', "value": {"value": "new@x.io"}})
    assert same["emails"] == [{"value": "new@x.io"}]
    assert patch({"op": "add", "value": {f"k{i}": i for i in range(50_000)}}) == BASE  # unknown: dropped, fast
    assert patch({"op": "add", "path": "addresses", "value": [{"formatted": "x"}]}) == BASE


def test_an_unsaid_active_is_none() -> None:
    assert directory_user({"userName": "a@b.io"}).active is None
    assert directory_user({"userName": "a@b.io", "active": "True"}).active is True


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"Operations": []}, "invalidSyntax"),
        ({"Operations": "replace"}, "invalidSyntax"),
        ({"Operations": [{"op": "copy", "path": "a"}]}, "invalidSyntax"),
        ({"Operations": [{"op": "remove"}]}, "noTarget"),
        ({"Operations": [{"op": "replace", "path": "a b c"}]}, "invalidPath"),
        ({"Operations": [{"op": "replace", "value": "x"}]}, "invalidValue"),
        ({"Operations": [{"op": "add", "path": "x"}] * 101}, "invalidSyntax"),
    ],
)
def test_bad_patches(body: dict[str, Any], scim_type: str) -> None:
    with pytest.raises(ScimError) as refused:
        apply_patch(BASE, body)
    assert refused.value.status == 400 and refused.value.scim_type == scim_type


def test_filters_are_restricted_to_the_provider_and_renamed() -> None:
    assert user_filter(None, "p1", USER_LISTING.attributes) == Comparison("identityProviderId", "eq", "p1")
    parsed = user_filter('USERNAME eq "Ada" and emails.value eq "a@b.c"', "p1", USER_LISTING.attributes)
    assert isinstance(parsed, BoolOp) and parsed.operands[0] == Comparison("identityProviderId", "eq", "p1")
    inner = parsed.operands[1]
    assert isinstance(inner, BoolOp)
    assert [c.attribute for c in inner.operands if isinstance(c, Comparison)] == ["username", "email"]
    for bad in ('userName co "a"', "userName pr", 'not (userName eq "a")', 'emails[type eq "work"]', "status eq x"):
        with pytest.raises(ScimError) as refused:
            user_filter(bad, "okta", USER_LISTING.attributes)
        assert refused.value.scim_type == "invalidFilter"


def test_attribute_selection() -> None:
    assert project(BASE, "name.givenName", None) == {
        "schemas": BASE["schemas"],
        "id": "u1",
        "name": {"givenName": "Ada"},
    }
    assert set(project(BASE, "urn:ietf:params:scim:schemas:core:2.0:User:userName", None)) == {
        "schemas",
        "id",
        "userName",
    }
    assert "emails" not in project(BASE, None, "Emails") and "id" in project(BASE, None, "id")
    assert project(BASE, None, "name.familyName")["name"] == {"givenName": "Ada"}
    assert project(BASE, None, None) is BASE


# --- any input: a result or a ScimError, never another exception (a 500) -------------------------

NAMES = st.sampled_from(
    [
        "userName",
        "name",
        "emails",
        "active",
        "externalId",
        "phoneNumbers",
        "value",
        "op",
        "path",
        "Operations",
        "givenName",
        "primary",
        "type",
        "locale",
        "timezone",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "ada@example.com",
            "True",
            "false",
            "add",
            "Replace",
            "remove",
            'emails[type eq "work"].value',
            "name.givenName",
            'emails[value eq "ada@example.com"]',
            "urn:ietf:params:scim:schemas:core:2.0:User:active",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(NAMES, st.text(max_size=6)), inner, max_size=5)
    ),
    max_leaves=25,
)
OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "Replace", "remove", "move", 3])},
        optional={"path": st.one_of(SCALARS, NAMES), "value": JSON},
    ),
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(JSON, st.dictionaries(NAMES, JSON, max_size=4))
def test_any_json_body_becomes_a_user_or_a_scim_error(body: Any, overrides: dict[str, Any]) -> None:
    """Random bodies, and a valid body with random attributes laid over it (to reach past the
    first check)."""
    for candidate in (body, {"userName": "ada", "emails": [{"value": "a@b.io"}], **overrides}):
        try:
            directory_user(candidate if isinstance(candidate, dict) else {"userName": candidate})
        except ScimError as error:
            assert error.status == 400


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"Operations": OPERATIONS})))
def test_any_patch_body_applies_or_is_a_scim_error(body: Any) -> None:
    try:
        patched = apply_patch(BASE, body)
    except ScimError as error:
        assert error.status == 400
        return
    try:
        directory_user(patched)
    except ScimError as error:
        assert error.status == 400


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=20)))
def test_any_filter_or_attribute_list_is_handled(text: str, attributes: str | None, excluded: str | None) -> None:
    try:
        user_filter(text, "p1", USER_LISTING.attributes)
    except ScimError as error:
        assert error.scim_type == "invalidFilter"
    project(BASE, attributes, excluded)
