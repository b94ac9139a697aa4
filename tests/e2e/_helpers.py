"""Assertions and builders shared by the end-to-end HTTP tests."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

import httpx
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from tests.support import Api, rand

TICKET = re.compile(r"^[a-z2-7]{26}$")
ID = re.compile(r"^[a-z2-7]{26}$")


def safe(api: Api) -> Api:
    """The same application, but a server crash comes back as a 500 response instead of an
    exception, so a test can assert on the status code."""
    client = TestClient(api.client.app, base_url=str(api.client.base_url), raise_server_exceptions=False)
    return replace(api, client=client, _token=api.token)


def error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("ticket"), str) and TICKET.match(body["ticket"]), body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def assert_base_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    body = error_body(response, status)
    assert body["type"] == "base_error", body
    assert set(body) == {"type", "code", "message", "ticket"}, body
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_violation(response: httpx.Response, field: str, code: str | None = None) -> dict[str, Any]:
    """A 400 ``constraint_violations_error`` naming ``field``; returns its first violation."""
    body = error_body(response, 400)
    assert body["type"] == "constraint_violations_error", body
    assert body["code"] == "message_body_constraint_violations", body
    assert field in body["violations"], body
    first: dict[str, Any] = body["violations"][field][0]
    if code is not None:
        assert first["code"] == code, body
    return first


def assert_denied(response: httpx.Response) -> None:
    """Refused as 403 or 404, in the base error shape."""
    assert response.status_code in (403, 404), f"{response.status_code}: {response.text[:500]}"
    assert_base_error(response, response.status_code)


def user_count(api: Api, tenant_id: str, query: str | None = None) -> int:
    params = {"count": "0", **({"query": query} if query else {})}
    response = api.call("GET", f"/tenants/{tenant_id}/users", params=params)
    assert response.status_code == 200, response.text
    total: int = response.json()["totalResults"]
    return total


def active_tenant_count(api: Api) -> int:
    params = {"count": "0", "query": 'status eq "ACTIVE"'}
    response = api.call("GET", f"/applications/{api.application_id}/tenants", params=params)
    assert response.status_code == 200, response.text
    total: int = response.json()["totalResults"]
    return total


def user_body(tenant_id: str, **fields: Any) -> dict[str, Any]:
    return {"tenantId": tenant_id, "identityProviderName": "wristband", "email": f"{rand('u')}@example.com", **fields}


def create_role(api: Api, tenant_id: str, permissions: list[str], name: str | None = None) -> dict[str, Any]:
    body = {"name": name or rand("role"), "displayName": "Custom role", "permissions": permissions}
    response = api.call("POST", f"/tenants/{tenant_id}/roles", json=body)
    assert response.status_code == 201, response.text
    role: dict[str, Any] = response.json()
    return role


def client_token(api: Api, tenant_id: str | None, role_ids: list[str]) -> tuple[str, str]:
    """(client id, access token) of a new M2M client holding exactly ``role_ids``."""
    body = {"name": rand("client"), "type": "MACHINE_TO_MACHINE", "tenantId": tenant_id, "roleIds": role_ids}
    response = api.call("POST", "/clients", json=body)
    assert response.status_code == 201, response.text
    doc = response.json()
    return doc["id"], api.token_for(doc["id"], doc["clientSecret"])


def token_with_permissions(api: Api, tenant_id: str, permissions: list[str]) -> str:
    """A token whose only grants are ``permissions`` with the TENANT boundary of ``tenant_id``."""
    role = create_role(api, tenant_id, permissions)
    return client_token(api, tenant_id, [role["id"]])[1]


def app_role_id(api: Api, sku: str) -> str:
    # Any tenant sees the application roles; make one just to ask.
    tenant = api.create_tenant()
    response = api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"})
    assert response.status_code == 200, response.text
    role_id: str = next(r["id"] for r in response.json()["items"] if r["sku"] == sku)
    return role_id


@cache
def foreign_key() -> RSAKey:
    """An RSA key the server has never seen."""
    return RSAKey.generate_key(2048, private=True, parameters={"kid": rand("kid")})
