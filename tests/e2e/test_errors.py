"""Error responses exactly as Wristband API §3.2: ``base_error`` / ``constraint_violations_error``
with a 26-character ticket, 4xx for every client mistake (never a 5xx), and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e._helpers import (
    active_tenant_count,
    assert_base_error,
    assert_violation,
    error_body,
    safe,
    user_body,
    user_count,
)
from tests.support import Api, rand

JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


@pytest.fixture
def api(any_api: Api) -> Api:
    """``any_api`` with crashes reported as 500 responses (so the assertion names the status)."""
    return safe(any_api)


def post_raw(api: Api, path: str, content: bytes | Iterator[bytes], **headers: str) -> httpx.Response:
    return api.call("POST", path, content=content, headers={**JSON, **headers})


# ------------------------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "text",
    [
        '{"tenantId": "%s", "identityProviderName": "wristband", "email": ',
        "{'tenantId': '%s'}",
        "tenantId=%s",
        '{"tenantId": "%s",}',
        "",
    ],
    ids=["truncated", "single-quotes", "form", "trailing-comma", "empty"],
)
def test_malformed_json_is_invalid_request(api, text):
    tenant = api.create_tenant()
    response = post_raw(api, "/users", (text.replace("%s", tenant["id"])).encode())
    assert_base_error(response, 400, "invalid_request")
    assert user_count(api, tenant["id"]) == 0


@pytest.mark.parametrize("text", ["[]", '[{"email": "a@example.com"}]', '"user"', "42", "true", "null"])
def test_json_that_is_not_an_object_is_refused(api, text):
    response = post_raw(api, "/users", text.encode())
    assert_base_error(response, 400, "invalid_request")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_numbers_are_invalid_request(api, literal):
    """RFC 8259 has no NaN/Infinity; PostgreSQL's json type refuses them too."""
    tenant = api.create_tenant()
    body = '{"tenantId": "%s", "identityProviderName": "wristband", "email": "%s", "publicMetadata": {"x": %s}}'
    response = post_raw(api, "/users", (body % (tenant["id"], f"{rand('u')}@example.com", literal)).encode())
    assert_base_error(response, 400, "invalid_request")
    assert user_count(api, tenant["id"]) == 0


def test_invalid_utf8_is_invalid_request(api):
    tenant = api.create_tenant()
    body = b'{"tenantId": "%s", "identityProviderName": "wristband", "email": "\xff\xfe@example.com"}'
    response = post_raw(api, "/users", body.replace(b"%s", tenant["id"].encode()))
    assert_base_error(response, 400, "invalid_request")
    assert user_count(api, tenant["id"]) == 0


@pytest.mark.parametrize("field", ["givenName", "publicMetadata"])
def test_lone_surrogate_escape_is_refused(api, field):
    """``"\\ud800"`` is syntactically JSON but not encodable as UTF-8: a 400, not a crash."""
    tenant = api.create_tenant()
    value = '"\\ud800"' if field == "givenName" else '{"k": "\\ud800"}'
    body = '{"tenantId": "%s", "identityProviderName": "wristband", "email": "%s", "%s": %s}'
    response = post_raw(api, "/users", (body % (tenant["id"], f"{rand('u')}@example.com", field, value)).encode())
    error_body(response, 400)
    assert user_count(api, tenant["id"]) == 0


@pytest.mark.parametrize("depth", [100_000, 5_000, 1_000, 500, 200])
def test_deeply_nested_metadata_is_a_client_error(api, depth):
    tenant = api.create_tenant()
    nested = "[" * depth + "]" * depth
    body = '{"tenantId": "%s", "identityProviderName": "wristband", "email": "%s", "publicMetadata": {"x": %s}}'
    response = post_raw(api, "/users", (body % (tenant["id"], f"{rand('u')}@example.com", nested)).encode())
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    error_body(response, response.status_code)
    assert user_count(api, tenant["id"]) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("emailVerified", "maybe"),
        ("email", 5),
        ("email", ["a@example.com"]),
        ("givenName", 5),
        ("givenName", {"first": "x"}),
        ("publicMetadata", "not-an-object"),
        ("publicMetadata", [1, 2]),
        ("tenantId", None),
        ("password", 12345678),
    ],
)
def test_wrong_types_are_constraint_violations(api, field, value):
    tenant = api.create_tenant()
    response = api.call("POST", "/users", json={**user_body(tenant["id"]), field: value})
    assert_violation(response, field)
    assert user_count(api, tenant["id"]) == 0


@pytest.mark.parametrize("field", ["tenantId", "identityProviderName", "email"])
def test_missing_required_fields(api, field):
    tenant = api.create_tenant()
    body = user_body(tenant["id"])
    del body[field]
    assert_violation(api.call("POST", "/users", json=body), field, "required")
    assert user_count(api, tenant["id"]) == 0


