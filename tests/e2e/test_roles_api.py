"""Tenant roles and role assignments (Wristband API §4.4, §6.4; SDK notes §1 #13-14, §6)."""

from __future__ import annotations

import pytest

from tests.e2e._helpers import ID, assert_base_error, assert_violation, create_role
from tests.support import Api, rand

PREDEFINED = {"admin-client", "tenant-admin", "user"}


def roles_of(api: Api, user_id: str) -> set[str]:
    response = api.call("GET", f"/users/{user_id}/roles")
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def test_tenant_roles_without_application_roles(any_api):
    tenant = any_api.create_tenant()
    empty = any_api.call("GET", f"/tenants/{tenant['id']}/roles")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "items": []}
    role = create_role(any_api, tenant["id"], ["user:read"])
    listed = any_api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "false"})
    assert [r["id"] for r in listed.json()["items"]] == [role["id"]]


def test_tenant_roles_with_application_roles(any_api):
    tenant = any_api.create_tenant()
    role = create_role(any_api, tenant["id"], ["user:read"])
    other = create_role(any_api, any_api.create_tenant()["id"], ["user:read"])
    response = any_api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    ids = {r["id"] for r in items}
    assert role["id"] in ids and other["id"] not in ids
    predefined = [r for r in items if r["ownerType"] == "APPLICATION"]
    assert {r["sku"] for r in predefined} >= PREDEFINED
    admin = next(r for r in predefined if r["sku"] == "admin-client")
    assert admin["type"] == "PREDEFINED" and admin["name"].endswith(":admin-client")
    assert {p["boundary"] for p in admin["permissions"]} == {"APPLICATION"}
    assert {"user:create", "tenant:delete", "client:create"} <= {p["value"] for p in admin["permissions"]}
    tenant_admin = next(r for r in predefined if r["sku"] == "tenant-admin")
    assert {p["boundary"] for p in tenant_admin["permissions"]} == {"TENANT"}


def test_the_user_import_tools_exact_roles_call(any_api):
    """wristband-user-import builds ``RolesResponse(**json)`` and ``Role(**item)``: any extra key breaks it."""
    tenant = any_api.create_tenant()
    for i in range(3):
        create_role(any_api, tenant["id"], [], name=f"import{i}")
    collected: list[dict] = []
    start = 1
    while True:
        response = any_api.call(
            "GET",
            f"/tenants/{tenant['id']}/roles?include_application_roles=true&fields=id,name,displayName"
            f"&sort_by=displayName:asc&startIndex={start}&count=2",
            headers={"Host": any_api.vanity},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"totalResults", "startIndex", "itemsPerPage", "items"}
        assert page["startIndex"] == start
        for item in page["items"]:
            assert set(item) == {"id", "name", "displayName"}, item
        collected.extend(page["items"])
        start += 2
        if start > page["totalResults"]:
            break
    assert len(collected) == page["totalResults"] >= 6
    assert len({r["id"] for r in collected}) == len(collected)
    names = [r["displayName"] for r in collected]
    assert names == sorted(names)


def test_create_tenant_role(any_api):
    tenant = any_api.create_tenant()
    body = {
        "name": "billing-admin",
        "displayName": "Billing admin",
        "description": "Pays the bills",
        "permissions": ["user:read", "user:update"],
    }
    response = any_api.call("POST", f"/tenants/{tenant['id']}/roles", json=body)
    assert response.status_code == 201, response.text
    role = response.json()
    assert ID.match(role["id"])
    assert role["name"].endswith(":billing-admin") and role["sku"] == "billing-admin"
    assert role["displayName"] == "Billing admin" and role["description"] == "Pays the bills"
    assert role["ownerType"] == "TENANT" and role["ownerId"] == tenant["id"] and role["type"] == "CUSTOM"
    assert {(p["value"], p["boundary"]) for p in role["permissions"]} == {
        ("user:read", "TENANT"),
        ("user:update", "TENANT"),
    }


def test_unknown_permission_is_refused(any_api):
    tenant = any_api.create_tenant()
    body = {"name": "bad", "displayName": "Bad", "permissions": ["user:read", "user:teleport"]}
    assert_violation(any_api.call("POST", f"/tenants/{tenant['id']}/roles", json=body), "permissions")
    assert any_api.call("GET", f"/tenants/{tenant['id']}/roles").json()["totalResults"] == 0


def test_role_name_is_unique_per_tenant_only(any_api):
    tenant = any_api.create_tenant()
    create_role(any_api, tenant["id"], [], name="auditor")
    again = any_api.call("POST", f"/tenants/{tenant['id']}/roles", json={"name": "AUDITOR", "displayName": "A"})
    assert_violation(again, "name", "not_unique")
    create_role(any_api, any_api.create_tenant()["id"], [], name="auditor")


def test_create_role_for_unknown_tenant_is_404(any_api):
    response = any_api.call("POST", f"/tenants/{'h' * 26}/roles", json={"name": "x", "displayName": "X"})
    assert_base_error(response, 404, "tenant_not_found")


