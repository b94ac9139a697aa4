"""The admin dashboard on the vanity domain, driven over HTTP with a browser-like TestClient
(one cookie jar per administrator). Administrators are created through the core service."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tenantry.adapters.sql import tables as t
from tenantry.bootstrap import bootstrap
from tenantry.cli import app as cli
from tenantry.core.admins.service import CreateAdmin, authenticate_admin, create_admin
from tests.support import Api, rand, rand_email, test_settings


def _rows(api: Api, table: sa.Table, **where: Any) -> list[Any]:
    query = sa.select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with api.services.database.transaction(write=False) as conn:
        return list(conn.execute(query))


class Admin:
    def __init__(self, api: Api, tenant_id: str | None = None) -> None:
        self.api = api
        self.email = rand_email()
        self.password = "Dash-" + secrets.token_urlsafe(12)
        self.record = create_admin(
            api.services.core, api.application_id, CreateAdmin(self.email, self.password, tenant_id)
        )
        self.client = TestClient(api.client.app, base_url=f"https://{api.vanity}", follow_redirects=False)

    @classmethod
    def existing(cls, api: Api, email: str, password: str) -> Admin:
        """A browser for an administrator created some other way (e.g. from the dashboard)."""
        admin = cls.__new__(cls)
        admin.api, admin.email, admin.password = api, email, password
        admin.client = TestClient(api.client.app, base_url=f"https://{api.vanity}", follow_redirects=False)
        return admin

    @property
    def csrf(self) -> str:
        if "tenantry_csrf" not in self.client.cookies:
            self.client.get("/dashboard/login")
        return str(self.client.cookies["tenantry_csrf"])

    def sign_in(self, password: str | None = None) -> httpx.Response:
        return self.post("/dashboard/login", {"email": self.email, "password": password or self.password})

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return self.client.post(
            path,
            content=urlencode([("csrf_token", self.csrf), *pairs]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)


@pytest.fixture
def tenant(api: Api) -> dict[str, Any]:
    return api.create_tenant()


@pytest.fixture
def app_admin(api: Api) -> Admin:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    return admin


def user_id_from(response: httpx.Response) -> str:
    match = re.match(r"/dashboard/users/([^/?]+)", response.headers["location"])
    assert match, response.headers.get("location")
    return match.group(1)


def test_sign_in_sign_out_and_generic_error(api: Api) -> None:
    admin = Admin(api)
    assert admin.get("/dashboard/users").headers["location"] == "/dashboard/login"
    wrong = admin.sign_in("not-the-password")
    unknown = admin.post("/dashboard/login", {"email": rand_email(), "password": "whatever"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid email or password." in wrong.text and "Invalid email or password." in unknown.text
    ok = admin.sign_in()
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard/users"
    cookie = ok.headers["set-cookie"].lower()
    assert "tenantry_admin=" in cookie and "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "domain=" not in cookie
    token = ok.cookies["tenantry_admin"]
    stored = _rows(api, t.dashboard_sessions, admin_id=admin.record.id)
    assert len(stored) == 1 and stored[0].token_hash != token
    page = admin.get("/dashboard/users")
    assert page.status_code == 200 and admin.email in page.text
    assert admin.post("/dashboard/logout", {}).status_code == 303
    assert _rows(api, t.dashboard_sessions, admin_id=admin.record.id) == []
    admin.client.cookies.set("tenantry_admin", token, domain=api.vanity, path="/dashboard")
    assert admin.get("/dashboard/users").status_code == 303


def test_lockout_after_repeated_failures(api: Api) -> None:
    admin = Admin(api)
    threshold = api.services.core.auth.lockout_threshold
    for _ in range(threshold):
        assert admin.sign_in("wrong-password").status_code in (401, 429)
    assert admin.sign_in().status_code in (401, 429)
    assert _rows(api, t.dashboard_admins, id=admin.record.id)[0].locked_until is not None


def test_forms_refuse_a_missing_or_wrong_csrf_token(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    email = rand_email()
    body = {"tenant": tenant["id"], "email": email}
    missing = app_admin.client.post("/dashboard/users/new", data=body)
    wrong = app_admin.client.post("/dashboard/users/new", data={**body, "csrf_token": "x" * 40})
    assert missing.status_code == wrong.status_code == 403
    assert (
        api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()[
            "totalResults"
        ]
        == 0
    )
    login = Admin(api).client.post("/dashboard/login", data={"email": "a@b.c", "password": "x"})
    assert login.status_code == 403


def test_add_user_with_invitation_toggle(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    roles = api.call(
        "GET", f"/tenants/{tenant['id']}/roles", params={"count": 100, "include_application_roles": "true"}
    ).json()["items"]
    role = next(r for r in roles if r["sku"] == "user")
    form = app_admin.get("/dashboard/users/new", tenant=tenant["id"])
    assert form.status_code == 200 and role["id"] in form.text
    email = rand_email()
    created = app_admin.post(
        "/dashboard/users/new",
        [
            ("tenant", tenant["id"]),
            ("email", email),
            ("givenName", "Ada"),
            ("familyName", "Lovelace"),
            ("roles", role["id"]),
            ("invite", "on"),
        ],
    )
    assert created.status_code == 303, created.text
    user_id = user_id_from(created)
    user = api.call("GET", f"/users/{user_id}").json()
    assert user["status"] == "PROVISIONED" and user["givenName"] == "Ada"
    invitations = _rows(api, t.invitations, user_id=user_id)
    assert len(invitations) == 1 and invitations[0].kind == "EXISTING_USER"
    assert [m.kind for m in _rows(api, t.outbox, recipient=email)] == ["existing_user_invitation"]
    assigned = api.call("GET", f"/users/{user_id}/roles").json()["items"]
    assert [r["id"] for r in assigned] == [role["id"]]
    page = app_admin.get(f"/dashboard/users/{user_id}")
    assert page.status_code == 200 and email in page.text


def test_user_page_actions(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    user = api.create_user(tenant["id"])
    path = f"/dashboard/users/{user['id']}"

    def current() -> dict[str, Any]:
        doc: dict[str, Any] = api.call("GET", f"/users/{user['id']}").json()
        return doc

    assert app_admin.post(f"{path}/profile", {"givenName": "Grace", "familyName": "Hopper"}).status_code == 303
    assert (current()["givenName"], current()["familyName"]) == ("Grace", "Hopper")
    assert app_admin.post(f"{path}/status", {"status": "ACTIVE"}).status_code == 303
    assert current()["status"] == "ACTIVE"
    assert app_admin.post(f"{path}/status", {"status": "INACTIVE"}).status_code == 303
    assert current()["status"] == "INACTIVE"
    assert app_admin.post(f"{path}/verify", {}).status_code == 303
    assert current()["emailVerified"] is True
    roles = api.call(
        "GET", f"/tenants/{tenant['id']}/roles", params={"count": 100, "include_application_roles": "true"}
    ).json()["items"]
    tenant_admin = next(r for r in roles if r["sku"] == "tenant-admin")
    assert app_admin.post(f"{path}/roles", [("roles", tenant_admin["id"])]).status_code == 303
    assert [r["id"] for r in api.call("GET", f"/users/{user['id']}/roles").json()["items"]] == [tenant_admin["id"]]
    assert app_admin.post(f"{path}/roles", []).status_code == 303
    assert api.call("GET", f"/users/{user['id']}/roles").json()["items"] == []
    assert app_admin.post(f"{path}/invite", {}).status_code == 303
    assert len(_rows(api, t.invitations, user_id=user["id"])) == 1
    assert app_admin.get(f"{path}/delete").status_code == 200
    refused = app_admin.post(f"{path}/delete", {"confirm": "nope"})
    assert refused.status_code == 400 and api.call("GET", f"/users/{user['id']}").status_code == 200
    deleted = app_admin.post(f"{path}/delete", {"confirm": user["email"]})
    assert deleted.status_code == 303
    assert api.call("GET", f"/users/{user['id']}").status_code == 404


def test_tenant_admin_sees_only_their_tenant(api: Api) -> None:
    mine, other = api.create_tenant(), api.create_tenant()
    my_user = api.create_user(mine["id"])
    their_user = api.create_user(other["id"])
    admin = Admin(api, mine["id"])
    assert admin.sign_in().status_code == 303
    listing = admin.get("/dashboard/users", tenant=other["id"])
    assert listing.status_code == 200
    assert my_user["email"] in listing.text and their_user["email"] not in listing.text
    assert admin.get(f"/dashboard/users/{their_user['id']}").status_code == 404
    assert admin.post(f"/dashboard/users/{their_user['id']}/status", {"status": "INACTIVE"}).status_code == 404
    assert api.call("GET", f"/users/{their_user['id']}").json()["status"] == "PROVISIONED"
    assert admin.get("/dashboard/users/new", tenant=other["id"]).status_code == 200  # pinned to their tenant
    assert admin.get("/dashboard/tenants").status_code == 404
    assert admin.get(f"/dashboard/users/{my_user['id']}").status_code == 200
    boss = Admin(api)
    boss.sign_in()
    assert boss.post("/dashboard/invitations/new", {"tenant": other["id"], "type": "LINK"}).status_code == 200
    foreign = _rows(api, t.invitations, tenant_id=other["id"])[0]
    own_list = admin.get("/dashboard/invitations", tenant=other["id"])
    assert own_list.status_code == 200 and foreign.id not in own_list.text and "0 invitations" in own_list.text
    assert admin.post(f"/dashboard/invitations/{foreign.id}/cancel", {}).status_code == 404
    assert _rows(api, t.invitations, id=foreign.id)[0].status == "PENDING_INVITE_ACCEPTANCE"


def test_invitation_link_is_shown_once_and_can_be_canceled(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    made = app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "type": "LINK", "email": ""})
    assert made.status_code == 200, made.text
    urls = re.findall(r'id="invite-url">([^<]+)<', made.text)
    assert len(urls) == 1 and urls[0].startswith("https://")
    listing = app_admin.get("/dashboard/invitations", tenant=tenant["id"])
    assert listing.status_code == 200 and urls[0] not in listing.text
    invitation = _rows(api, t.invitations, tenant_id=tenant["id"])[0]
    emailed = app_admin.post("/dashboard/invitations/new", {"tenant": tenant["id"], "type": "EMAIL", "email": ""})
    assert emailed.status_code == 400
    assert app_admin.post(f"/dashboard/invitations/{invitation.id}/cancel", {}).status_code == 303
    canceled = app_admin.get("/dashboard/invitations", tenant=tenant["id"], status="CANCELED")
    assert "CANCELED" in canceled.text and "1 invitation" in canceled.text
    pending = app_admin.get("/dashboard/invitations", tenant=tenant["id"], status="PENDING_INVITE_ACCEPTANCE")
    assert "0 invitations" in pending.text


def test_search_filter_sort_and_paging(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    prefix = rand("s")
    emails = [f"{prefix}{i}@example.com" for i in range(3)]
    for email in emails:
        api.create_user(tenant["id"], email=email)
    api.create_user(tenant["id"], email=f"{prefix}x@example.com", status="ACTIVE")

    def shown(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return re.findall(rf">({prefix}[^<]*)</a>", response.text)

    base = {"tenant": tenant["id"], "q": prefix}
    assert shown(app_admin.get("/dashboard/users", **base)) == [*emails, f"{prefix}x@example.com"]
    assert shown(app_admin.get("/dashboard/users", **base, status="ACTIVE")) == [f"{prefix}x@example.com"]
    assert shown(app_admin.get("/dashboard/users", **base, status="PROVISIONED", dir="desc")) == emails[::-1]
    first = app_admin.get("/dashboard/users", **base, per=2)
    assert shown(first) == emails[:2] and "Page 1 of 2" in first.text
    assert shown(app_admin.get("/dashboard/users", **base, per=2, page=2)) == [emails[2], f"{prefix}x@example.com"]
    hostile = app_admin.get("/dashboard/users", tenant=tenant["id"], q='a" or email pr or "')
    assert shown(hostile) == []


def test_tenants_list_and_create(api: Api, app_admin: Admin) -> None:
    domain = rand("tn")
    made = app_admin.post("/dashboard/tenants", {"domainName": domain, "displayName": "Dash tenant"})
    assert made.status_code == 303
    listing = app_admin.get("/dashboard/tenants", per=100)
    assert listing.status_code == 200
    bad = app_admin.post("/dashboard/tenants", {"domainName": "NOT VALID", "displayName": "x"})
    assert bad.status_code == 400


def test_cli_admins_create_prints_a_generated_password(tmp_path: Path) -> None:
    env = {"TENANTRY_DATA_DIR": str(tmp_path), "TENANTRY_ARGON2_MEMORY_KIB": "1024", "TENANTRY_ARGON2_TIME_COST": "1"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--domain", "dash.test"], env=env).exit_code == 0
    email = rand_email()
    result = runner.invoke(cli, ["admins", "create", "--email", email], env=env)
    assert result.exit_code == 0, result.output
    password = re.search(r"^password: (\S+)$", result.stdout, re.M)
    assert password and "application administrator" in result.stdout
    services = bootstrap(test_settings(tmp_path))
    try:
        with services.core.uow("") as uow:
            application = uow.applications.get_by_vanity_domain("dash.test")
        assert application is not None
        admin = authenticate_admin(services.core, application.id, email, password.group(1))
        assert admin.tenant_id is None
    finally:
        services.close()
    again = runner.invoke(cli, ["admins", "create", "--email", email, "--password", "x"], env=env)
    assert again.exit_code == 2


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_idle_and_absolute_session_timeouts(api: Api, column: str) -> None:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    assert admin.get("/dashboard/users").status_code == 200
    past = api.services.core.clock.now() - timedelta(minutes=31)
    with api.services.database.transaction(write=True) as conn:
        conn.execute(
            sa.update(t.dashboard_sessions)
            .where(t.dashboard_sessions.c.admin_id == admin.record.id)
            .values({column: past})
        )
        conn.commit()
    assert admin.get("/dashboard/users").headers["location"] == "/dashboard/login"
    assert _rows(api, t.dashboard_sessions, admin_id=admin.record.id) == []


def test_sign_in_is_rate_limited_per_email(api: Api) -> None:
    admin = Admin(api)
    statuses = [admin.sign_in("wrong").status_code for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429


def test_tenant_admin_is_offered_only_grantable_roles(api: Api) -> None:
    tenant = api.create_tenant()
    admin = Admin(api, tenant["id"])
    admin.sign_in()
    roles = api.call(
        "GET", f"/tenants/{tenant['id']}/roles", params={"count": 100, "include_application_roles": "true"}
    )
    by_sku = {r["sku"]: r["id"] for r in roles.json()["items"]}
    form = admin.get("/dashboard/users/new")
    assert by_sku["user"] in form.text and by_sku["admin-client"] not in form.text
    email = rand_email()
    refused = admin.post("/dashboard/users/new", [("email", email), ("roles", by_sku["admin-client"])])
    assert refused.status_code == 400
    query = {"query": f'email eq "{email}"'}
    assert api.call("GET", f"/tenants/{tenant['id']}/users", params=query).json()["totalResults"] == 0