def test_several_violations_are_reported_together(api):
    tenant = api.create_tenant()
    body = {**user_body(tenant["id"]), "givenName": "x" * 201, "phoneNumber": "12", "timeZone": "Nowhere/Land"}
    response = api.call("POST", "/users", json=body)
    violations = error_body(response, 400)["violations"]
    assert {"givenName", "phoneNumber", "timeZone"} <= set(violations)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/tenants", {"domainName": 5, "displayName": "x"}, "domainName"),
        ("/tenants", {"domainName": "okname", "displayName": "x", "signupEnabled": "maybe"}, "signupEnabled"),
        ("/tenants", {"domainName": "okname", "displayName": "x", "type": "HUGE"}, "type"),
        ("/clients", {"name": "x", "type": "SPA", "redirectUris": "https://x.example.com"}, "redirectUris"),
    ],
)
def test_wrong_types_on_other_resources(api, path, body, field):
    before = active_tenant_count(api)
    assert_violation(api.call("POST", path, json=body), field)
    assert active_tenant_count(api) == before


def test_wrong_type_on_role_body(api):
    tenant = api.create_tenant()
    response = api.call(
        "POST", f"/tenants/{tenant['id']}/roles", json={"name": "r", "displayName": "R", "permissions": "user:read"}
    )
    assert_violation(response, "permissions")
    assert api.call("GET", f"/tenants/{tenant['id']}/roles").json()["totalResults"] == 0


def test_malformed_patch_changes_nothing(api):
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], givenName="Ann")
    broken = api.call("PATCH", f"/users/{user['id']}", content=b'{"givenName": "Bob"', headers=JSON)
    assert_base_error(broken, 400, "invalid_request")
    array = api.call("PATCH", f"/users/{user['id']}", content=b'[{"givenName": "Bob"}]', headers=JSON)
    assert_base_error(array, 400, "invalid_request")
    assert api.call("GET", f"/users/{user['id']}").json() == user


# ---------------------------------------------------------------------------------- NUL characters


NUL_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("/tenants", {"displayName": "a\x00b"}, "displayName"),
    ("/tenants", {"description": "a\x00b"}, "description"),
    ("/roles", {"displayName": "a\x00b"}, "displayName"),
    ("/roles", {"description": "a\x00b"}, "description"),
    ("/clients", {"name": "a\x00b"}, "name"),
    ("/users", {"givenName": "a\x00b"}, "givenName"),
]


@pytest.mark.parametrize(("kind", "fields", "field"), NUL_CREATES, ids=[f"{k}-{f}" for k, _, f in NUL_CREATES])
def test_nul_characters_in_text_fields_are_refused(api, kind, fields, field):
    """A NUL cannot be stored in PostgreSQL text: refuse it as a violation on every database."""
    tenant = api.create_tenant()
    before = active_tenant_count(api)
    path, body = {
        "/tenants": ("/tenants", {"domainName": rand("tn"), "displayName": "Tenant"}),
        "/roles": (f"/tenants/{tenant['id']}/roles", {"name": rand("r"), "displayName": "Role"}),
        "/clients": ("/clients", {"name": "c", "type": "SPA"}),
        "/users": ("/users", user_body(tenant["id"])),
    }[kind]
    response = api.call("POST", path, json={**body, **fields})
    assert_violation(response, field)
    assert active_tenant_count(api) == before
    assert api.call("GET", f"/tenants/{tenant['id']}/roles").json()["totalResults"] == 0
    assert user_count(api, tenant["id"]) == 0


def test_nul_characters_in_lookups_are_not_found(api):
    tenant = api.create_tenant()
    assert_base_error(api.call("GET", "/users/abc%00def"), 404, "user_not_found")
    assert_base_error(api.call("GET", "/tenants/abc%00def"), 404, "tenant_not_found")
    unknown_tenant = api.call("POST", "/users", json=user_body("abc\x00def"))
    assert_base_error(unknown_tenant, 404, "tenant_not_found")
    idp = api.call("POST", "/users", json=user_body(tenant["id"], identityProviderName="wrist\x00band"))
    assert_violation(idp, "identityProviderName")
    assert user_count(api, tenant["id"]) == 0


# ------------------------------------------------------------------------------- list parameters


BAD_QUERIES = [
    'foo eq "x"',
    'email eq "x" and',
    '(email eq "x"',
    'email eq "x")',
    'email foo "x"',
    "email eq unquoted",
    'email eq "unterminated',
    'emailVerified eq "maybe"',
    'status sw "ACT"',
    "email in ()",
    'email eq "a" email eq "b"',
    'passwordHash eq "x"',
    'password eq "x"',
    'restrictedMetadata eq "x"',
    "(" * 40 + 'email eq "x"' + ")" * 40,
    " or ".join(['email eq "x"'] * 101),
    'email eq "' + "x" * 5000 + '"',
]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=range(len(BAD_QUERIES)))
def test_bad_query_is_invalid_request(api, query):
    tenant = api.create_tenant()
    response = api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": query})
    assert_base_error(response, 400, "invalid_request")
    app_wide = api.call("GET", f"/applications/{api.application_id}/users", params={"query": query})
    assert_base_error(app_wide, 400, "invalid_request")


