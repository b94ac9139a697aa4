"""POST/GET/PATCH/DELETE /tenants and GET /applications/{id}/tenants (Wristband API §4.3, §6.2)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e._helpers import ID, active_tenant_count, assert_base_error, assert_violation, user_body
from tests.support import Api, build_api, rand


def test_create_tenant_defaults(any_api):
    domain = rand("tn")
    response = any_api.call("POST", "/tenants", json={"domainName": domain, "displayName": "Acme"})
    assert response.status_code == 201, response.text
    tenant = response.json()
    assert ID.match(tenant["id"])
    assert tenant["applicationId"] == any_api.application_id
    assert tenant["domainName"] == domain and tenant["displayName"] == "Acme"
    assert tenant["vanityDomain"] == f"{domain}-{any_api.vanity}"
    assert tenant["type"] == "STANDARD"
    assert tenant["status"] == "ACTIVE"
    assert tenant["signupEnabled"] is False
    assert tenant["publicMetadata"] == {} and tenant["metadata"]["version"] == "1"
    fetched = any_api.call("GET", f"/tenants/{tenant['id']}")
    assert fetched.status_code == 200 and fetched.json() == tenant


def test_create_tenant_with_every_field(any_api):
    body = {
        "domainName": rand("tn"),
        "displayName": "Globex",
        "type": "STANDALONE",
        "description": "A customer",
        "logoUrl": "https://cdn.example.com/logo.png",
        "signupEnabled": True,
        "publicMetadata": {"tier": "pro", "n": [1, 2]},
        "restrictedMetadata": {"crm": "x1"},
        "applicationId": any_api.application_id,
    }
    response = any_api.call("POST", "/tenants", json=body)
    assert response.status_code == 201, response.text
    tenant = response.json()
    for name, value in body.items():
        assert tenant[name] == value, name


def test_second_global_tenant_is_not_unique(any_api):
    query = {"query": 'type eq "GLOBAL"', "count": "0"}
    existing = any_api.call("GET", f"/applications/{any_api.application_id}/tenants", params=query).json()
    if existing["totalResults"] == 0:
        assert any_api.create_tenant(type="GLOBAL")["type"] == "GLOBAL"
    before = active_tenant_count(any_api)
    response = any_api.call("POST", "/tenants", json={"domainName": rand("g"), "displayName": "G", "type": "GLOBAL"})
    assert_violation(response, "type", "not_unique")
    assert active_tenant_count(any_api) == before


def test_domain_name_is_unique_case_insensitively(any_api):
    domain = rand("tn")
    any_api.create_tenant(domainName=domain.lower())
    response = any_api.call("POST", "/tenants", json={"domainName": domain.upper(), "displayName": "Dup"})
    assert_violation(response, "domainName", "not_unique")
    query = {"query": f'domainName eq "{domain}"', "count": "0"}
    listed = any_api.call("GET", f"/applications/{any_api.application_id}/tenants", params=query).json()
    assert listed["totalResults"] == 1


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("a", "too_short"),
        ("x" * 41, "too_long"),
        ("bad_name", "invalid_format"),
        ("-leading", "invalid_format"),
        ("trailing-", "invalid_format"),
        ("has space", "invalid_format"),
        ("dot.ted", "invalid_format"),
        ("ünicode", "invalid_format"),
    ],
)
def test_invalid_domain_names_are_refused(any_api, domain, code):
    before = active_tenant_count(any_api)
    response = any_api.call("POST", "/tenants", json={"domainName": domain, "displayName": "Bad"})
    assert_violation(response, "domainName", code)
    assert active_tenant_count(any_api) == before


def test_missing_display_name_is_required(any_api):
    response = any_api.call("POST", "/tenants", json={"domainName": rand("tn")})
    assert_violation(response, "displayName", "required")


def test_get_unknown_tenant_is_404(any_api):
    assert_base_error(any_api.call("GET", f"/tenants/{'d' * 26}"), 404, "tenant_not_found")


def test_get_tenant_with_application_fields(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call(
        "GET", f"/tenants/{tenant['id']}", params={"fields": "id", "application_fields": "id,vanityDomain"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": tenant["id"],
        "application": {"id": any_api.application_id, "vanityDomain": any_api.vanity},
    }


def test_get_tenant_with_fields(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call("GET", f"/tenants/{tenant['id']}", params={"fields": "id,domainName,metadata.version"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": tenant["id"], "domainName": tenant["domainName"], "metadata": {"version": "1"}}


def test_patch_tenant(any_api):
    tenant = any_api.create_tenant(description="keep me")
    changes = {"displayName": "Renamed", "signupEnabled": True, "publicMetadata": {"color": "blue"}}
    response = any_api.call("PATCH", f"/tenants/{tenant['id']}", json=changes)
    assert response.status_code == 200, response.text
    doc = response.json()
    for name, value in changes.items():
        assert doc[name] == value
    assert doc["description"] == "keep me" and doc["domainName"] == tenant["domainName"]
    assert doc["metadata"]["version"] == "2"
    again = any_api.call("PATCH", f"/tenants/{tenant['id']}", json={"signupEnabled": False})
    assert again.json()["metadata"]["version"] == "3" and again.json()["displayName"] == "Renamed"
    assert any_api.call("GET", f"/tenants/{tenant['id']}").json() == again.json()


@pytest.mark.parametrize(("field", "value"), [("domainName", "renamed"), ("type", "STANDALONE")])
def test_immutable_fields_cannot_be_patched(any_api, field, value):
    tenant = any_api.create_tenant()
    response = any_api.call("PATCH", f"/tenants/{tenant['id']}", json={"displayName": "Changed", field: value})
    assert_violation(response, field)
    assert any_api.call("GET", f"/tenants/{tenant['id']}").json() == tenant


def test_patch_unknown_tenant_is_404(any_api):
    assert_base_error(any_api.call("PATCH", f"/tenants/{'e' * 26}", json={"displayName": "x"}), 404, "tenant_not_found")


def _gone(api: Api, path: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if api.call("GET", path).status_code == 404:
            return True
        time.sleep(0.1)
    return False


def test_delete_tenant_is_asynchronous(any_api):
    tenant = any_api.create_tenant()
    users = [any_api.create_user(tenant["id"]) for _ in range(3)]
    response = any_api.call("DELETE", f"/tenants/{tenant['id']}")
    assert response.status_code == 202, response.text
    right_after = any_api.call("GET", f"/tenants/{tenant['id']}")
    # The purge runs every 0.2 s here, so it may already have happened.
    if right_after.status_code == 200:
        assert right_after.json()["status"] == "DELETE_IN_PROGRESS"
    else:
        assert_base_error(right_after, 404, "tenant_not_found")
    refused = any_api.call("POST", "/users", json=user_body(tenant["id"]))
    assert_base_error(refused, 404, "tenant_not_found")
    deadline = time.monotonic() + 10
    assert _gone(any_api, f"/tenants/{tenant['id']}", deadline), "the tenant was not purged within 10 s"
    assert_base_error(any_api.call("GET", f"/tenants/{tenant['id']}"), 404, "tenant_not_found")
    for user in users:
        assert_base_error(any_api.call("GET", f"/users/{user['id']}"), 404, "user_not_found")


@pytest.fixture(scope="module")
def idle_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An application whose background purger never starts (its lifespan is not entered), so a
    test can see DELETE_IN_PROGRESS and then run the purge itself."""
    built = build_api(tmp_path_factory.mktemp("idle"))
    yield built
    built.services.close()


