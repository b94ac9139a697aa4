"""Dashboard: the tenant page (settings, policy overrides, delete) and the application policies page."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.test_dashboard import Admin
from tests.support import Api


@pytest.fixture
def tenant(api: Api) -> dict[str, Any]:
    return api.create_tenant()


@pytest.fixture
def app_admin(api: Api) -> Admin:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    return admin


def _policy(api: Api, tenant_id: str, kind: str) -> dict[str, Any]:
    response = api.call("POST", f"/tenants/{tenant_id}/{kind}/resolve-overrides")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_edit_tenant_settings(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    path = f"/dashboard/tenants/{tenant['id']}"
    page = app_admin.get(path)
    assert page.status_code == 200 and tenant["domainName"] in page.text and 'id="tenant-settings-form"' in page.text
    assert app_admin.get("/dashboard/tenants", per=100).text.count(path) >= 1
    saved = app_admin.post(
        f"{path}/settings",
        {"displayName": "Renamed", "logoUrl": "https://cdn.example.com/logo.png", "signupEnabled": "on"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?done=tenant-saved"
    doc = api.call("GET", f"/tenants/{tenant['id']}").json()
    assert (doc["displayName"], doc["logoUrl"], doc["signupEnabled"]) == (
        "Renamed",
        "https://cdn.example.com/logo.png",
        True,
    )
    bad = app_admin.post(f"{path}/settings", {"displayName": "Other", "logoUrl": "javascript:alert(1)"})
    assert bad.status_code == 400 and "logoUrl" in bad.text
    after = api.call("GET", f"/tenants/{tenant['id']}").json()
    assert (after["displayName"], after["signupEnabled"]) == ("Renamed", True)
    assert app_admin.post(f"{path}/settings", {"displayName": "Renamed"}).status_code == 303
    assert api.call("GET", f"/tenants/{tenant['id']}").json()["signupEnabled"] is False


def test_policy_overrides(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    path = f"/dashboard/tenants/{tenant['id']}/policies"
    assert app_admin.post(f"{path}/password", {"minLength": "12"}).status_code == 303
    assert _policy(api, tenant["id"], "password-policies")["minLength"] == 12
    too_short = app_admin.post(f"{path}/password", {"minLength": "3"})
    assert too_short.status_code == 400 and "minLength" in too_short.text
    not_a_number = app_admin.post(f"{path}/password", {"minLength": "twelve"})
    assert not_a_number.status_code == 400
    assert _policy(api, tenant["id"], "password-policies")["minLength"] == 12
    signup = {"verification": "EMAIL_VERIFICATION", "customRedirectUrl": "https://app.example.com/welcome"}
    assert app_admin.post(f"{path}/signup", signup).status_code == 303
    assert _policy(api, tenant["id"], "signup-policies") == signup
    email = {"invitationMinutes": "60", "invitationUrl": "https://app.example.com/invite"}
    assert app_admin.post(f"{path}/email", email).status_code == 303
    resolved = _policy(api, tenant["id"], "email-policies")
    assert (resolved["invitationMinutes"], resolved["invitationUrl"]) == (60, "https://app.example.com/invite")
    assert app_admin.post(f"{path}/user-schema", {"requiredFields": "givenName, familyName"}).status_code == 303
    assert _policy(api, tenant["id"], "user-schemas")["requiredFields"] == ["givenName", "familyName"]
    bad_field = app_admin.post(f"{path}/user-schema", {"requiredFields": "shoeSize"})
    assert bad_field.status_code == 400
    assert _policy(api, tenant["id"], "user-schemas")["requiredFields"] == ["givenName", "familyName"]
    page = app_admin.get(f"/dashboard/tenants/{tenant['id']}")
    assert 'value="12"' in page.text and "EMAIL_VERIFICATION" in page.text
    assert app_admin.post(f"{path}/password", {"minLength": ""}).status_code == 303  # back to inherited
    assert _policy(api, tenant["id"], "password-policies")["minLength"] != 12
    assert app_admin.post(f"{path}/no-such-policy", {}).status_code == 404


def test_application_policies(api: Api, app_admin: Admin) -> None:
    page = app_admin.get("/dashboard/policies")
    assert page.status_code == 200 and 'id="policy-signup-form"' in page.text and 'id="policy-email-form"' in page.text
    try:
        assert app_admin.post("/dashboard/policies/email", {"activationMinutes": "120"}).status_code == 303
        doc = api.call("GET", f"/applications/{api.application_id}/email-policies").json()
        assert doc["activationMinutes"] == 120
        bad = app_admin.post("/dashboard/policies/email", {"activationMinutes": "5", "activationUrl": "http://x"})
        assert bad.status_code == 400 and "activationMinutes" in bad.text
        assert api.call("GET", f"/applications/{api.application_id}/email-policies").json()["activationMinutes"] == 120
    finally:
        assert app_admin.post("/dashboard/policies/email", {"activationMinutes": ""}).status_code == 303
    assert api.call("GET", f"/applications/{api.application_id}/email-policies").json()["activationMinutes"] == 1440


def test_delete_tenant_with_confirmation(api: Api, app_admin: Admin) -> None:
    doomed = api.create_tenant()
    path = f"/dashboard/tenants/{doomed['id']}"
    assert app_admin.get(f"{path}/delete").status_code == 200
    refused = app_admin.post(f"{path}/delete", {"confirm": "not-the-name"})
    assert refused.status_code == 400 and api.call("GET", f"/tenants/{doomed['id']}").json()["status"] == "ACTIVE"
    assert app_admin.post(f"{path}/delete", {"confirm": doomed["domainName"]}).status_code == 303
    shown = app_admin.get(path)
    if shown.status_code == 200:  # not purged yet
        assert "DELETE_IN_PROGRESS" in shown.text and 'id="tenant-settings-form"' not in shown.text
    for _ in range(100):  # the purge worker runs every 0.2 s in tests
        if app_admin.get(path).status_code == 404:
            break
        time.sleep(0.1)
    assert app_admin.get(path).status_code == 404


def test_tenant_admin_edits_only_their_own_tenant(api: Api) -> None:
    mine, other = api.create_tenant(), api.create_tenant()
    admin = Admin(api, mine["id"])
    admin.sign_in()
    own = admin.get(f"/dashboard/tenants/{mine['id']}")
    assert own.status_code == 200 and 'id="tenant-delete-link"' not in own.text
    assert admin.post(f"/dashboard/tenants/{mine['id']}/settings", {"displayName": "Ours"}).status_code == 303
    assert api.call("GET", f"/tenants/{mine['id']}").json()["displayName"] == "Ours"
    assert admin.post(f"/dashboard/tenants/{mine['id']}/policies/password", {"minLength": "10"}).status_code == 303
    assert _policy(api, mine["id"], "password-policies")["minLength"] == 10
    for path in (f"/dashboard/tenants/{other['id']}", f"/dashboard/tenants/{mine['id']}/delete", "/dashboard/policies"):
        assert admin.get(path).status_code == 404, path
    posts = [
        (f"/dashboard/tenants/{other['id']}/settings", {"displayName": "Hijacked"}),
        (f"/dashboard/tenants/{other['id']}/policies/password", {"minLength": "30"}),
        (f"/dashboard/tenants/{other['id']}/delete", {"confirm": other["domainName"]}),
        (f"/dashboard/tenants/{mine['id']}/delete", {"confirm": mine["domainName"]}),
        ("/dashboard/policies/password", {"minLength": "30"}),
    ]
    for path, body in posts:
        assert admin.post(path, body).status_code == 404, path
    theirs = api.call("GET", f"/tenants/{other['id']}").json()
    assert (theirs["displayName"], theirs["status"]) == (other["displayName"], "ACTIVE")
    assert _policy(api, other["id"], "password-policies")["minLength"] != 30
    assert api.call("GET", f"/tenants/{mine['id']}").json()["status"] == "ACTIVE"


@pytest.mark.parametrize("suffix", ["settings", "policies/password", "delete"])
def test_tenant_forms_refuse_a_missing_csrf_token(
    api: Api, app_admin: Admin, tenant: dict[str, Any], suffix: str
) -> None:
    body = {"displayName": "No token", "minLength": "40", "confirm": tenant["domainName"]}
    assert app_admin.client.post(f"/dashboard/tenants/{tenant['id']}/{suffix}", data=body).status_code == 403
    doc = api.call("GET", f"/tenants/{tenant['id']}").json()
    assert (doc["displayName"], doc["status"]) == (tenant["displayName"], "ACTIVE")
    assert _policy(api, tenant["id"], "password-policies")["minLength"] != 40


def test_a_tenant_administrators_session_ends_when_the_tenant_is_deleted(api: Api) -> None:
    doomed = api.create_tenant()
    admin = Admin(api, doomed["id"])
    assert admin.sign_in().status_code == 303
    assert admin.get("/dashboard/users").status_code == 200
    assert api.call("DELETE", f"/tenants/{doomed['id']}").status_code == 202
    for path in ("/dashboard/users", "/dashboard/audit", f"/dashboard/tenants/{doomed['id']}"):
        refused = admin.get(path)
        assert refused.status_code in (302, 303) and "/dashboard/login" in refused.headers["location"], path
