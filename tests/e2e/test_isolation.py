"""Access control: a tenant-owned client never reaches another tenant (Wristband permission
boundaries), permissions and field-level permissions give 403, and applications sharing a
database never see each other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._helpers import (
    app_role_id,
    assert_base_error,
    assert_denied,
    create_role,
    token_with_permissions,
    user_body,
)
from tests.support import Api, build_api, rand, rand_email


@dataclass
class World:
    api: Api
    a: dict[str, Any]  # tenant A, whose client makes the calls
    b: dict[str, Any]  # tenant B, which it must never reach
    user_a: dict[str, Any]
    user_b: dict[str, Any]
    role_a: dict[str, Any]
    role_b: dict[str, Any]
    token: str  # tenant A's tenant-admin client

    def call(self, method: str, path: str, **kwargs: Any):
        return self.api.call(method, path, token=self.token, **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> World:
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    a, b = api.create_tenant(displayName="Tenant A"), api.create_tenant(displayName=f"Secret {rand('b')}")
    user_a = api.create_user(a["id"], givenName="Alice")
    user_b = api.create_user(b["id"], givenName=f"Bobsecret{rand('')}", publicMetadata={"secret": rand("s")})
    role_a, role_b = create_role(api, a["id"], ["user:read"]), create_role(api, b["id"], ["user:read"])
    assert api.call("POST", f"/users/{user_b['id']}/assign-roles", json={"roleIds": [role_b["id"]]}).status_code == 200
    token = api.token_for(*api.create_m2m_client(a["id"], ["tenant-admin"]))
    return World(api, a, b, user_a, user_b, role_a, role_b, token)


def b_is_untouched(w: World) -> None:
    api = w.api
    user = api.call("GET", f"/users/{w.user_b['id']}")
    assert user.status_code == 200 and user.json() == w.user_b
    tenant = api.call("GET", f"/tenants/{w.b['id']}")
    assert tenant.status_code == 200 and tenant.json() == w.b
    assert api.call("GET", f"/tenants/{w.b['id']}/users", params={"count": "0"}).json()["totalResults"] == 1
    roles = api.call("GET", f"/tenants/{w.b['id']}/roles").json()
    assert [r["id"] for r in roles["items"]] == [w.role_b["id"]]
    held = api.call("GET", f"/users/{w.user_b['id']}/roles").json()
    assert [r["id"] for r in held["items"]] == [w.role_b["id"]]


CROSS_TENANT = [
    ("GET", "/users/{user_b}", None),
    ("PATCH", "/users/{user_b}", {"givenName": "Owned"}),
    ("DELETE", "/users/{user_b}", None),
    ("GET", "/tenants/{b}", None),
    ("PATCH", "/tenants/{b}", {"displayName": "Owned"}),
    ("DELETE", "/tenants/{b}", None),
    ("GET", "/tenants/{b}/users", None),
    ("GET", "/tenants/{b}/roles", None),
    ("GET", "/tenants/{b}/roles?include_application_roles=true", None),
    ("POST", "/users", "user-in-b"),
    ("POST", "/users/{user_b}/assign-roles", {"roleIds": ["{role_b}"]}),
    ("POST", "/users/{user_b}/unassign-roles", {"roleIds": ["{role_b}"]}),
    ("PUT", "/users/{user_b}/roles", {"roleIds": []}),
    ("POST", "/tenants/{b}/roles", {"name": "intruder", "displayName": "Intruder"}),
    ("DELETE", "/roles/{role_b}", None),
    ("GET", "/users/{user_b}/roles", None),
    ("POST", "/clients", {"name": "intruder", "type": "MACHINE_TO_MACHINE", "tenantId": "{b}"}),
]


def _fill(value: Any, w: World) -> Any:
    ids = {"user_b": w.user_b["id"], "b": w.b["id"], "role_b": w.role_b["id"]}
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, w) for v in value]
    return value


@pytest.mark.parametrize(("method", "path", "body"), CROSS_TENANT, ids=[f"{m} {p}" for m, p, _ in CROSS_TENANT])
def test_tenant_a_client_cannot_reach_tenant_b(world, method, path, body):
    w = world
    if body == "user-in-b":
        body = user_body(w.b["id"], email=rand_email())
    kwargs = {"json": _fill(body, w)} if body is not None else {}
    response = w.call(method, _fill(path, w), **kwargs)
    assert_denied(response)
    for secret in (w.user_b["email"], w.user_b["givenName"], w.b["displayName"], w.b["domainName"], w.role_b["name"]):
        assert secret not in response.text
    b_is_untouched(w)


def test_application_listings_show_only_tenant_a(world):
    w = world
    users = w.call("GET", f"/applications/{w.api.application_id}/users", params={"count": "1000"})
    assert users.status_code == 200, users.text
    assert {u["tenantId"] for u in users.json()["items"]} == {w.a["id"]}
    assert w.user_b["email"] not in users.text
    filtered = w.call(
        "GET", f"/applications/{w.api.application_id}/users", params={"query": f'tenantId eq "{w.b["id"]}"'}
    )
    assert filtered.status_code == 200 and filtered.json()["totalResults"] == 0
    tenants = w.call("GET", f"/applications/{w.api.application_id}/tenants", params={"count": "1000"})
    assert tenants.status_code == 200, tenants.text
    assert [t["id"] for t in tenants.json()["items"]] == [w.a["id"]]


def test_resolve_assigned_roles_hides_tenant_b_users(world):
    w = world
    response = w.call("POST", "/users/resolve-assigned-roles", json={"userIds": [w.user_a["id"], w.user_b["id"]]})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert [i["userId"] for i in doc["items"]] == [w.user_a["id"]]
    assert [(f["userId"], f["code"]) for f in doc["failures"]] == [(w.user_b["id"], "user_not_found")]
    assert w.role_b["name"] not in response.text


def test_tenant_a_client_cannot_assign_tenant_b_roles_to_its_users(world):
    w = world
    response = w.call("POST", f"/users/{w.user_a['id']}/assign-roles", json={"roleIds": [w.role_b["id"]]})
    assert response.status_code == 400, response.text
    assert w.role_b["id"] not in {r["id"] for r in w.api.call("GET", f"/users/{w.user_a['id']}/roles").json()["items"]}


def test_tenant_a_client_works_on_tenant_a(world):
    w = world
    assert w.call("GET", f"/tenants/{w.a['id']}").status_code == 200
    assert w.call("PATCH", f"/tenants/{w.a['id']}", json={"description": "ours"}).status_code == 200
    assert w.call("GET", f"/users/{w.user_a['id']}").json()["email"] == w.user_a["email"]
    assert w.call("PATCH", f"/users/{w.user_a['id']}", json={"nickname": "ally"}).status_code == 200
    listed = w.call("GET", f"/tenants/{w.a['id']}/users", params={"count": "100"})
    assert listed.status_code == 200 and w.user_a["id"] in {u["id"] for u in listed.json()["items"]}
    roles = w.call("GET", f"/tenants/{w.a['id']}/roles", params={"include_application_roles": "true"})
    assert roles.status_code == 200 and w.role_a["id"] in {r["id"] for r in roles.json()["items"]}
    created = w.call("POST", "/users", json=user_body(w.a["id"]))
    assert created.status_code == 201, created.text
    role = w.call("POST", f"/tenants/{w.a['id']}/roles", json={"name": rand("own"), "displayName": "Own"})
    assert role.status_code == 201, role.text
    assigned = w.call("POST", f"/users/{created.json()['id']}/assign-roles", json={"roleIds": [role.json()["id"]]})
    assert assigned.status_code == 200, assigned.text
    assert w.call("GET", f"/users/{created.json()['id']}/roles").json()["totalResults"] == 1
    assert w.call("DELETE", f"/users/{created.json()['id']}").status_code == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/tenants"),
        ("GET", "/applications/{app}"),
        ("GET", "/applications/{app}/clients"),
        ("POST", "/clients"),
    ],
)
def test_tenant_admin_has_no_application_level_powers(world, method, path):
    w = world
    body = {"domainName": rand("tn"), "displayName": "x"} if path == "/tenants" else {"name": "x", "type": "SPA"}
    response = w.call(method, path.format(app=w.api.application_id), **({"json": body} if method == "POST" else {}))
    assert_denied(response)


def test_a_tenant_cannot_squat_role_names_in_another_tenants_namespace(world):
    """Role names are qualified per tenant (``tnt:{domain}:{name}``): tenant A may not create a
    name in tenant B's namespace and so block B from using it."""
    w = world
    short = rand("auditor")
    squat = w.call(
        "POST", f"/tenants/{w.a['id']}/roles", json={"name": f"tnt:{w.b['domainName']}:{short}", "displayName": "S"}
    )
    if squat.status_code == 201:
        assert not squat.json()["name"].startswith(f"tnt:{w.b['domainName']}:"), squat.text
    own = w.api.call("POST", f"/tenants/{w.b['id']}/roles", json={"name": short, "displayName": "Auditor"})
    assert own.status_code == 201, own.text
    assert own.json()["name"].startswith(f"tnt:{w.b['domainName']}:")
    w.api.call("DELETE", f"/roles/{own.json()['id']}")


