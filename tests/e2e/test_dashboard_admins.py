"""Dashboard: two-step sign-in with TOTP (enroll, confirm, sign in, single use, lockout, disable)
and administrator management, over HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tenantry.adapters.sql import tables as t
from tenantry.core.admins.totp import code_at, parse_state, step_of
from tests.e2e.test_dashboard import Admin, _rows
from tests.support import Api, rand_email


@pytest.fixture
def tenant(api: Api) -> dict[str, Any]:
    return api.create_tenant()


@pytest.fixture
def app_admin(api: Api) -> Admin:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    return admin


def _secret(api: Api, admin: Admin) -> str:
    state = parse_state(_rows(api, t.dashboard_admins, id=admin.record.id)[0].totp_secret)
    assert state is not None
    return state.secret


def _code(api: Api, secret: str, offset: int = 0) -> str:
    return code_at(secret, step_of(api.services.core.clock.now()) + offset)


def _enrolled(api: Api) -> tuple[Admin, str]:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    assert admin.post("/dashboard/account/totp/start", {}).status_code == 303
    page = admin.get("/dashboard/account")
    secret = _secret(api, admin)
    assert secret in page.text and "otpauth://totp/" in page.text
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" id="totp-qr"', page.text)
    assert admin.post("/dashboard/account/totp/confirm", {"code": _code(api, secret)}).status_code == 303
    return admin, secret


def test_enrollment_needs_a_matching_code_before_it_is_on(api: Api, app_admin: Admin) -> None:
    assert "Set up two-step sign-in" in app_admin.get("/dashboard/account").text
    assert app_admin.post("/dashboard/account/totp/start", {}).status_code == 303
    secret = _secret(api, app_admin)
    wrong = app_admin.post(
        "/dashboard/account/totp/confirm", {"code": "000000" if _code(api, secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "invalid code" in wrong.text
    assert parse_state(_rows(api, t.dashboard_admins, id=app_admin.record.id)[0].totp_secret).active is False  # type: ignore[union-attr]
    # A pending set-up does not change sign-in.
    assert app_admin.post("/dashboard/logout", {}).status_code == 303
    assert app_admin.sign_in().headers["location"] == "/dashboard/users"
    refused = app_admin.client.post("/dashboard/account/totp/confirm", data={"code": _code(api, secret)})
    assert refused.status_code == 403
    ok = app_admin.post("/dashboard/account/totp/confirm", {"code": _code(api, secret)})
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard/account?done=totp-on"
    assert "Turn off two-step sign-in" in app_admin.get("/dashboard/account").text
    assert app_admin.post("/dashboard/account/totp/start", {}).status_code == 400  # already on: no new secret
    assert _secret(api, app_admin) == secret


def test_sign_in_asks_for_a_code_that_works_once(api: Api) -> None:
    admin, secret = _enrolled(api)
    admin.post("/dashboard/logout", {})
    first = admin.sign_in()
    assert first.status_code == 303 and first.headers["location"] == "/dashboard/login/code"
    assert "tenantry_admin=" not in first.headers.get("set-cookie", "")
    step_token = admin.client.cookies["tenantry_admin_step"]
    # The half-finished sign-in is no session, even when presented as one.
    admin.client.cookies.set("tenantry_admin", step_token, domain=api.vanity, path="/dashboard")
    assert admin.get("/dashboard/users").headers["location"] == "/dashboard/login"
    assert admin.get("/dashboard/login/code").status_code == 200
    assert admin.post("/dashboard/login/code", {"code": "12345"}).status_code == 401
    used = _code(api, secret, 1)  # the enrollment used the current step; only later ones are accepted
    done = admin.post("/dashboard/login/code", {"code": used})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/users"
    assert admin.get("/dashboard/users").status_code == 200
    admin.post("/dashboard/logout", {})
    assert admin.sign_in().headers["location"] == "/dashboard/login/code"
    replay = admin.post("/dashboard/login/code", {"code": used})
    assert replay.status_code == 401 and "not valid" in replay.text
    assert admin.get("/dashboard/users").headers["location"] == "/dashboard/login"


def test_wrong_codes_lock_the_account(api: Api) -> None:
    admin, secret = _enrolled(api)
    admin.post("/dashboard/logout", {})
    admin.sign_in()
    wrong = "000000" if _code(api, secret, 1) != "000000" else "999999"
    for _ in range(api.services.core.auth.lockout_threshold):
        assert admin.post("/dashboard/login/code", {"code": wrong}).status_code in (401, 429)
    assert _rows(api, t.dashboard_admins, id=admin.record.id)[0].locked_until is not None
    locked = admin.post("/dashboard/login/code", {"code": _code(api, secret, 1)})
    assert locked.status_code in (401, 429)
    assert admin.get("/dashboard/users").headers["location"] == "/dashboard/login"


def test_code_step_without_a_password_goes_back_to_sign_in(api: Api) -> None:
    stranger = Admin(api)
    assert stranger.get("/dashboard/login/code").headers["location"] == "/dashboard/login"
    assert stranger.post("/dashboard/login/code", {"code": "123456"}).headers["location"] == "/dashboard/login"


def test_disabling_needs_the_password(api: Api) -> None:
    admin, _ = _enrolled(api)
    bad = admin.post("/dashboard/account/totp/disable", {"password": "not-it"})
    assert bad.status_code == 400 and "password" in bad.text.lower()
    assert _rows(api, t.dashboard_admins, id=admin.record.id)[0].totp_secret is not None
    assert admin.post("/dashboard/account/totp/disable", {"password": admin.password}).status_code == 303
    assert _rows(api, t.dashboard_admins, id=admin.record.id)[0].totp_secret is None
    admin.post("/dashboard/logout", {})
    assert admin.sign_in().headers["location"] == "/dashboard/users"
    actions = [r.action for r in _rows(api, t.audit_events, target_id=admin.record.id)]
    assert "admin.totp_enabled" in actions and "admin.totp_disabled" in actions


def test_administrators_list_create_delete(api: Api, app_admin: Admin, tenant: dict[str, Any]) -> None:
    listing = app_admin.get("/dashboard/admins")
    assert listing.status_code == 200 and app_admin.email in listing.text
    email = rand_email()
    made = app_admin.post(
        "/dashboard/admins", {"email": email, "password": "Long-enough-pass-1", "tenant": tenant["id"]}
    )
    assert made.status_code == 303
    created = _rows(api, t.dashboard_admins, email=email)
    assert len(created) == 1 and created[0].tenant_id == tenant["id"]
    assert email in app_admin.get("/dashboard/admins", per=100).text
    duplicate = app_admin.post("/dashboard/admins", {"email": email.upper(), "password": "Long-enough-pass-1"})
    assert duplicate.status_code == 400 and len(_rows(api, t.dashboard_admins, email_key=email)) == 1
    for bad in (
        {"email": "not-an-email", "password": "Long-enough-pass-1"},
        {"email": rand_email(), "password": "short"},
        {"email": rand_email(), "password": "Long-enough-pass-1", "tenant": "no-such-tenant"},
    ):
        refused = app_admin.post("/dashboard/admins", bad)
        assert refused.status_code == 400, bad
        assert 'class="error"' in refused.text
        assert _rows(api, t.dashboard_admins, email=bad["email"]) == []
    assert app_admin.post(f"/dashboard/admins/{app_admin.record.id}/delete", {}).status_code == 400
    assert len(_rows(api, t.dashboard_admins, id=app_admin.record.id)) == 1
    assert app_admin.post(f"/dashboard/admins/{created[0].id}/delete", {}).status_code == 303
    assert _rows(api, t.dashboard_admins, id=created[0].id) == []
    assert app_admin.post(f"/dashboard/admins/{created[0].id}/delete", {}).status_code == 404
    actions = [r.action for r in _rows(api, t.audit_events, target_id=created[0].id)]
    assert actions.count("admin.created") == 1 and actions.count("admin.deleted") == 1


def test_a_new_administrator_can_sign_in(api: Api, app_admin: Admin) -> None:
    email = rand_email()
    assert app_admin.post("/dashboard/admins", {"email": email, "password": "Long-enough-pass-2"}).status_code == 303
    other = Admin.existing(api, email, "Long-enough-pass-2")
    assert other.sign_in().headers["location"] == "/dashboard/users"


@pytest.mark.parametrize(
    "path",
    ["/dashboard/admins/x/delete", "/dashboard/account/totp/start", "/dashboard/account/totp/disable"],
)
def test_admin_forms_refuse_a_missing_csrf_token(api: Api, app_admin: Admin, path: str) -> None:
    before = _rows(api, t.dashboard_admins, id=app_admin.record.id)[0]
    assert app_admin.client.post(path, data={"password": app_admin.password}).status_code == 403
    assert _rows(api, t.dashboard_admins, id=app_admin.record.id)[0] == before
    email = rand_email()
    refused = app_admin.client.post("/dashboard/admins", data={"email": email, "password": "Long-enough-pass-1"})
    assert refused.status_code == 403 and _rows(api, t.dashboard_admins, email=email) == []


def test_tenant_administrators_cannot_manage_administrators(api: Api, tenant: dict[str, Any]) -> None:
    admin = Admin(api, tenant["id"])
    admin.sign_in()
    assert admin.get("/dashboard/admins").status_code == 404
    boss = Admin(api)
    email = rand_email()
    assert admin.post("/dashboard/admins", {"email": email, "password": "Long-enough-pass-1"}).status_code == 404
    assert _rows(api, t.dashboard_admins, email=email) == []
    assert admin.post(f"/dashboard/admins/{boss.record.id}/delete", {}).status_code == 404
    assert len(_rows(api, t.dashboard_admins, id=boss.record.id)) == 1
    assert "Administrators" not in re.sub(r"<main.*", "", admin.get("/dashboard/users").text, flags=re.S)
    # Their own account page works: TOTP is for every administrator.
    assert admin.get("/dashboard/account").status_code == 200


def test_two_step_sign_in_on_both_databases(any_api: Api) -> None:
    admin, secret = _enrolled(any_api)
    admin.post("/dashboard/logout", {})
    assert admin.sign_in().headers["location"] == "/dashboard/login/code"
    code = _code(any_api, secret, 1)
    assert admin.post("/dashboard/login/code", {"code": code}).headers["location"] == "/dashboard/users"
    admin.post("/dashboard/logout", {})
    admin.sign_in()
    assert admin.post("/dashboard/login/code", {"code": code}).status_code == 401
    refused = admin.post("/dashboard/account/totp/disable", {"password": admin.password})  # not signed in
    assert refused.headers["location"] == "/dashboard/login"
    assert _rows(any_api, t.dashboard_admins, id=admin.record.id)[0].totp_secret is not None