def test_delete_in_progress_then_purged(idle_api):
    api = idle_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    role = api.call("POST", f"/tenants/{tenant['id']}/roles", json={"name": "r", "displayName": "R"}).json()
    client_id, secret = api.create_m2m_client(tenant["id"])
    assert api.call("DELETE", f"/tenants/{tenant['id']}").status_code == 202
    fetched = api.call("GET", f"/tenants/{tenant['id']}")
    assert fetched.status_code == 200 and fetched.json()["status"] == "DELETE_IN_PROGRESS"
    assert int(fetched.json()["metadata"]["version"]) == 2
    assert api.call("DELETE", f"/tenants/{tenant['id']}").status_code == 202
    patch = api.call("PATCH", f"/tenants/{tenant['id']}", json={"displayName": "x"})
    assert_base_error(patch, 404, "tenant_not_found")
    listed = api.call("GET", f"/applications/{api.application_id}/tenants", params={"query": f'id eq "{tenant["id"]}"'})
    assert [t["status"] for t in listed.json()["items"]] == ["DELETE_IN_PROGRESS"]
    assert api.client.app.state.purger.run_once() >= 1
    assert_base_error(api.call("GET", f"/tenants/{tenant['id']}"), 404, "tenant_not_found")
    assert_base_error(api.call("GET", f"/users/{user['id']}"), 404, "user_not_found")
    assert_base_error(api.call("DELETE", f"/roles/{role['id']}"), 404, "role_not_found")
    assert_base_error(api.call("GET", f"/tenants/{tenant['id']}/users"), 404, "tenant_not_found")
    # The tenant's own client went with it.
    assert_base_error(api.call("GET", f"/clients/{client_id}"), 404, "client_not_found")
    refused = api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_delete_unknown_tenant_is_404(any_api):
    assert_base_error(any_api.call("DELETE", f"/tenants/{'f' * 26}"), 404, "tenant_not_found")


def test_list_application_tenants(any_api):
    mine = [any_api.create_tenant(displayName=f"List {i}") for i in range(3)]
    ids = ",".join(f'"{t["id"]}"' for t in mine)
    response = any_api.call(
        "GET",
        f"/applications/{any_api.application_id}/tenants",
        params={"query": f"id in ({ids})", "sort_by": "displayName:desc"},
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"totalResults", "startIndex", "itemsPerPage", "items"}
    assert page["totalResults"] == 3 and page["itemsPerPage"] == 3 and page["startIndex"] == 1
    assert [t["displayName"] for t in page["items"]] == ["List 2", "List 1", "List 0"]
    assert page["items"][0] == mine[2]


def test_list_tenants_of_unknown_application_is_404(any_api):
    assert_base_error(any_api.call("GET", f"/applications/{'g' * 26}/tenants"), 404, "application_not_found")