def test_a_tenant_client_cannot_mint_an_application_wide_client(world):
    """``client:create`` with the TENANT boundary must not hand out the APPLICATION-boundary
    ``admin-client`` role: the new client would reach every tenant."""
    w = world
    admin_client = app_role_id(w.api, "admin-client")
    token = token_with_permissions(w.api, w.a["id"], ["client:create"])
    body = {"name": rand("minted"), "type": "MACHINE_TO_MACHINE", "tenantId": w.a["id"], "roleIds": [admin_client]}
    response = w.api.call("POST", "/clients", token=token, json=body)
    if response.status_code == 201:
        minted = w.api.token_for(response.json()["id"], response.json()["clientSecret"])
        reach = w.api.call("GET", f"/users/{w.user_b['id']}", token=minted)
        w.api.call("DELETE", f"/clients/{response.json()['id']}")
        raise AssertionError(f"escalation: minted client created; it reads tenant B's user with {reach.status_code}")
    assert response.status_code in (400, 403), response.text
    error_body = response.json()
    assert error_body["type"] in ("base_error", "constraint_violations_error")


# ------------------------------------------------------------------------------ permissions (403)


def test_client_without_user_create_gets_403(any_api):
    tenant = any_api.create_tenant()
    token = token_with_permissions(any_api, tenant["id"], ["user:read", "user:update"])
    response = any_api.call("POST", "/users", token=token, json=user_body(tenant["id"]))
    assert_base_error(response, 403)
    assert any_api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 0