@pytest.mark.parametrize(
    "sort_by",
    ["nope", "nope:asc", "email:up", "email:ASCENDING", "email:asc,email:desc", "email,,givenName", "password"],
)
def test_bad_sort_by_is_invalid_request(api, sort_by):
    tenant = api.create_tenant()
    response = api.call("GET", f"/tenants/{tenant['id']}/users", params={"sort_by": sort_by})
    assert_base_error(response, 400, "invalid_request")


@pytest.mark.parametrize("fields", ["id,,email", "a..b", "id,@x"])
def test_bad_fields_is_invalid_request(api, fields):
    tenant = api.create_tenant()
    assert_base_error(
        api.call("GET", f"/tenants/{tenant['id']}/users", params={"fields": fields}), 400, "invalid_request"
    )


def test_negative_count_message(api):
    tenant = api.create_tenant()
    response = api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "-1"})
    body = assert_base_error(response, 400, "invalid_request")
    assert body["message"] == "The count parameter must be greater than or equal to 0"


@pytest.mark.parametrize("count", ["1001", "99999999999999999999999", "abc", "1.5", "0x10"])
def test_bad_count_is_invalid_request(api, count):
    response = api.call("GET", f"/applications/{api.application_id}/tenants", params={"count": count})
    assert_base_error(response, 400, "invalid_request")


def test_count_at_the_maximum_is_fine(api):
    response = api.call("GET", f"/applications/{api.application_id}/tenants", params={"count": "1000"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("start", ["-1", "abc"])
def test_bad_start_index_is_invalid_request(api, start):
    response = api.call("GET", f"/applications/{api.application_id}/tenants", params={"start_index": start})
    assert_base_error(response, 400, "invalid_request")


@pytest.mark.parametrize("start", [str(2**63), "99999999999999999999999"])
def test_huge_start_index_is_not_a_server_error(api, start):
    response = api.call("GET", f"/applications/{api.application_id}/tenants", params={"start_index": start})
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert_base_error(response, 400, "invalid_request")


# -------------------------------------------------------------------------------------- body size


def _oversized_user(tenant_id: str) -> bytes:
    head = f'{{"tenantId": "{tenant_id}", "identityProviderName": "wristband", "email": "big@example.com", '
    return (head + '"publicMetadata": {"x": "' + "a" * (MIB + 10) + '"}}').encode()


def test_oversized_body_with_content_length_is_413(api):
    tenant = api.create_tenant()
    response = post_raw(api, "/users", _oversized_user(tenant["id"]))
    assert_base_error(response, 413, "payload_too_large")
    assert user_count(api, tenant["id"]) == 0


def test_oversized_streamed_body_is_413(api):
    tenant = api.create_tenant()
    data = _oversized_user(tenant["id"])

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    response = post_raw(api, "/users", chunks())
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_base_error(response, 413, "payload_too_large")
    assert user_count(api, tenant["id"]) == 0


def test_oversized_token_request_is_413(api):
    form = b"grant_type=client_credentials&junk=" + b"a" * (MIB + 10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = api.client.post("/api/v1/oauth2/token", content=iter([form]), headers=headers)
    assert response.status_code == 413, response.text


def test_body_just_under_the_limit_is_accepted(api):
    tenant = api.create_tenant()
    body = user_body(tenant["id"], roles="a" * (MIB - 2048))  # an ignored field, so only the size matters
    response = api.call("POST", "/users", json=body)
    assert response.status_code == 201, response.text[:300]


# ---------------------------------------------------------------------------------- routes, tickets


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/users", "/nothing-here", "/api/v1/users/a/b/c"])
def test_unknown_route_is_404_base_error(api, path):
    response = api.client.get(path, headers=api.auth())
    assert_base_error(response, 404)
    assert response.headers["content-type"].startswith("application/json")


def test_wrong_method_is_a_base_error(api):
    response = api.call("PUT", "/tenants", json={})
    assert_base_error(response, 405)


def test_tickets_are_unique_per_error(api):
    tickets = {api.call("GET", f"/users/{rand('nobody')}").json()["ticket"] for _ in range(5)}
    assert len(tickets) == 5


def test_error_content_type_is_json(api):
    response = api.call("GET", f"/users/{rand('nobody')}")
    assert response.headers["content-type"].startswith("application/json")
    assert_base_error(response, 404, "user_not_found")
    assert response.json()["message"]
