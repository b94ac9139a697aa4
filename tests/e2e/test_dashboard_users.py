"""Dashboard: user page extras (revoke sessions, reactivate by invitation, invitation and audit
history), invitation resend and htmx cancel, and the Users table as an htmx fragment (both databases)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tenantry.adapters.sql import tables as t
from tenantry.core.access import Principal
from tenantry.core.auth.sessions import start_session
from tenantry.core.tenants.service import get_tenant
from tenantry.core.users.service import get_user
from tests.e2e.test_dashboard import Admin, _rows
from tests.support import Api, rand, rand_email


@pytest.fixture
def tenant(api: Api) -> dict[str, Any]:
    return api.create_tenant()


@pytest.fixture
def app_admin(api: Api) -> Admin:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    return admin


def _session_for(api: Api, user_id: str) -> None:
    core = api.services.core
    operator = Principal.operator(api.application_id)
    user = get_user(core, operator, user_id)
    start_session(core, get_tenant(core, operator, user.tenant_id), user)


def test_revoke_sessions(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    user = api.create_user(tenant["id"], status="ACTIVE")
    _session_for(api, user["id"])
    _session_for(api, user["id"])
    assert len(_rows(api, t.auth_sessions, user_id=user["id"])) == 2
    page = app_admin.get(f"/dashboard/users/{user['id']}")
    assert "Revoke sessions and refresh tokens" in page.text
    assert app_admin.client.post(f"/dashboard/users/{user['id']}/sessions").status_code == 403
    assert len(_rows(api, t.auth_sessions, user_id=user["id"])) == 2
    done = app_admin.post(f"/dashboard/users/{user['id']}/sessions", {})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=revoked")
    assert _rows(api, t.auth_sessions, user_id=user["id"]) == []
    event = [r for r in _rows(api, t.audit_events, target_id=user["id"]) if r.action == "user.sessions_revoked"]
    assert len(event) == 1 and event[0].details["sessions"] == 2
    assert "revoked" in app_admin.get(done.headers["location"]).text.lower()


def test_reactivate_by_invitation_and_histories(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    user = api.create_user(tenant["id"], status="ACTIVE")
    path = f"/dashboard/users/{user['id']}"
    assert app_admin.post(f"{path}/status", {"status": "INACTIVE"}).status_code == 303
    page = app_admin.get(path)
    assert "Reactivate by invitation" in page.text and "No invitations." in page.text
    assert app_admin.post(f"{path}/invite", {}).status_code == 303
    invitations = _rows(api, t.invitations, user_id=user["id"])
    assert len(invitations) == 1 and invitations[0].kind == "EXISTING_USER"
    assert [m.kind for m in _rows(api, t.outbox, recipient=user["email"])] == ["existing_user_invitation"]
    page = app_admin.get(path)
    history = page.text.split('id="invitations-h"')[1].split('id="history-h"')[0]
    assert "EXISTING_USER" in history and "PENDING_INVITE_ACCEPTANCE" in history
    audit = page.text.split('id="history-h"')[1]
    actions = re.findall(r"<td><code>([a-z_.]+)</code></td>", audit)
    assert "user.created" in actions and "user.updated" in actions


def test_new_user_invitation_shows_in_the_users_history(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email = rand_email()
    assert app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "email": email}).status_code == 200
    user = api.create_user(tenant["id"], email=email)
    history = app_admin.get(f"/dashboard/users/{user['id']}").text.split('id="invitations-h"')[1]
    assert "NEW_USER" in history.split('id="history-h"')[0]


def test_resend_invitation_replaces_the_old_one(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email = rand_email()
    assert app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "email": email}).status_code == 200
    first = _rows(api, t.invitations, email=email)[0]
    listing = app_admin.get("/dashboard/invitations", tenant=tenant["id"])
    assert f'action="/dashboard/invitations/{first.id}/resend"' in listing.text
    assert app_admin.client.post(f"/dashboard/invitations/{first.id}/resend").status_code == 403
    assert len(_rows(api, t.outbox, recipient=email)) == 1
    resent = app_admin.post(f"/dashboard/invitations/{first.id}/resend", {})
    assert resent.status_code == 303 and resent.headers["location"] == "/dashboard/invitations?done=resent"
    rows = {r.id: r.status for r in _rows(api, t.invitations, email=email)}
    assert len(rows) == 2 and rows[first.id] == "CANCELED"
    assert len(_rows(api, t.outbox, recipient=email)) == 2
    link = app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "type": "LINK"})
    assert link.status_code == 200
    link_id = next(r.id for r in _rows(api, t.invitations, tenant_id=tenant["id"]) if r.invitation_type == "LINK")
    refused = app_admin.post(f"/dashboard/invitations/{link_id}/resend", {})
    assert refused.status_code == 400
    assert len(_rows(api, t.invitations, tenant_id=tenant["id"])) == 3


def test_cancel_with_htmx_answers_the_row(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email = rand_email()
    app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "email": email})
    invitation = _rows(api, t.invitations, email=email)[0]
    row = app_admin.client.post(
        f"/dashboard/invitations/{invitation.id}/cancel",
        content=f"csrf_token={app_admin.csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"},
    )
    assert row.status_code == 200 and row.text.strip().startswith(f'<tr id="invitation-{invitation.id}"')
    assert "CANCELED" in row.text and "/cancel" not in row.text
    assert _rows(api, t.invitations, id=invitation.id)[0].status == "CANCELED"


def test_tenant_admin_cannot_reach_other_tenants_user_actions(api: Api) -> None:
    mine, other = api.create_tenant(), api.create_tenant()
    theirs = api.create_user(other["id"], status="ACTIVE")
    _session_for(api, theirs["id"])
    boss = Admin(api)
    boss.sign_in()
    email = rand_email()
    boss.post("/dashboard/invitations/new", {"tenant": other["id"], "email": email})
    foreign = _rows(api, t.invitations, email=email)[0]
    admin = Admin(api, mine["id"])
    admin.sign_in()
    assert admin.post(f"/dashboard/users/{theirs['id']}/sessions", {}).status_code == 404
    assert len(_rows(api, t.auth_sessions, user_id=theirs["id"])) == 1
    assert admin.post(f"/dashboard/invitations/{foreign.id}/resend", {}).status_code == 404
    assert len(_rows(api, t.outbox, recipient=email)) == 1


def test_users_table_as_an_htmx_fragment(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    prefix = rand("hx")
    emails = [f"{prefix}{i}@example.com" for i in range(3)]
    for email in emails:
        api.create_user(tenant["id"], email=email)
    admin = Admin(api)
    admin.sign_in()
    params = {"tenant": tenant["id"], "q": prefix, "per": "2"}
    full = admin.client.get("/dashboard/users", params=params)
    assert full.status_code == 200 and "<html" in full.text and 'hx-get="/dashboard/users"' in full.text
    fragment = admin.client.get("/dashboard/users", params=params, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section class="panel" id="results-panel"')
    assert re.findall(rf">({prefix}[^<]*)</a>", fragment.text) == emails[:2]
    assert 'hx-target="#results-panel"' in fragment.text and "page=2" in fragment.text
    second = admin.client.get("/dashboard/users", params={**params, "page": "2"}, headers={"HX-Request": "true"})
    assert re.findall(rf">({prefix}[^<]*)</a>", second.text) == emails[2:]
    restore = admin.client.get(
        "/dashboard/users", params=params, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text
    built_in = admin.client.get("/dashboard/users", params={**params, "per": "10", "idp": "WRISTBAND"})
    assert re.findall(rf">({prefix}[^<]*)</a>", built_in.text) == emails
    assert (
        re.findall(
            rf">({prefix}[^<]*)</a>", admin.client.get("/dashboard/users", params={**params, "idp": "OIDC"}).text
        )
        == []
    )
    bad = admin.client.get("/dashboard/users", params={**params, "sort": "x"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200  # an unknown sort falls back to email
    admin.client.cookies.delete("tenantry_admin")
    signed_out = admin.client.get("/dashboard/users", headers={"HX-Request": "true"})
    assert signed_out.headers.get("HX-Redirect") == "/dashboard/login"


def test_add_user_and_profile_follow_the_tenants_user_schema(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    put = api.call("PUT", f"/tenants/{tenant['id']}/user-schemas", json={"requiredFields": ["phoneNumber"]})
    assert put.status_code == 200, put.text
    form = app_admin.get("/dashboard/users/new", tenant=tenant["id"])
    assert re.search(r'id="phoneNumber" name="phoneNumber" type="text" value=""\s*required', form.text)
    email = rand_email()
    missing = app_admin.post("/dashboard/users/new", {"tenant": tenant["id"], "email": email, "givenName": "Ann"})
    assert missing.status_code == 400 and "phoneNumber: required" in missing.text and 'value="Ann"' in missing.text
    query = {"query": f'email eq "{email}"'}
    assert api.call("GET", f"/tenants/{tenant['id']}/users", params=query).json()["totalResults"] == 0
    fields = {"tenant": tenant["id"], "email": email, "phoneNumber": "+14155550100", "username": rand("user")}
    made = app_admin.post("/dashboard/users/new", fields)
    assert made.status_code == 303, made.text
    user_id = made.headers["location"].split("/")[3].split("?")[0]
    doc = api.call("GET", f"/users/{user_id}").json()
    assert (doc["phoneNumber"], doc["username"]) == ("+14155550100", fields["username"])
    path = f"/dashboard/users/{user_id}"
    cleared = app_admin.post(f"{path}/profile", {"username": fields["username"], "phoneNumber": ""})
    assert cleared.status_code == 400 and api.call("GET", f"/users/{user_id}").json()["phoneNumber"] == "+14155550100"
    edited = app_admin.post(f"{path}/profile", {"phoneNumber": "+14155550199", "fullName": "Ann Example"})
    assert edited.status_code == 303
    doc = api.call("GET", f"/users/{user_id}").json()
    assert (doc["phoneNumber"], doc["fullName"], doc.get("username")) == ("+14155550199", "Ann Example", None)
    bad = app_admin.post(f"{path}/profile", {"phoneNumber": "not a phone"})
    assert bad.status_code == 400 and api.call("GET", f"/users/{user_id}").json()["phoneNumber"] == "+14155550199"


def test_add_user_under_an_enterprise_identity_provider(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    from tests.e2e.test_external_idp_workflows import add_provider

    provider = add_provider(api, tenant["id"], jit=False)
    page = app_admin.get("/dashboard/users/new", tenant=tenant["id"])
    assert page.status_code == 200 and f'value="{provider.name}"' in page.text
    email = rand_email()
    base = {"tenant": tenant["id"], "email": email, "identityProvider": provider.name}
    missing = app_admin.post("/dashboard/users/new", base)
    assert missing.status_code == 400 and "externalId: required" in missing.text
    unknown = app_admin.post("/dashboard/users/new", {**base, "identityProvider": "nope", "externalId": "x"})
    assert unknown.status_code == 400
    assert (
        api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()[
            "totalResults"
        ]
        == 0
    )
    made = app_admin.post("/dashboard/users/new", {**base, "externalId": "00u-okta-42"})
    assert made.status_code == 303, made.text
    users = api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()["items"]
    assert [(u["identityProviderName"], u["externalId"]) for u in users] == [(provider.name, "00u-okta-42")]
    # The SSO login's "verify user" then finds exactly this user.
    verified = api.call(
        "POST",
        "/external-idp-login/verify-user",
        json={"tenantId": tenant["id"], "identityProviderName": provider.name, "externalId": "00u-okta-42"},
    )
    assert verified.status_code in (200, 400), verified.text  # 400 user_not_active until the invitation is accepted
