"""Signing in with a real browser through the example app: forgot / reset password, tenant
discovery, logout (session ended, refresh tokens revoked), both tenant-host layouts, and that
the browser really verifies the test certificate."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Error, Page, expect

from tests.browser.conftest import (
    BROWSER_MARKS,
    CHROMIUM_ARGS,
    PASSWORD,
    RESOLVE_ALL_TO_LOOPBACK,
    TIMEOUT_MS,
    World,
    links_in,
    me,
    rand,
    rand_email,
    screenshot,
    text_of,
)

pytestmark = BROWSER_MARKS
NEW_PASSWORD = "a brand new passphrase, 42 times"


def sign_in(page: Page, email: str, password: str) -> None:
    page.fill("#identifier", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def open_tenant_login_through_app(page: Page, world: World, tenant: str) -> None:
    """The example app's login for ``tenant`` → authorize → the tenant's hosted sign-in form."""
    page.goto(f"{world.app.base_url}/auth/login?tenant_name={tenant}")
    page.wait_for_url(re.compile(re.escape(world.server.tenant_url(tenant, "/login?req=")) + ".+"))
    expect(page.locator("#password")).to_be_visible()


def test_browser_verifies_the_certificate(page: Page, world: World) -> None:
    """No ``ignore_https_errors``: a host missing from the certificate is refused."""
    with pytest.raises(Error, match="ERR_CERT_COMMON_NAME_INVALID"):
        page.goto(f"https://{rand('unlisted')}.localhost:{world.server.port}/login")


def test_forgot_and_reset_password_then_sign_in_through_the_app(page: Page, world: World) -> None:
    tenant, email = world.tenant_name(), rand_email()
    doc = world.server.create_tenant(tenant, display="Reset Inc")
    world.server.create_user(doc["id"], email)

    open_tenant_login_through_app(page, world, tenant)
    expect(page.get_by_role("heading", name="Sign in to Reset Inc")).to_be_visible()
    screenshot(page, "login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(re.compile(re.escape(world.server.tenant_url(tenant, "/forgot-password")) + ".*"))
    page.fill("#email", email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.locator("#reset-sent")).to_be_visible()

    (message,) = world.mailbox.wait_for(email)
    prefix = world.server.tenant_url(tenant, "/reset-password?code=")
    (link,) = [u for u in links_in(message) if u.startswith(prefix)]
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    screenshot(page, "reset-password")
    page.fill("#password", "password")
    page.get_by_role("button", name="Save password").click()
    expect(page.locator("#reset-error")).to_be_visible()
    page.fill("#password", NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()

    page.goto(link)  # the link is single use
    page.fill("#password", "yet another fine passphrase 7")
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_role("heading", name="This reset link cannot be used")).to_be_visible()

    open_tenant_login_through_app(page, world, tenant)
    sign_in(page, email, PASSWORD)
    expect(page.locator("#login-error")).to_be_visible()
    sign_in(page, email, NEW_PASSWORD)
    page.wait_for_url(f"{world.app.base_url}/me")
    assert me(page)["tenantName"] == tenant


def test_discovery_email_lists_every_tenant_of_the_address(page: Page, world: World) -> None:
    first, second, email = world.tenant_name(), world.tenant_name(), rand_email()
    first_doc = world.server.create_tenant(first, display="First Org")
    second_doc = world.server.create_tenant(second, display="Second Org")
    world.server.create_user(first_doc["id"], email)
    world.server.create_user(second_doc["id"], email)

    page.goto(f"{world.server.base_url}/login")
    expect(page.get_by_role("heading", name="Find your organization")).to_be_visible()
    screenshot(page, "discovery")
    page.fill("#email", email)
    page.get_by_role("button", name="Email me my sign-in links").click()
    expect(page.locator("#discovery-sent")).to_be_visible()

    (message,) = world.mailbox.wait_for(email)
    text = text_of(message)
    assert "First Org" in text and "Second Org" in text, text
    links = links_in(message)
    assert world.server.tenant_url(first, "/login") in links, links
    assert world.server.tenant_url(second, "/login") in links, links
    queued = world.server.query("SELECT count(*) FROM outbox WHERE recipient = ? AND kind = 'tenant_discovery'", email)
    assert queued == [(1,)]

    page.goto(world.server.tenant_url(second, "/login"))
    expect(page.get_by_role("heading", name="Sign in to Second Org")).to_be_visible()
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)

    # The other way through discovery: the organization's domain name.
    page.goto(f"{world.server.base_url}/login")
    page.fill("#tenant_domain", rand("nosuch"))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not find that organization")
    page.fill("#tenant_domain", first)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(world.server.tenant_url(first, "/login"))
    expect(page.get_by_role("heading", name="Sign in to First Org")).to_be_visible()


def test_logout_ends_the_session_and_revokes_refresh_tokens(page: Page, world: World) -> None:
    tenant, email = world.tenant_name(), rand_email()
    doc = world.server.create_tenant(tenant)
    user = world.server.create_user(doc["id"], email)

    open_tenant_login_through_app(page, world, tenant)
    sign_in(page, email, PASSWORD)
    page.wait_for_url(f"{world.app.base_url}/me")
    assert me(page)["userId"] == user["id"]
    tokens = "SELECT count(*), count(revoked_at) FROM refresh_tokens WHERE user_id = ?"
    ((issued, revoked),) = world.server.query(tokens, user["id"])
    assert issued >= 1 and revoked == 0

    # While the Tenantry session lives, a new login needs no password.
    page.goto(f"{world.app.base_url}/auth/login?tenant_name={tenant}")
    page.wait_for_url(f"{world.app.base_url}/me")

    page.goto(f"{world.app.base_url}/auth/logout")  # → tenant logout → client login URL → discovery
    page.wait_for_url(f"{world.server.base_url}/login?client_id={world.app.client_id}")
    response = page.goto(f"{world.app.base_url}/me")
    assert response is not None and response.status == 401

    ((issued, revoked),) = world.server.query(tokens, user["id"])
    assert issued >= 1 and revoked == issued, f"{issued - revoked} of {issued} refresh tokens still live"
    sessions = world.server.query("SELECT count(*) FROM auth_sessions WHERE user_id = ?", user["id"])
    assert sessions == [(0,)]

    open_tenant_login_through_app(page, world, tenant)  # asserts the password form is shown
    expect(page.get_by_role("heading", name=re.compile("^Sign in to "))).to_be_visible()


def test_login_without_custom_domain_uses_dash_tenant_hosts(
    page: Page, plain_world: World, launch_browser: Callable[..., Browser]
) -> None:
    world = plain_world
    tenant, email = world.tenant_name(), rand_email()
    doc = world.server.create_tenant(tenant, display="Dash Org")
    world.server.create_user(doc["id"], email)
    tenant_login = world.server.tenant_url(tenant, "/login")
    assert tenant_login.startswith(f"https://{tenant}-localhost:")

    with pytest.raises(Error, match=r"net::ERR_"):  # unresolvable without the flag below
        page.goto(tenant_login)

    browser = launch_browser(args=[*CHROMIUM_ARGS, RESOLVE_ALL_TO_LOOPBACK])
    try:
        context = browser.new_context(ignore_https_errors=False)
        context.set_default_timeout(TIMEOUT_MS)
        dash = context.new_page()
        dash.goto(f"{world.app.base_url}/auth/login?tenant_name={tenant}")
        dash.wait_for_url(re.compile(re.escape(f"{tenant_login}?req=") + ".+"))
        expect(dash.get_by_role("heading", name="Sign in to Dash Org")).to_be_visible()
        sign_in(dash, email, PASSWORD)
        dash.wait_for_url(f"{world.app.base_url}/me")
        session = me(dash)
        assert session["tenantName"] == tenant
        assert session["tenantId"] == doc["id"]
        context.close()
    finally:
        browser.close()
