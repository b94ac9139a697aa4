"""Signup in a real browser: application level (activation link, lands in the example app),
tenant level (activation code), refused where disabled, and an SMTP outage during signup."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    BROWSER_MARKS,
    PASSWORD,
    Server,
    World,
    fetch,
    links_in,
    me,
    rand_email,
    screenshot,
    text_of,
)

pytestmark = BROWSER_MARKS


def assert_signed_in_user(page: Page, world: World, tenant: str, email: str) -> None:
    page.wait_for_url(f"{world.app.base_url}/me")
    session = me(page)
    assert session["tenantName"] == tenant
    assert session["identityProviderName"] == "wristband"
    user = world.server.call("GET", f"/users/{session['userId']}", 200)
    assert user["email"] == email
    assert user["status"] == "ACTIVE"
    assert user["emailVerified"] is True


def fill_app_signup(page: Page, tenant: str, email: str) -> None:
    expect(page.get_by_role("heading", name="Create your organization")).to_be_visible()
    page.fill("#tenant_display_name", "Acme Corporation")
    page.fill("#tenant_name", tenant)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)


def activation_link(message_text: str, server: Server, tenant: str) -> str:
    prefix = server.tenant_url(tenant, "/activate?code=")
    links: list[str] = [link for link in re.findall(r"https://\S+", message_text) if link.startswith(prefix)]
    assert len(links) == 1, f"no single activation link {prefix}… in:\n{message_text}"
    return links[0]


def test_application_signup_activation_link_lands_in_the_app(page: Page, world: World) -> None:
    tenant, email = world.tenant_name(), rand_email()
    page.goto(f"{world.server.base_url}/signup?client_id={world.app.client_id}")
    fill_app_signup(page, tenant, email)
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#check-email")).to_be_visible()
    screenshot(page, "check-email")
    expect(page.locator("#otp")).to_have_count(0)
    notice = page.locator("#check-email").inner_text()  # checked at the end

    (message,) = world.mailbox.wait_for(email)
    assert str(message["To"]) == email
    link = activation_link(text_of(message), world.server, tenant)
    page.goto(link)
    assert_signed_in_user(page, world, tenant, email)

    page.goto(link)  # single use
    expect(page.get_by_role("heading", name="This activation link cannot be used")).to_be_visible()

    # Activation by link: the page must say so, not promise a code form that is not there.
    assert "Follow its link" in notice and "code" not in notice, notice


def test_tenant_signup_with_activation_code(page: Page, world: World) -> None:
    tenant, email = world.tenant_name(), rand_email()
    doc = world.server.create_tenant(tenant, signup=True, display="Code Corp")
    policy = world.server.call(
        "PUT", f"/tenants/{doc['id']}/signup-policies", 200, json={"verification": "ACTIVATION_CODE"}
    )
    assert policy["verification"] == "ACTIVATION_CODE"

    page.goto(world.server.tenant_url(tenant, f"/signup?client_id={world.app.client_id}"))
    expect(page.get_by_role("heading", name="Join Code Corp")).to_be_visible()
    expect(page.locator("#tenant_name")).to_have_count(0)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#check-email")).to_contain_text("Enter it below")
    expect(page.locator("#otp")).to_be_visible()
    screenshot(page, "activation-code")

    (message,) = world.mailbox.wait_for(email)
    found = re.search(r"enter this code on the activation page: (\d{6})\b", text_of(message))
    assert found, text_of(message)
    code = found.group(1)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.fill("#otp", wrong)
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")

    page.fill("#otp", code)
    page.get_by_role("button", name="Activate").click()
    assert_signed_in_user(page, world, tenant, email)


def test_signup_refused_where_disabled(page: Page, world: World) -> None:
    tenant = world.tenant_name()
    world.server.create_tenant(tenant, signup=False)

    login = page.goto(world.server.tenant_url(tenant, "/login"))
    assert login is not None and login.status == 200
    expect(page.get_by_role("link", name="Create an account")).to_have_count(0)
    csrf = page.locator("input[name=csrf_token]").input_value()

    answer = page.goto(world.server.tenant_url(tenant, "/signup"))
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="Signup is not available")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)

    # Not only hidden: a posted form is refused too, and no user is created.
    email = rand_email()
    status, body = fetch(page, "/signup", {"csrf_token": csrf, "email": email, "password": PASSWORD})
    assert status == 403, body
    assert "Signup is not available" in body
    assert world.server.query("SELECT count(*) FROM users WHERE email = ?", email) == [(0,)]


def test_activation_email_survives_an_smtp_outage(page: Page, world: World) -> None:
    tenant, email = world.tenant_name(), rand_email()
    world.smtp.stop()
    try:
        page.goto(f"{world.server.base_url}/signup?client_id={world.app.client_id}")
        fill_app_signup(page, tenant, email)
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#check-email")).to_be_visible()  # the page answers without the mail server

        # The dispatcher really tried (and keeps the message pending) while the server is down.
        deadline = time.monotonic() + 10
        rows: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline:
            rows = world.server.query(
                "SELECT status, attempts, last_error FROM outbox WHERE recipient = ? AND kind = 'user_activation'",
                email,
            )
            if rows and rows[0][1] >= 1:
                break
            time.sleep(0.1)
        assert rows, "the activation email was not queued"
        status, attempts, last_error = rows[0]
        assert status == "PENDING" and attempts >= 1 and last_error, rows
        assert world.mailbox.to(email) == []
    finally:
        world.smtp.start()

    started = time.monotonic()
    (message,) = world.mailbox.wait_for(email, seconds=10)
    assert time.monotonic() - started < 10
    page.goto(activation_link(text_of(message), world.server, tenant))
    assert_signed_in_user(page, world, tenant, email)
    assert world.server.query("SELECT status FROM outbox WHERE recipient = ?", email) == [("SENT",)]
    assert all(link.startswith("https://") for link in links_in(message))
