"""CSRF on every form: each POST route that answers people (hosted pages, SSO, dashboard),
enumerated from the application so a new form is covered, refuses a post without the CSRF token
and with a wrong one (403) and changes nothing in the database, even when signed in and aimed
at real records. tests/e2e has single cases (login form, dashboard add-user); this is the sweep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts

from tenantry.adapters.sql import tables as t
from tests.e2e.oidc_helpers import PASSWORD, browser_for, make_world
from tests.e2e.test_dashboard import Admin
from tests.e2e.test_identity_providers_api import oidc_body
from tests.support import Api, build_api, rand_email

FORM_MODULES = ("tenantry.web.pages.", "tenantry.web.dashboard.", "tenantry.web.sso.")
# Cross-site by design: the IdP's browser POST (SAML HTTP-POST binding). It is protected by the
# signed response and by InResponseTo matching a pending request bound to this browser
# (tests/e2e/test_sso_saml.py, tests/protocols/test_saml_response.py).
NO_CSRF_BY_DESIGN = {"/sso/{provider_id}/acs"}


def form_routes(api: Api) -> list[str]:
    found = []
    for route in iter_route_contexts(api.client.app.routes):
        original = route.original_route
        if not isinstance(original, APIRoute) or "POST" not in (route.methods or ()):
            continue
        if original.endpoint.__module__.startswith(FORM_MODULES) and route.path not in NO_CSRF_BY_DESIGN:
            found.append(route.path)
    return sorted(found)


def fingerprint(api: Api) -> str:
    """A digest of every row of every table: equal before and after means nothing changed."""
    digest = hashlib.sha256()
    with api.services.database.transaction(write=False) as conn:
        for table in t.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in conn.execute(sa.select(table)))
            digest.update(f"{table.name}:{rows}".encode())
    return digest.hexdigest()


@dataclass
class Site:
    api: Api
    admin: Admin
    values: dict[str, str]  # path parameter -> a real record's id
    tenant_host: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    api = build_api(tmp_path_factory.mktemp("csrf"))
    # Not entered as a context manager: no lifespan, so no mail dispatcher or purger thread
    # changes rows in the background between two fingerprints.
    world = make_world(api)
    tenant = world.tenant
    assert api.call("PATCH", f"/tenants/{tenant['id']}", json={"signupEnabled": True}).status_code == 200
    invited = api.call(
        "POST", "/new-user-invitation/invite-user", json={"tenantId": tenant["id"], "email": rand_email()}
    )
    assert invited.status_code == 200, invited.text
    client_id, _ = api.create_m2m_client(tenant["id"])
    provider = api.call("POST", "/identity-providers", json=oidc_body(tenant["id"]))
    assert provider.status_code in (200, 201), provider.text
    with api.services.database.transaction(write=False) as conn:
        message_id = conn.execute(sa.select(t.outbox.c.id).limit(1)).scalar_one()
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    other_admin = Admin(api)
    values = {
        "user_id": world.user["id"],
        "action": "delete",
        "invitation_id": invited.json()["newUserInvitationRequest"]["id"],
        "tenant_id": tenant["id"],
        "slug": "password",
        "admin_id": other_admin.record.id,
        "client_id": client_id,
        "message_id": message_id,
        "provider_id": provider.json()["id"],
    }
    yield Site(api, admin, values, world.tenant_host)
    api.services.close()


# Fields a real form would send (so that only the CSRF token is missing).
FIELDS = {
    "email": "someone@example.com",
    "identifier": "someone@example.com",
    "password": PASSWORD,
    "new_password": PASSWORD + "!",
    "code": "123456",
    "status": "INACTIVE",
    "displayName": "Changed",
    "name": "changed",
    "tenant": "",
    "action": "email",
}


def test_forms_are_found(site: Site) -> None:
    paths = form_routes(site.api)
    assert {"/login", "/signup", "/forgot-password", "/dashboard/login", "/dashboard/users/new"} <= set(paths)
    assert len(paths) > 25, paths


@pytest.mark.parametrize("token", [None, "forged-" + "x" * 36], ids=["missing", "wrong"])
def test_every_form_refuses_a_post_without_its_csrf_token(site: Site, token: str | None) -> None:
    api = site.api
    for path in form_routes(api):
        filled = path.format(**site.values)  # KeyError: add the new path parameter to site.values
        data: dict[str, Any] = {**FIELDS, "tenant": site.values["tenant_id"]}
        if token:
            data["csrf_token"] = token
        before = fingerprint(api)
        if path.startswith("/dashboard"):
            response = site.admin.client.post(filled, data=data)  # signed in, with its CSRF cookie
        else:
            with browser_for(api) as browser:
                host = site.tenant_host if path != "/signup" else api.vanity
                browser.get(f"https://{host}/login")  # a CSRF cookie of its own, just not the token
                response = browser.post(f"https://{host}{filled}", data=data, follow_redirects=False)
        assert response.status_code == 403, f"{path}: {response.status_code} {response.text[:300]}"
        assert response.headers["content-type"].startswith("text/html"), path
        assert fingerprint(api) == before, f"{path} changed the database without a CSRF token"
