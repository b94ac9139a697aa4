"""Dashboard: clients, signing keys, the email outbox and the audit log pages, over HTTP."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tenantry.adapters.sql import tables as t
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


def _token_status(api: Api, client_id: str, secret: str) -> int:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return api.client.post(
        "/api/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    ).status_code


def test_clients_create_shows_the_secret_once_and_delete(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    name = rand("dash-client")
    roles = api.call(
        "GET", f"/tenants/{tenant['id']}/roles", params={"count": 100, "include_application_roles": "true"}
    ).json()["items"]
    tenant_admin = next(r for r in roles if r["sku"] == "tenant-admin")
    assert tenant_admin["id"] in app_admin.get("/dashboard/clients").text
    made = app_admin.post(
        "/dashboard/clients",
        [("name", name), ("type", "MACHINE_TO_MACHINE"), ("tenant", tenant["id"]), ("roles", tenant_admin["id"])],
    )
    assert made.status_code == 200, made.text
    client_id = re.search(r'id="client-id">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="client-secret"[^>]*>([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    assert _token_status(api, client_id, secret) == 200
    token = api.token_for(client_id, secret)
    assert api.call("GET", f"/tenants/{tenant['id']}/users", token=token).status_code == 200  # its role works
    stored = _rows(api, t.clients, id=client_id)
    assert len(stored) == 1 and stored[0].tenant_id == tenant["id"] and secret not in str(tuple(stored[0]))
    listing = app_admin.get("/dashboard/clients", per=100)
    assert listing.status_code == 200 and client_id in listing.text and secret not in listing.text
    assert app_admin.post(f"/dashboard/clients/{client_id}/delete", {}).status_code == 303
    assert _rows(api, t.clients, id=client_id) == []
    assert _token_status(api, client_id, secret) == 401
    assert app_admin.post(f"/dashboard/clients/{client_id}/delete", {}).status_code == 404


def test_public_client_has_no_secret(app_admin: Admin) -> None:
    made = app_admin.post(
        "/dashboard/clients", {"name": rand("spa"), "type": "SPA", "redirectUris": "https://app.example.com/cb\n"}
    )
    assert made.status_code == 200 and 'id="client-secret"' not in made.text and "no secret" in made.text


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "type": "MACHINE_TO_MACHINE"},
        {"type": "NOT_A_TYPE"},
        {"type": "BACKEND_SERVER", "redirectUris": "javascript:alert(1)"},
        {"type": "MACHINE_TO_MACHINE", "redirectUris": "https://app.example.com/cb"},
        {"type": "MACHINE_TO_MACHINE", "tenant": "no-such-tenant"},
        {"type": "MACHINE_TO_MACHINE", "roles": "no-such-role"},
    ],
)
def test_client_bad_input_changes_nothing(api: Api, app_admin: Admin, body: dict[str, str]) -> None:
    before = len(_rows(api, t.clients))
    refused = app_admin.post("/dashboard/clients", {"name": rand("bad"), **body})
    assert refused.status_code == 400 and 'class="error"' in refused.text
    assert len(_rows(api, t.clients)) == before


def test_signing_keys_list_and_rotate(api: Api, app_admin: Admin) -> None:
    api.token  # noqa: B018  (a signed token makes sure a key exists)
    before = app_admin.get("/dashboard/keys")
    assert before.status_code == 200 and "active" in before.text
    assert app_admin.post("/dashboard/keys/rotate", {}).status_code == 303
    active = [r.kid for r in _rows(api, t.signing_keys) if r.retired_at is None]
    assert len(active) == 1 and active[0] in app_admin.get("/dashboard/keys").text
    jwks = api.client.get("/.well-known/jwks.json")
    if jwks.status_code == 200:
        assert active[0] in {k["kid"] for k in jwks.json()["keys"]}
    assert [r.action for r in _rows(api, t.audit_events, target_id=active[0])] == ["signing_key.rotated"]
    assert app_admin.client.post("/dashboard/keys/rotate").status_code == 403
    assert [r.kid for r in _rows(api, t.signing_keys) if r.retired_at is None] == active


def _outbox_message(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> tuple[str, Any]:
    email = rand_email()
    made = app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "type": "EMAIL", "email": email})
    assert made.status_code == 200, made.text
    rows = _rows(api, t.outbox, recipient=email)
    assert len(rows) == 1
    return email, rows[0]


def _set_outbox(api: Api, message_id: str, **values: Any) -> None:
    with api.services.database.transaction(write=True) as conn:
        conn.execute(sa.update(t.outbox).where(t.outbox.c.id == message_id).values(**values))
        conn.commit()


def test_outbox_lists_filters_and_retries(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email, message = _outbox_message(api, app_admin, tenant)
    listing = app_admin.get("/dashboard/outbox", q=email)
    assert listing.status_code == 200 and email in listing.text and "1 message" in listing.text
    assert message.text_body not in listing.text
    future = api.services.core.clock.now().replace(year=2100)
    _set_outbox(
        api, message.id, status="FAILED", attempts=5, last_error="550 mailbox unavailable", next_attempt_at=future
    )
    failed = app_admin.get("/dashboard/outbox", q=email, status="FAILED", error="on", attempts="5")
    assert "1 message" in failed.text and "550 mailbox unavailable" in failed.text and "Retry now" in failed.text
    assert "0 messages" in app_admin.get("/dashboard/outbox", q=email, status="SENT").text
    assert "0 messages" in app_admin.get("/dashboard/outbox", q=email, attempts="6").text
    assert app_admin.client.post(f"/dashboard/outbox/{message.id}/retry").status_code == 403
    assert _rows(api, t.outbox, id=message.id)[0].status == "FAILED"
    retried = app_admin.post(f"/dashboard/outbox/{message.id}/retry", {})
    assert retried.status_code == 303 and retried.headers["location"] == "/dashboard/outbox?done=retry"
    row = _rows(api, t.outbox, id=message.id)[0]
    assert row.status in ("PENDING", "SENT") and row.next_attempt_at.replace(tzinfo=None) < future.replace(tzinfo=None)
    assert "email.retry_requested" in [r.action for r in _rows(api, t.audit_events, target_id=message.id)]
    assert app_admin.post("/dashboard/outbox/no-such-message/retry", {}).status_code == 404


def test_outbox_retry_with_htmx_answers_a_fragment(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email, message = _outbox_message(api, app_admin, tenant)
    _set_outbox(api, message.id, status="FAILED", last_error="boom")
    fragment = app_admin.client.post(
        f"/dashboard/outbox/{message.id}/retry",
        content=f"csrf_token={app_admin.csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text and "Queued" in fragment.text
    assert _rows(api, t.outbox, id=message.id)[0].status in ("PENDING", "SENT")
    partial = app_admin.client.get("/dashboard/outbox", params={"q": email}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.text.lstrip().startswith('<section class="panel" id="results-panel"')


def _events(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return re.findall(r"<td><code>([a-z_.]+)</code></td>", response.text)


def test_audit_log_filters(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    assert app_admin.post(f"/dashboard/users/{user['id']}/verify", {}).status_code == 303
    by_target = _events(app_admin.get("/dashboard/audit", target=user["id"]))
    assert by_target and set(by_target) <= {"user.created", "user.updated"} and "user.updated" in by_target
    in_tenant = _events(app_admin.get("/dashboard/audit", tenant=tenant["id"], action="tenant."))
    assert in_tenant == ["tenant.created"]
    mine = _events(app_admin.get("/dashboard/audit", actor=app_admin.record.id, target=user["id"]))
    assert mine == ["user.updated"]
    today = api.services.core.clock.now().date().isoformat()
    assert _events(app_admin.get("/dashboard/audit", target=user["id"], **{"from": today, "to": today})) == by_target
    assert _events(app_admin.get("/dashboard/audit", target=user["id"], to="2000-01-01")) == []
    bad = app_admin.get("/dashboard/audit", **{"from": "yesterday"})
    assert bad.status_code == 400 and "From" in bad.text
    partial = app_admin.client.get("/dashboard/audit", params={"target": user["id"]}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text and "user.updated" in partial.text
    hostile = _events(app_admin.get("/dashboard/audit", target='x" or action sw "'))
    assert hostile == []


def test_audit_log_paging(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    for _ in range(3):
        api.create_user(tenant["id"])
    first = app_admin.get("/dashboard/audit", tenant=tenant["id"], per=2)
    assert len(_events(first)) == 2 and "Page 1 of 2" in first.text and 'hx-get="?' in first.text
    assert len(_events(app_admin.get("/dashboard/audit", tenant=tenant["id"], per=2, page=2))) == 2


def test_tenant_admin_sees_only_their_tenant_in_the_audit_log(api: Api) -> None:
    mine, other = api.create_tenant(), api.create_tenant()
    theirs = api.create_user(other["id"])
    own = api.create_user(mine["id"])
    admin = Admin(api, mine["id"])
    admin.sign_in()
    assert _events(admin.get("/dashboard/audit", target=own["id"])) == ["user.created"]
    assert _events(admin.get("/dashboard/audit", target=theirs["id"])) == []
    assert _events(admin.get("/dashboard/audit", tenant=other["id"], target=theirs["id"])) == []
    assert _events(admin.get("/dashboard/audit", target=other["id"])) == []
    assert _events(admin.get("/dashboard/audit", target=mine["id"], tenant=other["id"])) == ["tenant.created"]


@pytest.mark.parametrize("path", ["/dashboard/clients", "/dashboard/keys", "/dashboard/outbox", "/dashboard/policies"])
def test_application_pages_are_404_for_tenant_admins(api: Api, tenant: dict[str, Any], path: str) -> None:
    admin = Admin(api, tenant["id"])
    admin.sign_in()
    assert admin.get(path).status_code == 404
    nav = admin.get("/dashboard/users").text
    assert f'href="{path}"' not in nav and 'href="/dashboard/identity-providers"' in nav


def test_tenant_admins_cannot_act_on_application_resources(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    client_id, _ = api.create_m2m_client(tenant["id"])
    _, message = _outbox_message(api, app_admin, tenant)
    _set_outbox(api, message.id, status="FAILED")
    keys_before = [r.kid for r in _rows(api, t.signing_keys)]
    admin = Admin(api, tenant["id"])
    admin.sign_in()
    assert admin.post("/dashboard/clients", {"name": rand("c"), "type": "MACHINE_TO_MACHINE"}).status_code == 404
    assert admin.post(f"/dashboard/clients/{client_id}/delete", {}).status_code == 404
    assert admin.post("/dashboard/keys/rotate", {}).status_code == 404
    assert admin.post(f"/dashboard/outbox/{message.id}/retry", {}).status_code == 404
    assert len(_rows(api, t.clients, id=client_id)) == 1
    assert [r.kid for r in _rows(api, t.signing_keys)] == keys_before
    assert _rows(api, t.outbox, id=message.id)[0].status == "FAILED"


def test_htmx_is_served_and_loaded_with_the_page_nonce(app_admin: Admin) -> None:
    script = app_admin.get("/dashboard/static/htmx-2.0.11.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"] and "htmx" in script.text
    page = app_admin.get("/dashboard/users")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
    assert f'src="/dashboard/static/htmx-2.0.11.min.js" nonce="{nonce}"' in page.text
    assert f'src="/dashboard/static/dashboard.js" nonce="{nonce}"' in page.text
    assert "htmx:afterSettle" in app_admin.get("/dashboard/static/dashboard.js").text
    assert app_admin.get("/dashboard/static/../routes.py").status_code == 404
    assert app_admin.get("/dashboard/static/nothing.js").status_code == 404


def test_outbox_and_audit_lists_on_both_databases(any_api: Api) -> None:
    api = any_api
    admin = Admin(api)
    admin.sign_in()
    tenant = api.create_tenant()
    stem = rand("p")
    plain, underscored = f"{stem}ab@example.com", f"{stem}_b@example.com"
    for email in (plain, underscored):
        made = admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "type": "EMAIL", "email": email})
        assert made.status_code == 200, made.text
    assert "2 messages" in admin.get("/dashboard/outbox", q=stem).text
    only = admin.get("/dashboard/outbox", q=f"{stem}_")  # "_" is a literal, not a LIKE wildcard
    assert "1 message" in only.text and underscored in only.text and plain not in only.text
    assert "0 messages" in admin.get("/dashboard/outbox", q=f"{stem}%").text
    today = api.services.core.clock.now().date().isoformat()
    events = _events(admin.get("/dashboard/audit", tenant=tenant["id"], action="invitation.", **{"from": today}))
    assert len(events) == 2
    assert _events(admin.get("/dashboard/audit", tenant=tenant["id"], to="2001-01-01")) == []


def test_more_forms_refuse_a_missing_csrf_token(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    client_id, _ = api.create_m2m_client(tenant["id"])
    clients_before = len(_rows(api, t.clients))
    name = rand("no-token")
    assert app_admin.client.post("/dashboard/clients", data={"name": name, "type": "SPA"}).status_code == 403
    assert app_admin.client.post(f"/dashboard/clients/{client_id}/delete").status_code == 403
    assert len(_rows(api, t.clients)) == clients_before and len(_rows(api, t.clients, id=client_id)) == 1
    policy = api.call("GET", f"/applications/{api.application_id}/password-policies").json()
    assert app_admin.client.post("/dashboard/policies/password", data={"minLength": "77"}).status_code == 403
    assert api.call("GET", f"/applications/{api.application_id}/password-policies").json() == policy
    wrong = app_admin.client.post("/dashboard/policies/password", data={"minLength": "77", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert api.call("GET", f"/applications/{api.application_id}/password-policies").json() == policy