def test_delete_role(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    role = create_role(any_api, tenant["id"], ["user:read"])
    assert any_api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [role["id"]]}).status_code == 200
    response = any_api.call("DELETE", f"/roles/{role['id']}")
    assert response.status_code == 204 and response.content == b""
    assert any_api.call("GET", f"/tenants/{tenant['id']}/roles").json()["totalResults"] == 0
    assert roles_of(any_api, user["id"]) == set()
    assert_base_error(any_api.call("DELETE", f"/roles/{role['id']}"), 404, "role_not_found")


def test_application_roles_cannot_be_deleted(any_api):
    tenant = any_api.create_tenant()
    listed = any_api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"})
    user_role = next(r for r in listed.json()["items"] if r["sku"] == "user")
    response = any_api.call("DELETE", f"/roles/{user_role['id']}")
    assert 400 <= response.status_code < 500
    assert_base_error(response, response.status_code)
    again = any_api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"})
    assert user_role["id"] in {r["id"] for r in again.json()["items"]}


def test_assign_list_unassign_and_replace_roles(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    r1, r2, r3 = (create_role(any_api, tenant["id"], ["user:read"]) for _ in range(3))
    assigned = any_api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [r1["id"], r2["id"]]})
    assert assigned.status_code == 200, assigned.text
    assert roles_of(any_api, user["id"]) == {r1["id"], r2["id"]}
    repeat = any_api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [r1["id"], r1["id"]]})
    assert repeat.status_code == 200, repeat.text
    listed = any_api.call("GET", f"/users/{user['id']}/roles", params={"fields": "id,name,displayName"}).json()
    assert listed["totalResults"] == 2 and all(set(r) == {"id", "name", "displayName"} for r in listed["items"])
    unassigned = any_api.call("POST", f"/users/{user['id']}/unassign-roles", json={"roleIds": [r1["id"]]})
    assert unassigned.status_code in (200, 204), unassigned.text
    assert roles_of(any_api, user["id"]) == {r2["id"]}
    replaced = any_api.call("PUT", f"/users/{user['id']}/roles", json={"roleIds": [r3["id"]]})
    assert replaced.status_code in (200, 204), replaced.text
    assert roles_of(any_api, user["id"]) == {r3["id"]}
    cleared = any_api.call("PUT", f"/users/{user['id']}/roles", json={"roleIds": []})
    assert cleared.status_code in (200, 204), cleared.text
    assert roles_of(any_api, user["id"]) == set()


def test_application_roles_can_be_assigned(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    listed = any_api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"})
    user_role = next(r for r in listed.json()["items"] if r["sku"] == "user")
    response = any_api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [user_role["id"]]})
    assert response.status_code == 200, response.text
    assert roles_of(any_api, user["id"]) == {user_role["id"]}


@pytest.mark.parametrize("kind", ["other-tenant", "unknown"])
def test_assigning_a_foreign_or_unknown_role_is_refused(any_api, kind):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    mine = create_role(any_api, tenant["id"], ["user:read"])
    foreign = (
        create_role(any_api, any_api.create_tenant()["id"], ["user:read"])["id"] if kind == "other-tenant" else "z" * 26
    )
    response = any_api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [mine["id"], foreign]})
    assert_violation(response, "roleIds")
    assert roles_of(any_api, user["id"]) == set()
    replace = any_api.call("PUT", f"/users/{user['id']}/roles", json={"roleIds": [foreign]})
    assert_violation(replace, "roleIds")


def test_assign_roles_to_unknown_user_is_404(any_api):
    response = any_api.call("POST", f"/users/{'i' * 26}/assign-roles", json={"roleIds": []})
    assert_base_error(response, 404, "user_not_found")
    assert_base_error(any_api.call("GET", f"/users/{'i' * 26}/roles"), 404, "user_not_found")


def test_resolve_assigned_roles(any_api):
    tenant = any_api.create_tenant()
    alice, bob = any_api.create_user(tenant["id"]), any_api.create_user(tenant["id"])
    role = create_role(any_api, tenant["id"], ["user:read"])
    any_api.call("POST", f"/users/{alice['id']}/assign-roles", json={"roleIds": [role["id"]]})
    unknown = rand("nouser")
    body = {"userIds": [alice["id"], unknown, bob["id"]]}
    response = any_api.call("POST", "/users/resolve-assigned-roles", json=body)
    assert response.status_code == 200, response.text
    doc = response.json()
    by_user = {item["userId"]: [r["id"] for r in item["roles"]] for item in doc["items"]}
    assert by_user == {alice["id"]: [role["id"]], bob["id"]: []}
    assert len(doc["failures"]) == 1
    failure = doc["failures"][0]
    assert failure["userId"] == unknown and failure["index"] == 1 and failure["code"] == "user_not_found"
    assert failure["message"]