def test_client_with_only_user_read_cannot_change_users(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    token = token_with_permissions(any_api, tenant["id"], ["user:read"])
    assert any_api.call("GET", f"/users/{user['id']}", token=token).status_code == 200
    assert_base_error(any_api.call("PATCH", f"/users/{user['id']}", token=token, json={"givenName": "x"}), 403)
    assert_base_error(any_api.call("DELETE", f"/users/{user['id']}", token=token), 403)
    assert any_api.call("GET", f"/users/{user['id']}").json() == user


def test_client_with_no_permissions_is_refused_everywhere(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    token = token_with_permissions(any_api, tenant["id"], [])
    for method, path in [
        ("GET", f"/users/{user['id']}"),
        ("GET", f"/tenants/{tenant['id']}"),
        ("GET", f"/tenants/{tenant['id']}/users"),
        ("GET", f"/tenants/{tenant['id']}/roles"),
        ("GET", f"/applications/{any_api.application_id}/users"),
        ("GET", f"/applications/{any_api.application_id}/tenants"),
        ("DELETE", f"/tenants/{tenant['id']}"),
    ]:
        response = any_api.call(method, path, token=token)
        assert_denied(response)
        assert user["email"] not in response.text
    assert any_api.call("GET", f"/tenants/{tenant['id']}").json()["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "change",
    [
        {"status": "INACTIVE"},
        {"restrictedMetadata": {"level": "vip"}},
        {"email": "changed@example.com"},
        {"emailVerified": True},
        {"externalId": "ext-changed"},
    ],
    ids=["status", "restrictedMetadata", "email", "emailVerified", "externalId"],
)
def test_field_level_permissions(any_api, change):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="Ann")
    token = token_with_permissions(any_api, tenant["id"], ["user:read", "user:update"])
    allowed = any_api.call("PATCH", f"/users/{user['id']}", token=token, json={"givenName": "Anna"})
    assert allowed.status_code == 200, allowed.text
    before = any_api.call("GET", f"/users/{user['id']}").json()
    response = any_api.call("PATCH", f"/users/{user['id']}", token=token, json={"familyName": "X", **change})
    assert_base_error(response, 403)
    assert any_api.call("GET", f"/users/{user['id']}").json() == before


@pytest.mark.parametrize(
    ("permission", "change"),
    [
        ("user:manage-status", {"status": "INACTIVE"}),
        ("user:manage-restricted-metadata", {"restrictedMetadata": {"level": "vip"}}),
        ("user:manage-email", {"emailVerified": True}),
        ("user:manage-external-id", {"externalId": "ext-ok"}),
    ],
)
def test_field_level_permission_granted(any_api, permission, change):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    token = token_with_permissions(any_api, tenant["id"], ["user:read", "user:update", permission])
    response = any_api.call("PATCH", f"/users/{user['id']}", token=token, json=change)
    assert response.status_code == 200, response.text
    field, value = next(iter(change.items()))
    assert response.json()[field] == value


def test_creating_a_user_with_restricted_metadata_needs_its_permission(any_api):
    tenant = any_api.create_tenant()
    token = token_with_permissions(any_api, tenant["id"], ["user:create", "user:read"])
    refused = any_api.call("POST", "/users", token=token, json=user_body(tenant["id"], restrictedMetadata={"k": 1}))
    assert_base_error(refused, 403)
    assert any_api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 0
    allowed = any_api.call("POST", "/users", token=token, json=user_body(tenant["id"]))
    assert allowed.status_code == 201, allowed.text


def test_tenant_field_level_permissions(any_api):
    tenant = any_api.create_tenant()
    token = token_with_permissions(any_api, tenant["id"], ["tenant:read", "tenant:update"])
    assert any_api.call("PATCH", f"/tenants/{tenant['id']}", token=token, json={"displayName": "ok"}).status_code == 200
    for change in ({"signupEnabled": True}, {"restrictedMetadata": {"x": 1}}, {"status": "INACTIVE"}):
        assert_base_error(any_api.call("PATCH", f"/tenants/{tenant['id']}", token=token, json=change), 403)
    fetched = any_api.call("GET", f"/tenants/{tenant['id']}").json()
    assert fetched["signupEnabled"] is False and fetched["restrictedMetadata"] == {} and fetched["status"] == "ACTIVE"


# ------------------------------------------------------------------- two applications, one database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def neighbour(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Api]]:
    """(the session application, a second application in the same database)."""
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    url = api.services.settings.resolved_database_url
    other = build_api(Path(tmp_path_factory.mktemp("neighbour")), url)
    yield api, other
    other.services.close()


def test_applications_sharing_a_database_are_isolated(neighbour):
    api, other = neighbour
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    role = create_role(api, tenant["id"], ["user:read"])
    for method, path in [
        ("GET", f"/users/{user['id']}"),
        ("PATCH", f"/users/{user['id']}"),
        ("DELETE", f"/users/{user['id']}"),
        ("GET", f"/tenants/{tenant['id']}"),
        ("DELETE", f"/tenants/{tenant['id']}"),
        ("GET", f"/tenants/{tenant['id']}/users"),
        ("GET", f"/tenants/{tenant['id']}/roles"),
        ("DELETE", f"/roles/{role['id']}"),
        ("GET", f"/clients/{api.m2m_id}"),
        ("GET", f"/applications/{api.application_id}"),
        ("GET", f"/applications/{api.application_id}/users"),
        ("GET", f"/applications/{api.application_id}/tenants"),
    ]:
        response = other.call(method, path, **({"json": {"givenName": "x"}} if method == "PATCH" else {}))
        assert_base_error(response, 404)
        assert user["email"] not in response.text
    created = other.call("POST", "/users", json=user_body(tenant["id"]))
    assert_base_error(created, 404, "tenant_not_found")
    everyone = other.call(
        "GET", f"/applications/{other.application_id}/users", params={"query": f'id eq "{user["id"]}"'}
    )
    assert everyone.status_code == 200 and everyone.json()["totalResults"] == 0
    assert api.call("GET", f"/users/{user['id']}").json() == user
    assert api.call("GET", f"/tenants/{tenant['id']}").json()["status"] == "ACTIVE"


def test_a_token_of_one_application_is_refused_by_another(neighbour):
    api, other = neighbour
    assert_base_error(api.call("GET", f"/applications/{api.application_id}", token=other.token), 401)
    assert_base_error(other.call("GET", f"/applications/{other.application_id}", token=api.token), 401)
    # The other application's credentials are unknown here.
    response = api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": other.m2m_id, "client_secret": other.m2m_secret},
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
