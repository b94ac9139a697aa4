"""OAuth2 clients and the application resource."""

from __future__ import annotations

import base64

import pytest

from tests.e2e._helpers import ID, app_role_id, assert_base_error, assert_violation, create_role
from tests.support import rand


def test_create_m2m_client(any_api):
    admin = app_role_id(any_api, "admin-client")
    body = {"name": rand("m2m"), "type": "MACHINE_TO_MACHINE", "roleIds": [admin]}
    response = any_api.call("POST", "/clients", json=body)
    assert response.status_code == 201, response.text
    client = response.json()
    assert ID.match(client["id"])
    assert len(client["clientSecret"]) >= 32
    assert client["type"] == "MACHINE_TO_MACHINE" and client["grantTypes"] == ["client_credentials"]
    assert client["roleIds"] == [admin] and client["tenantId"] is None
    assert client["applicationId"] == any_api.application_id
    fetched = any_api.call("GET", f"/clients/{client['id']}")
    assert fetched.status_code == 200, fetched.text
    assert "clientSecret" not in fetched.json() and client["clientSecret"] not in fetched.text
    assert fetched.json() == {k: v for k, v in client.items() if k != "clientSecret"}
    token = any_api.token_for(client["id"], client["clientSecret"])
    assert any_api.call("GET", f"/applications/{any_api.application_id}", token=token).status_code == 200


def test_two_clients_get_different_secrets(any_api):
    secrets = {
        any_api.call("POST", "/clients", json={"name": rand("c"), "type": "MACHINE_TO_MACHINE"}).json()["clientSecret"]
        for _ in range(2)
    }
    assert len(secrets) == 2


def test_create_tenant_m2m_client(any_api):
    tenant = any_api.create_tenant()
    role = create_role(any_api, tenant["id"], ["user:read"])
    body = {"name": rand("m2m"), "type": "MACHINE_TO_MACHINE", "tenantId": tenant["id"], "roleIds": [role["id"]]}
    response = any_api.call("POST", "/clients", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["tenantId"] == tenant["id"] and response.json()["roleIds"] == [role["id"]]


def test_create_backend_server_client(any_api):
    uris = ["https://app.example.com/callback", "http://localhost:6001/auth/callback"]
    body = {
        "name": rand("web"),
        "type": "BACKEND_SERVER",
        "redirectUris": uris,
        "loginUrl": "https://app.example.com/login",
    }
    response = any_api.call("POST", "/clients", json=body)
    assert response.status_code == 201, response.text
    client = response.json()
    assert client["redirectUris"] == uris and client["loginUrl"] == body["loginUrl"]
    assert client["grantTypes"] == ["authorization_code", "refresh_token"]
    assert len(client["clientSecret"]) >= 32


def test_spa_client_has_no_secret(any_api):
    body = {"name": rand("spa"), "type": "SPA", "redirectUris": ["https://spa.example.com/cb"]}
    response = any_api.call("POST", "/clients", json=body)
    assert response.status_code == 201, response.text
    assert "clientSecret" not in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "MACHINE_TO_MACHINE", "redirectUris": ["https://x.example.com/cb"]}, "redirectUris"),
        ({"type": "BACKEND_SERVER", "redirectUris": ["http://evil.example.com/cb"]}, "redirectUris"),
        ({"type": "BACKEND_SERVER", "redirectUris": ["https://x.example.com/cb#frag"]}, "redirectUris"),
        ({"type": "BACKEND_SERVER", "redirectUris": ["not a uri"]}, "redirectUris"),
        ({"type": "ROBOT"}, "type"),
        ({"type": "SPA", "name": ""}, "name"),
        ({"type": "MACHINE_TO_MACHINE", "roleIds": ["j" * 26]}, "roleIds"),
    ],
)
def test_invalid_clients_are_refused(any_api, body, field):
    name = body.get("name", rand("bad"))
    response = any_api.call("POST", "/clients", json={**body, "name": name})
    assert_violation(response, field)
    if name:
        listed = any_api.call(
            "GET", f"/applications/{any_api.application_id}/clients", params={"query": f'name eq "{name}"'}
        )
        assert listed.json()["totalResults"] == 0


def test_client_with_a_role_of_another_tenant_is_refused(any_api):
    tenant, other = any_api.create_tenant(), any_api.create_tenant()
    foreign = create_role(any_api, other["id"], ["user:read"])
    body = {"name": rand("c"), "type": "MACHINE_TO_MACHINE", "tenantId": tenant["id"], "roleIds": [foreign["id"]]}
    assert_violation(any_api.call("POST", "/clients", json=body), "roleIds")


def test_client_for_unknown_tenant_is_404(any_api):
    body = {"name": rand("c"), "type": "MACHINE_TO_MACHINE", "tenantId": "k" * 26}
    assert_base_error(any_api.call("POST", "/clients", json=body), 404, "tenant_not_found")


def test_list_application_clients(any_api):
    made = [any_api.call("POST", "/clients", json={"name": rand("l"), "type": "SPA"}).json() for _ in range(2)]
    ids = ",".join(f'"{c["id"]}"' for c in made)
    response = any_api.call(
        "GET", f"/applications/{any_api.application_id}/clients", params={"query": f"id in ({ids})"}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"totalResults", "startIndex", "itemsPerPage", "items"}
    assert {c["id"] for c in page["items"]} == {c["id"] for c in made}
    everything = any_api.call("GET", f"/applications/{any_api.application_id}/clients", params={"count": "1000"})
    assert any_api.m2m_id in {c["id"] for c in everything.json()["items"]}
    assert "clientSecret" not in everything.text


def test_delete_client_revokes_its_tokens_and_credentials(any_api):
    admin = app_role_id(any_api, "admin-client")
    body = {"name": rand("gone"), "type": "MACHINE_TO_MACHINE", "roleIds": [admin]}
    client = any_api.call("POST", "/clients", json=body).json()
    token = any_api.token_for(client["id"], client["clientSecret"])
    assert any_api.call("GET", f"/clients/{client['id']}", token=token).status_code == 200
    response = any_api.call("DELETE", f"/clients/{client['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_base_error(any_api.call("GET", f"/clients/{client['id']}"), 404, "client_not_found")
    assert_base_error(any_api.call("GET", f"/applications/{any_api.application_id}", token=token), 401)
    basic = base64.b64encode(f"{client['id']}:{client['clientSecret']}".encode()).decode()
    refused = any_api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert_base_error(any_api.call("DELETE", f"/clients/{client['id']}"), 404, "client_not_found")


def test_get_application(any_api):
    response = any_api.call("GET", f"/applications/{any_api.application_id}")
    assert response.status_code == 200, response.text
    app = response.json()
    assert app["id"] == any_api.application_id
    assert app["vanityDomain"] == any_api.vanity
    assert app["status"] == "ACTIVE"
    assert {"name", "displayName", "isCustomDomainActive", "signupEnabled", "loginUrl", "metadata"} <= set(app)


def test_get_unknown_application_is_404(any_api):
    assert_base_error(any_api.call("GET", f"/applications/{'m' * 26}"), 404, "application_not_found")
