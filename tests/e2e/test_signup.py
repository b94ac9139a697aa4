"""Hosted signup end to end over HTTP: the activation email is read from the outbox (the row the
dispatcher delivers; delivery itself is tested in tests/contract/test_outbox.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.adapters.sql import tables as t
from tests.e2e.oidc_helpers import PASSWORD, browser_for, csrf_from
from tests.support import Api, rand, rand_email


def last_email(api: Api, recipient: str) -> dict[str, Any]:
    with api.services.database.transaction(write=False) as conn:
        row = conn.execute(
            sa.select(t.outbox).where(t.outbox.c.recipient == recipient).order_by(t.outbox.c.created_at.desc())
        ).first()
    assert row is not None, f"no email to {recipient}"
    return dict(row._mapping)


def link_in(email: dict[str, Any]) -> str:
    match = re.search(r"https://\S+\?code=[\w-]+", email["text_body"])
    assert match, email["text_body"]
    return match.group(0)


def path_of(url: str) -> str:
    return url.split("/", 3)[3]


def post_form(browser: TestClient, url: str, page_html: str, **fields: str):  # type: ignore[no-untyped-def]
    return browser.post(url, data={"csrf_token": csrf_from(page_html), **fields}, follow_redirects=False)


def enable_app_signup(api: Api) -> None:
    response = api.call("PATCH", f"/applications/{api.application_id}", json={"signupEnabled": True})
    assert response.status_code == 200, response.text


def test_tenant_signup_with_activation_link_then_login(any_api: Api) -> None:
    tenant = any_api.create_tenant(signupEnabled=True)
    host = f"https://{tenant['domainName']}-{any_api.vanity}"
    email = rand_email()
    with browser_for(any_api) as browser:
        form = browser.get(f"{host}/signup")
        assert form.status_code == 200
        done = post_form(browser, f"{host}/signup", form.text, email=email, password=PASSWORD)
        assert done.status_code == 200 and "Follow its link" in done.text and 'name="otp"' not in done.text
        users = any_api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()
        assert users["items"][0]["status"] == "PENDING_SIGNUP_ACTIVATION"
        roles = any_api.call("GET", f"/users/{users['items'][0]['id']}/roles").json()
        assert [r["sku"] for r in roles["items"]] == ["user"]
        link = link_in(last_email(any_api, email))
        assert link.startswith(f"{host}/activate?code=")
        activated = browser.get(link, follow_redirects=False)
        # A welcome page, or (when the shared test application has exactly one browser client
        # with a login URL at that moment) a redirect to it: signed in either way.
        assert activated.status_code in (200, 302) and "tenantry_session" in activated.cookies
        again = browser.get(link, follow_redirects=False)  # single use
        assert again.status_code == 400
    user = any_api.call("GET", f"/users/{users['items'][0]['id']}").json()
    assert user["status"] == "ACTIVE" and user["emailVerified"] is True


def test_signup_refused_where_disabled(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=False)
    host = f"https://{tenant['domainName']}-{api.vanity}"
    with browser_for(api) as browser:
        assert browser.get(f"{host}/signup").status_code == 403
        page = browser.get(f"{host}/login")
        refused = post_form(browser, f"{host}/signup", page.text, email=rand_email(), password=PASSWORD)
        assert refused.status_code == 403
    assert api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 0


def test_application_signup_creates_tenant_and_first_admin_and_activates_by_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support import build_api

    api = build_api(tmp_path)
    with api.client:
        enable_app_signup(api)
        policy = api.call(
            "PUT", f"/applications/{api.application_id}/signup-policies", json={"verification": "ACTIVATION_CODE"}
        )
        assert policy.status_code == 200 and policy.json()["verification"] == "ACTIVATION_CODE"
        name, email = rand("org"), rand_email()
        with browser_for(api) as browser:
            form = browser.get("/signup")
            assert form.status_code == 200
            done = post_form(
                browser,
                "/signup",
                form.text,
                email=email,
                password=PASSWORD,
                tenant_name=name,
                tenant_display_name="Org Inc",
            )
            assert done.status_code == 200 and 'name="otp"' in done.text
            code_id = re.search(r'name="code_id" value="([^"]+)"', done.text).group(1)  # type: ignore[union-attr]
            otp = re.search(r"\b(\d{6})\b", last_email(api, email)["text_body"]).group(1)  # type: ignore[union-attr]
            wrong = post_form(
                browser, "/activate-code", done.text, code_id=code_id, otp="000000" if otp != "000000" else "111111"
            )
            assert wrong.status_code == 400
            right = post_form(browser, "/activate-code", done.text, code_id=code_id, otp=otp)
            assert right.status_code == 302 and "/api/v1/auth-sessions/create?code=" in right.headers["location"]
            landed = browser.get(right.headers["location"], follow_redirects=False)
            assert landed.status_code == 302 and "tenantry_session" in landed.cookies
        tenants = api.call(
            "GET", f"/applications/{api.application_id}/tenants", params={"query": f'domainName eq "{name}"'}
        )
        tenant = tenants.json()["items"][0]
        user = api.call("GET", f"/tenants/{tenant['id']}/users").json()["items"][0]
        assert user["status"] == "ACTIVE" and user["email"] == email
        roles = api.call("GET", f"/users/{user['id']}/roles").json()["items"]
        assert [r["sku"] for r in roles] == ["tenant-admin"]
    api.services.close()


def test_signup_retry_resends_instead_of_provisioning_twice(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    host = f"https://{tenant['domainName']}-{api.vanity}"
    email = rand_email()
    with browser_for(api) as browser:
        for _ in range(2):
            form = browser.get(f"{host}/signup")
            assert post_form(browser, f"{host}/signup", form.text, email=email, password=PASSWORD).status_code == 200
    with api.services.database.transaction(write=False) as conn:
        sent = conn.execute(
            sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.recipient == email)
        ).scalar()
    assert sent == 2
    assert api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 1


def test_signup_field_errors_are_shown_and_nothing_is_written(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    host = f"https://{tenant['domainName']}-{api.vanity}"
    with browser_for(api) as browser:
        form = browser.get(f"{host}/signup")
        bad = post_form(browser, f"{host}/signup", form.text, email="not-an-email", password="password")
        assert bad.status_code == 400 and "This does not look right" in bad.text
        no_csrf = browser.post(f"{host}/signup", data={"email": rand_email(), "password": PASSWORD})
        assert no_csrf.status_code == 403
    assert api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 0


def test_forgot_and_reset_password(api: Api) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], status="ACTIVE", password=PASSWORD)
    host = f"https://{tenant['domainName']}-{api.vanity}"
    with browser_for(api) as browser:
        page = browser.get(f"{host}/forgot-password")
        known = post_form(browser, f"{host}/forgot-password", page.text, email=user["email"])
        unknown = post_form(browser, f"{host}/forgot-password", page.text, email=rand_email())
        assert known.status_code == unknown.status_code == 200
        assert "If that email belongs" in known.text and "If that email belongs" in unknown.text
        link = link_in(last_email(api, user["email"]))
        reset_page = browser.get(link)
        assert reset_page.status_code == 200
        code = link.split("code=")[1]
        weak = post_form(browser, f"{host}/reset-password", reset_page.text, code=code, password="password")
        assert weak.status_code == 400
        done = post_form(
            browser, f"{host}/reset-password", reset_page.text, code=code, password="a brand new passphrase"
        )
        assert done.status_code == 200 and "Password changed" in done.text
        reused = post_form(
            browser, f"{host}/reset-password", reset_page.text, code=code, password="another new passphrase"
        )
        assert reused.status_code == 400


def test_discovery_email_lists_every_tenant_of_the_address(api: Api) -> None:
    email = rand_email()
    tenants = [api.create_tenant(displayName=f"Tenant {i}") for i in range(2)]
    for tenant in tenants:
        api.create_user(tenant["id"], email=email, status="ACTIVE")
    with browser_for(api) as browser:
        page = browser.get("/login")
        known = post_form(browser, "/login", page.text, action="email", email=email)
        unknown = post_form(browser, "/login", page.text, action="email", email=rand_email())
        assert known.status_code == unknown.status_code == 200 and 'id="discovery-sent"' in unknown.text
    body = last_email(api, email)["text_body"]
    for tenant in tenants:
        assert f"https://{tenant['domainName']}-{api.vanity}/login" in body


@pytest.mark.parametrize("verification", ["EMAIL_VERIFICATION"])
def test_email_verification_strategy_signs_in_at_once(api: Api, verification: str) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    api.call("PUT", f"/tenants/{tenant['id']}/signup-policies", json={"verification": verification})
    host = f"https://{tenant['domainName']}-{api.vanity}"
    email = rand_email()
    with browser_for(api) as browser:
        form = browser.get(f"{host}/signup")
        done = post_form(browser, f"{host}/signup", form.text, email=email, password=PASSWORD)
        assert done.status_code in (200, 302) and "tenantry_session" in done.cookies
        link = link_in(last_email(api, email))
        assert "/verify-email?code=" in link
        assert browser.get(link).status_code == 200
    user = api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()["items"][0]
    assert user["status"] == "ACTIVE" and user["emailVerified"] is True
