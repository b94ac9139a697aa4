"""Oversized and deeply nested bodies on every operation that reads one: every JSON operation of
the OpenAPI document gets 100,000 levels of nesting (arrays and objects, at the top and inside a
field) and a body over the size limit; every form route (OAuth token, hosted pages, dashboard)
gets an oversized form, with and without Content-Length. Each answer is a 4xx in the documented
shape, and the server keeps serving. tests/e2e/test_errors.py has the Create User cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.e2e.test_dashboard import Admin
from tests.e2e.test_identity_providers_api import saml_body
from tests.support import Api, build_api

DEPTH = 100_000
NESTED = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "in a field": b'{"email": "a@example.com", "publicMetadata": {"x": ' + b"[" * DEPTH + b"]" * DEPTH + b"}}",
}
FORM_MODULES = ("tenantry.web.pages.", "tenantry.web.dashboard.", "tenantry.web.sso.", "tenantry.web.oauth.")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    built = build_api(tmp_path_factory.mktemp("bodies"))
    with built.client:
        yield built  # server exceptions raise here, even those after the 413 was sent
    built.services.close()


def json_operations(api: Api) -> list[tuple[str, str]]:
    document: dict[str, Any] = api.client.get("/api/openapi.json").json()
    return sorted(
        (method.upper(), path.replace("{", "").replace("}", ""))  # any path parameter value will do
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


def form_routes(api: Api) -> list[str]:
    return sorted(
        {
            route.path.replace("{", "").replace("}", "")
            for route in iter_route_contexts(api.client.app.routes)
            if isinstance(route.original_route, APIRoute)
            and "POST" in (route.methods or ())
            and route.original_route.endpoint.__module__.startswith(FORM_MODULES)
        }
    )


def alive(api: Api) -> None:
    assert api.client.get("/health").status_code == 200
    assert api.call("GET", f"/applications/{api.application_id}").status_code == 200


def is_documented_4xx(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        assert body.get("type") in ("base_error", "constraint_violations_error") or "error" in body, body


def test_every_json_operation_refuses_deep_nesting(api: Api) -> None:
    operations = json_operations(api)
    assert len(operations) > 30
    for method, path in operations:
        for shape, body in NESTED.items():
            response = api.client.request(
                method, path, content=body, headers={**api.auth(), "Content-Type": "application/json"}
            )
            is_documented_4xx(response)
            assert response.status_code != 413, f"{method} {path} {shape}: nesting must be refused, not sized"
    alive(api)


def test_every_json_operation_refuses_an_oversized_body(api: Api) -> None:
    limit = api.services.settings.max_body_bytes
    big = b'{"email": "a@example.com", "junk": "' + b"a" * (limit + 1) + b'"}'
    for method, path in json_operations(api):
        headers = {**api.auth(), "Content-Type": "application/json"}
        sized = api.client.request(method, path, content=big, headers=headers)
        streamed = api.client.request(method, path, content=iter([big[:limit], big[limit:]]), headers=headers)
        for response in (sized, streamed):
            assert response.status_code == 413, f"{method} {path}: {response.status_code} {response.text[:200]}"
    alive(api)


def test_every_form_route_refuses_an_oversized_form(api: Api) -> None:
    limit = api.services.settings.max_body_bytes
    form = b"csrf_token=x&email=a%40example.com&junk=" + b"a" * (limit + 1)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    routes = form_routes(api)
    assert {"/api/v1/oauth2/token", "/login", "/dashboard/login"} <= set(routes)
    tenant = api.create_tenant()
    tenant_host = f"{tenant['domainName']}-{api.vanity}"
    provider = api.call("POST", "/identity-providers", json=saml_body(tenant["id"]))
    assert provider.status_code in (200, 201), provider.text
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    for path in routes:
        on_tenant_host = not path.startswith(("/dashboard", "/api/"))  # hosted pages live on tenant hosts
        path = path.replace("provider_id", provider.json()["id"])  # the SAML ACS reads the form of a real one
        url = f"https://{tenant_host}{path}" if on_tenant_host else path
        client = admin.client if path.startswith("/dashboard") else api.client  # signed in: the body is read
        for content in (form, iter([form[:limit], form[limit:]])):
            response = client.post(url, content=content, headers=headers, follow_redirects=False)
            assert response.status_code == 413, f"{path}: {response.status_code} {response.text[:200]}"
    alive(api)
