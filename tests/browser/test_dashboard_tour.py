"""A tour of the admin dashboard (``/dashboard``) in Debian's Chromium, against a real server
and a real SMTP server: an application administrator creates a tenant, adds a user with the
invitation toggle (the email arrives, the user accepts and is ``ACTIVE`` in the Users table),
invites by shareable link, cancels and resends invitations, deactivates and reactivates a
user, searches and filters the Users table; a tenant administrator cannot see another tenant.

Every test writes screenshots (a 1280x800 laptop viewport, some at a 390x844 phone width) into
``TENANTRY_SCREENSHOTS`` (a directory; ``1`` means ``docs/screenshots``), by default into the
test's temporary directory. The helpers here are shared by the other ``test_dashboard_*.py``."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright._impl._api_structures import Cookie, SetCookieParam
from playwright.sync_api import BrowserContext, Locator, Page, ViewportSize, expect

from tests.browser.conftest import (
    BROWSER_MARKS,
    PASSWORD,
    SCREENSHOTS,
    DashboardAdmin,
    Server,
    World,
    create_dashboard_admin,
    fetch,
    links_in,
    rand,
    rand_email,
)

pytestmark = BROWSER_MARKS
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
DEAD = "This invitation cannot be used"
NOT_FOUND = "This page does not exist, or you cannot see it."
ADMIN_COOKIE = "tenantry_admin"


# --- helpers shared by the dashboard tests ---------------------------------------------------


def screenshots_dir(tmp_path: Path) -> Path:
    """Where a test's screenshots go: ``TENANTRY_SCREENSHOTS`` or the test's tmp dir."""
    raw = os.environ.get("TENANTRY_SCREENSHOTS", "")
    target = SCREENSHOTS if raw == "1" else Path(raw).resolve() if raw else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


# Dashboard session cookies by (server, administrator): most tests need a signed-in
# administrator, not one more sign-in (the sign-in form has its own tests, and a rate limit).
SESSIONS: dict[tuple[str, str], list[SetCookieParam]] = {}


@dataclass
class Dashboard:
    """One browser page on the dashboard of ``server``, and where its screenshots go."""

    page: Page
    server: Server
    shots: Path

    def url(self, path: str = "") -> str:
        return f"{self.server.base_url}/dashboard{path}"

    def goto(self, path: str) -> None:
        self.page.goto(self.url(path))

    def sign_in(self, admin: DashboardAdmin) -> None:
        self.goto("/login")
        expect(self.page.get_by_role("heading", name=re.compile("Sign in to the .* dashboard"))).to_be_visible()
        self.page.get_by_label("Email", exact=True).fill(admin.email)
        self.page.get_by_label("Password").fill(admin.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.url("/users"))
        expect(self.page.get_by_role("heading", name="Users", exact=True)).to_be_visible()

    def resume_session(self, admin: DashboardAdmin) -> None:
        """Signed in as ``admin``: with the session of an earlier test if it is still alive."""
        key = (self.server.base_url, admin.email)
        context = self.page.context
        if key in SESSIONS:
            context.add_cookies(SESSIONS[key])
            self.goto("/users")
            if self.page.url == self.url("/users"):
                return
        self.sign_in(admin)
        SESSIONS[key] = [as_set_cookie(c) for c in context.cookies(self.url("/")) if c.get("name") == ADMIN_COOKIE]
        assert SESSIONS[key], "no dashboard session cookie after signing in"

    def shoot(self, name: str, *, phone: bool = False) -> Path:
        """A PNG of the viewport at laptop width; with ``phone`` also one at phone width."""
        path = self.shots / f"dashboard-{name}.png"
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 0
        if phone:
            self.page.set_viewport_size(PHONE)
            try:
                self.page.screenshot(path=str(self.shots / f"dashboard-{name}-phone.png"))
                overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, f"the {name} page scrolls sideways by {overflow}px on a phone"
            finally:
                self.page.set_viewport_size(LAPTOP)
        return path

    def notice(self, text: str) -> None:
        expect(self.page.get_by_role("status").filter(has_text=text)).to_be_visible()

    def row(self, text: str) -> Locator:
        return self.page.get_by_role("row").filter(has_text=text)

    def settle(self) -> None:
        """Wait until no htmx request of the page is in flight (htmx marks their elements)."""
        self.page.wait_for_function("() => !document.querySelector('.htmx-request')")

    def wait_for_query(self, **params: str) -> None:
        """Wait until the address shows these query parameters (a navigation or htmx's push)."""
        self.page.wait_for_function(
            """want => { const got = new URLSearchParams(location.search);
                return Object.entries(want).every(([k, v]) => (got.get(k) || "") === v); }""",
            arg=params,
        )
        self.settle()

    def search_users(self, search: str = "", *, tenant: str | None = None, status: str = "") -> None:
        """The Users page's search box and filters, as a person sets them, then Apply."""
        page = self.page
        self.goto("/users")
        page.get_by_label("Search", exact=True).fill(search)
        page.get_by_label("Status", exact=True).select_option(status)
        self.settle()
        if tenant is not None:
            page.get_by_label("Tenant", exact=True).select_option(tenant)
            self.settle()
        page.get_by_role("button", name="Apply").click()
        self.wait_for_query(q=search, status=status, **({} if tenant is None else {"tenant": tenant}))

    def user_status_in_table(self, email: str, tenant_id: str) -> str:
        self.search_users(email, tenant=tenant_id)
        row = self.row(email)
        expect(row).to_have_count(1)
        return row.locator(".badge").inner_text().strip()

    def create_tenant(self, name: str, display: str) -> str:
        """Create a tenant on the Tenants page; its id (from the Users link of its row)."""
        self.goto("/tenants")
        self.page.get_by_label("Domain name").fill(name)
        self.page.get_by_label("Display name").fill(display)
        self.page.get_by_role("button", name="Create tenant").click()
        self.page.wait_for_url(self.url("/tenants?done=tenant"))
        self.notice("Tenant created.")
        return self.tenant_id(name)

    def tenant_id(self, name: str) -> str:
        row = self.row(name)
        expect(row).to_have_count(1)
        href = row.get_by_role("link", name=re.compile("^Users")).get_attribute("href")
        assert href is not None
        found = re.search(r"tenant=([^&]+)", href)
        assert found, href
        return found.group(1)

    def not_found(self, path: str) -> None:
        """``path`` answers the dashboard's 404 page, in the browser and by status."""
        self.goto(path)
        expect(self.page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(self.page.locator("main")).to_contain_text(NOT_FOUND)
        status, _ = fetch(self.page, self.url(path))
        assert status == 404, f"{path}: HTTP {status}"


def open_dashboard(page: Page, world: World, tmp_path: Path) -> Dashboard:
    page.set_viewport_size(LAPTOP)
    return Dashboard(page, world.server, screenshots_dir(tmp_path))


def as_set_cookie(cookie: Cookie) -> SetCookieParam:
    """A cookie the browser had, to put back as it was (same name, domain and path: it replaces)."""
    return {
        "name": cookie.get("name", ""),
        "value": cookie.get("value", ""),
        "domain": cookie.get("domain", ""),
        "path": cookie.get("path", "/"),
        "secure": cookie.get("secure", True),
        "httpOnly": cookie.get("httpOnly", True),
        "sameSite": cookie.get("sameSite", "Strict"),
    }


@pytest.fixture
def dashboard(page: Page, world: World, tmp_path: Path) -> Dashboard:
    return open_dashboard(page, world, tmp_path)


@pytest.fixture
def signed_in(dashboard: Dashboard, app_admin: DashboardAdmin) -> Dashboard:
    """The dashboard, signed in as an application administrator."""
    dashboard.resume_session(app_admin)
    return dashboard


def unlabelled_fields(form: Locator) -> list[str]:
    """The form's visible fields without a label (``<label for>``, wrapping label, aria)."""
    found: list[str] = form.evaluate(
        """form => [...form.querySelectorAll("input, select, textarea")]
            .filter(e => !["hidden", "submit", "button"].includes(e.type))
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                         && !e.getAttribute("aria-labelledby"))
            .map(e => e.name || e.id || e.outerHTML)"""
    )
    return found


def assert_form_accessible(page: Page, form: Locator, first_field: Locator) -> None:
    """Every field of ``form`` has a label, and the keyboard reaches ``first_field`` from the
    top of the page with a visible focus ring."""
    expect(form).to_be_visible()
    assert unlabelled_fields(form) == []
    tab_to(page, first_field)
    outline = first_field.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "the focused field shows no focus ring"


def tab_to(page: Page, target: Locator, presses: int = 80) -> None:
    """Press Tab from the top of the page until ``target`` has the focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.click(1, 1)  # Tab starts from the top of the page
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    pytest.fail(f"{presses} presses of Tab did not reach {target}")


def person(name: str) -> str:
    """A readable, unique address: ``grace.hopper.1a2b3c@example.com``."""
    return f"{name}.{secrets.token_hex(3)}@example.com"


def link_with_prefix(message: Any, prefix: str) -> str:
    links = [u for u in links_in(message) if u.startswith(prefix)]
    assert len(links) == 1, f"no single link {prefix}… in {links_in(message)}"
    return links[0]


def invite_in_dashboard(
    dash: Dashboard, tenant_id: str, email: str | None, *, link: bool = False, roles: tuple[str, ...] = ()
) -> None:
    dash.goto(f"/invitations/new?tenant={tenant_id}")
    page = dash.page
    page.get_by_label("Create a shareable link" if link else "Send an email").check()
    if email is not None:
        page.get_by_label(re.compile("^Email")).fill(email)
    for role in roles:
        page.get_by_role("group", name="Roles").get_by_label(role, exact=True).check()
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.get_by_role("heading", name="Invitation created")).to_be_visible()


def accept_new_user_invitation(page: Page, link: str, password: str = PASSWORD) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name=re.compile("^Join "))).to_be_visible()
    page.fill("#password", password)
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("heading", name=re.compile("^Join "))).to_have_count(0)


def add_user_in_dashboard(
    dash: Dashboard, tenant_label: str, email: str, *, invite: bool, shot: str | None = None
) -> str:
    """Add user (tenant picked first, as an application administrator); the new user's id."""
    page = dash.page
    dash.goto("/users")
    page.get_by_role("link", name="Add user").click()
    page.get_by_label("Tenant").select_option(label=tenant_label)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Add user")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Given name").fill("Grace")
    page.get_by_label("Family name").fill("Hopper")
    toggle = page.get_by_label("Send an invitation email")
    expect(toggle).to_be_checked()  # inviting is the default
    toggle.set_checked(invite)
    if shot:  # the filled-in form down to the toggle and the button
        page.get_by_role("button", name="Add user").scroll_into_view_if_needed()
        dash.shoot(shot)
    page.get_by_role("button", name="Add user").click()
    page.wait_for_url(re.compile(re.escape(dash.url("/users/")) + r"[^/?]+\?done="))
    found = re.search(r"/users/([^/?]+)\?", page.url)
    assert found, page.url
    return found.group(1)


# --- the tour ---------------------------------------------------------------------------------


def test_create_tenant_add_user_with_invitation_email_accept_then_active(signed_in: Dashboard, world: World) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    dash.shoot("users-all", phone=True)
    tenant, email = world.tenant_name(), person("grace.hopper")
    tenant_id = dash.create_tenant(tenant, "Tour Corp")
    expect(dash.row(tenant)).to_contain_text("Tour Corp")
    dash.shoot("tenants")

    user_id = add_user_in_dashboard(dash, f"Tour Corp ({tenant})", email, invite=True, shot="add-user")
    dash.notice("Invitation email sent.")
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    expect(page.locator("main .badge").first).to_have_text("PROVISIONED")
    dash.shoot("user", phone=True)
    assert dash.user_status_in_table(email, tenant_id) == "PROVISIONED"

    (message,) = world.mailbox.wait_for(email)
    link = link_with_prefix(message, server.tenant_url(tenant, "/accept-existing-invite?code="))
    page.goto(link)
    expect(page.get_by_role("heading", name="Activate your account")).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Activate account").click()
    page.wait_for_url(f"{world.app.base_url}/me")  # signed in, in the application

    assert dash.user_status_in_table(email, tenant_id) == "ACTIVE"
    expect(dash.row(email)).to_contain_text("Grace Hopper")
    dash.shoot("users-search")
    dash.row(email).get_by_role("link", name=email).click()
    page.wait_for_url(dash.url(f"/users/{user_id}"))
    expect(page.locator("main")).to_contain_text("Email verified")


def test_add_user_without_invitation_sends_nothing(signed_in: Dashboard, world: World) -> None:
    dash, page = signed_in, signed_in.page
    tenant = rand("quiet")
    tenant_id = dash.create_tenant(tenant, "Quiet Ltd")
    email = rand_email()
    dash.goto("/users/new")
    expect(page.get_by_role("heading", name="Add user")).to_be_visible()
    dash.shoot("add-user-tenant")
    user_id = add_user_in_dashboard(dash, f"Quiet Ltd ({tenant})", email, invite=False)
    dash.notice("User created.")
    assert dash.user_status_in_table(email, tenant_id) == "PROVISIONED"
    user = world.server.call("GET", f"/users/{user_id}", 200)
    assert (user["email"], user["status"], user["givenName"]) == (email, "PROVISIONED", "Grace")
    with pytest.raises(AssertionError, match="did not arrive"):
        world.mailbox.wait_for(email, seconds=1.5)


def test_add_user_form_is_labelled_and_keyboard_operable(signed_in: Dashboard, world: World) -> None:
    dash, page = signed_in, signed_in.page
    tenant = rand("keys")
    tenant_id = dash.create_tenant(tenant, "Keyboard Co")
    dash.goto(f"/users/new?tenant={tenant_id}")
    form = page.locator("main form")
    email_field = page.get_by_label("Email", exact=True)
    assert_form_accessible(page, form, email_field)
    dash.shoot("add-user-empty", phone=True)
    email = person("ada.lovelace")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type("Ada")  # given name
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_url(re.compile(re.escape(dash.url("/users/")) + r"[^/?]+\?done=invited"))
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    world.mailbox.wait_for(email)

    # A bad address is refused with the form filled in again, and nothing is created.
    dash.goto(f"/users/new?tenant={tenant_id}")
    page.get_by_label("Email", exact=True).fill("not-an-email@")
    page.get_by_label("Email", exact=True).evaluate("e => e.type = 'text'")  # past the browser's own check
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_contain_text("email")
    expect(page.get_by_label("Email", exact=True)).to_have_value("not-an-email@")
    # So is an address the tenant already has (4xx with a message, never a 5xx).
    dash.goto(f"/users/new?tenant={tenant_id}")
    page.get_by_label("Email", exact=True).fill(email.upper())
    page.get_by_label("Send an invitation email").uncheck()
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_be_visible()
    listing = world.server.call("GET", f"/tenants/{tenant_id}/users", 200)
    assert [u["email"] for u in listing["items"]] == [email]


def test_invite_by_link_shown_once_with_copy_button_then_accept(
    signed_in: Dashboard, world: World, context: BrowserContext
) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    tenant = world.tenant_name()
    tenant_id = dash.create_tenant(tenant, "Link Works")
    dash.goto(f"/invitations/new?tenant={tenant_id}")
    assert_form_accessible(page, page.locator("main form"), page.get_by_label("Send an email"))
    dash.shoot("invite")
    invite_in_dashboard(dash, tenant_id, None, link=True)
    expect(page.locator("main")).to_contain_text("It is shown only once.")
    url = page.locator("#invite-url").inner_text().strip()
    assert url.startswith(server.tenant_url(tenant, "/accept-invite?code=")), url
    dash.shoot("invite-link", phone=True)

    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copied")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == url

    # Shown once: the list of invitations does not repeat it, and neither does a reload.
    dash.goto(f"/invitations?tenant={tenant_id}")
    expect(dash.row("(link)")).to_have_count(1)
    expect(dash.row("(link)")).to_contain_text("PENDING_INVITE_ACCEPTANCE")
    code = url.split("code=", 1)[1]
    assert code not in page.content()

    email = rand_email()
    page.goto(url)
    expect(page.get_by_role("heading", name="Join Link Works")).to_be_visible()
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.locator("main")).to_contain_text("Follow its link to activate your account")
    assert dash.user_status_in_table(email, tenant_id) == "PENDING_INVITE_ACTIVATION"
    (first,) = world.mailbox.wait_for(email)
    activate = server.tenant_url(tenant, "/activate?code=")

    # The user page sends the activation email again; the newest link activates.
    dash.row(email).get_by_role("link", name=email).click()
    page.get_by_role("button", name="Send activation email").click()
    dash.notice("Activation email sent.")
    messages = world.mailbox.wait_for(email, count=2)
    (link,) = {link_with_prefix(m, activate) for m in messages} - {link_with_prefix(first, activate)}
    page.goto(link)
    page.wait_for_load_state()
    assert dash.user_status_in_table(email, tenant_id) == "ACTIVE"
    dash.goto(f"/invitations?tenant={tenant_id}")
    expect(dash.row("(link)")).to_contain_text("COMPLETED")


def test_cancel_one_invitation_and_resend_another(signed_in: Dashboard, world: World) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    tenant = world.tenant_name()
    tenant_id = dash.create_tenant(tenant, "Resend Works")
    canceled, resent = person("alan.turing"), person("margaret.hamilton")
    prefix = server.tenant_url(tenant, "/accept-invite?code=")
    invite_in_dashboard(dash, tenant_id, canceled)
    expect(page.locator("main")).to_contain_text(f"An invitation email was sent to {canceled}.")
    invite_in_dashboard(dash, tenant_id, resent, roles=("Tenant Admin",))
    expect(page.locator("main")).to_contain_text(f"An invitation email was sent to {resent}.")
    canceled_link = link_with_prefix(world.mailbox.wait_for(canceled)[0], prefix)
    first_link = link_with_prefix(world.mailbox.wait_for(resent)[0], prefix)

    dash.goto(f"/invitations?tenant={tenant_id}")
    expect(page.get_by_role("heading", name="2 invitations")).to_be_visible()
    dash.shoot("invitations", phone=True)
    dash.row(canceled).get_by_role("button", name=re.compile("^Cancel")).click()
    expect(dash.row(canceled)).to_contain_text("CANCELED")
    expect(dash.row(canceled).get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    dash.goto(f"/invitations?tenant={tenant_id}&status=CANCELED")
    expect(dash.row(canceled)).to_contain_text("CANCELED")
    expect(dash.row(resent)).to_have_count(0)
    page.goto(canceled_link)
    expect(page.get_by_role("heading", name=DEAD)).to_be_visible()

    # Resend: a new email with a new link, the same roles; the first link is dead.
    dash.goto(f"/invitations?tenant={tenant_id}")
    dash.row(resent).get_by_role("button", name=re.compile("^Resend")).click()
    dash.notice("Invitation email sent again.")
    messages = world.mailbox.wait_for(resent, count=2)
    (second_link,) = {link_with_prefix(m, prefix) for m in messages} - {first_link}
    page.goto(first_link)
    expect(page.get_by_role("heading", name=DEAD)).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)
    accept_new_user_invitation(page, second_link)
    page.wait_for_url(f"{world.app.base_url}/me")
    assert dash.user_status_in_table(resent, tenant_id) == "ACTIVE"
    dash.row(resent).get_by_role("link", name=resent).click()
    expect(page.locator("form[action$='/roles']").get_by_label("Tenant Admin", exact=True)).to_be_checked()
    dash.goto(f"/users?tenant={tenant_id}&q={canceled}")
    expect(page.get_by_role("heading", name="0 users")).to_be_visible()

    # The canceled one, invited again from its row: the form comes filled in, a new link works.
    dash.goto(f"/invitations?tenant={tenant_id}&status=CANCELED")
    dash.row(canceled).get_by_role("link", name="Invite again").click()
    expect(page.get_by_label(re.compile("^Email"))).to_have_value(canceled)
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.locator("main")).to_contain_text(f"An invitation email was sent to {canceled}.")
    messages = world.mailbox.wait_for(canceled, count=2)
    (again,) = {link_with_prefix(m, prefix) for m in messages} - {canceled_link}
    page.goto(again)
    expect(page.get_by_role("heading", name="Join Resend Works")).to_be_visible()


def test_deactivate_then_reactivate_a_user(signed_in: Dashboard, world: World) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    tenant = world.tenant_name()
    doc = server.create_tenant(tenant, display="Toggle Inc")
    email = rand_email()
    user = server.create_user(doc["id"], email)

    dash.goto(f"/users/{user['id']}")
    badge = page.locator("main .badge").first
    expect(badge).to_have_text("ACTIVE")
    page.get_by_role("button", name="Deactivate").click()
    dash.notice("Changes saved.")
    expect(badge).to_have_text("INACTIVE")
    expect(page.get_by_role("button", name="Deactivate")).to_have_count(0)
    assert server.call("GET", f"/users/{user['id']}", 200)["status"] == "INACTIVE"
    assert dash.user_status_in_table(email, doc["id"]) == "INACTIVE"

    dash.goto(f"/users/{user['id']}")
    page.get_by_role("button", name="Activate without email").click()
    dash.notice("Changes saved.")
    expect(badge).to_have_text("ACTIVE")
    assert dash.user_status_in_table(email, doc["id"]) == "ACTIVE"

    # Deactivated again, then reactivated by invitation: the user sets a new password.
    dash.goto(f"/users/{user['id']}")
    page.get_by_role("button", name="Deactivate").click()
    expect(badge).to_have_text("INACTIVE")
    page.get_by_role("button", name=re.compile("^(Send invitation|Reactivate by invitation)$")).click()
    dash.notice("Invitation email sent.")
    (message,) = world.mailbox.wait_for(email)
    page.goto(link_with_prefix(message, server.tenant_url(tenant, "/accept-existing-invite?code=")))
    page.fill("#password", "a reactivated passphrase, 31")
    page.get_by_role("button", name="Activate account").click()
    page.wait_for_url(f"{world.app.base_url}/me")
    assert dash.user_status_in_table(email, doc["id"]) == "ACTIVE"


def test_search_filter_and_sort_the_users_table(signed_in: Dashboard, world: World) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    tag = rand("s")
    first = server.create_tenant(rand("srch"), display="Analytical Engines")
    second = server.create_tenant(rand("srch"), display="Difference Works")
    people = {
        "ada.lovelace": (first, "ACTIVE"),
        "grace.hopper": (first, "INACTIVE"),
        "katherine.johnson": (first, "PROVISIONED"),
        "katherine.bell": (second, "ACTIVE"),
    }
    emails: dict[str, str] = {}
    for who, (tenant, status) in people.items():
        emails[who] = f"{who}@{tag}.example.com"
        given, family = (part.title() for part in who.split("."))
        body = {
            "tenantId": tenant["id"],
            "identityProviderName": "wristband",
            "email": emails[who],
            "status": "ACTIVE" if status == "INACTIVE" else status,  # created ACTIVE, then deactivated
            "givenName": given,
            "familyName": family,
        }
        user = server.call("POST", "/users", 201, json=body)
        if status == "INACTIVE":
            server.call("PATCH", f"/users/{user['id']}", 200, json={"status": "INACTIVE"})

    def shown() -> set[str]:
        return {e for e in emails.values() if dash.row(e).count() == 1}

    dash.search_users(f"ada.lovelace@{tag}")  # email, all tenants
    expect(page.get_by_role("heading", name="1 user", exact=True)).to_be_visible()
    assert shown() == {emails["ada.lovelace"]}

    dash.search_users("", tenant=first["id"])  # one tenant
    expect(page.get_by_role("heading", name="3 users")).to_be_visible()
    assert shown() == {emails["ada.lovelace"], emails["grace.hopper"], emails["katherine.johnson"]}
    expect(dash.row(emails["grace.hopper"])).to_contain_text("Grace Hopper")
    dash.shoot("users", phone=True)

    dash.search_users("", tenant=first["id"], status="INACTIVE")  # and a status
    expect(page.get_by_role("heading", name="1 user", exact=True)).to_be_visible()
    assert shown() == {emails["grace.hopper"]}
    expect(page.get_by_label("Status", exact=True)).to_have_value("INACTIVE")  # the filters stay
    expect(page.get_by_label("Tenant", exact=True)).to_have_value(first["id"])

    dash.goto(f"/users?tenant={first['id']}")  # by identity provider: all three use the built-in one
    page.get_by_label("Identity provider").select_option(label="Built-in (Wristband)")
    dash.settle()
    page.get_by_role("button", name="Apply").click()
    dash.wait_for_query(idp="WRISTBAND", tenant=first["id"])
    expect(page.get_by_role("heading", name="3 users")).to_be_visible()
    page.get_by_label("Identity provider").select_option("OIDC")
    dash.settle()
    page.get_by_role("button", name="Apply").click()
    dash.wait_for_query(idp="OIDC", tenant=first["id"])
    expect(page.get_by_role("heading", name="0 users")).to_be_visible()

    dash.search_users("Kath", tenant=first["id"])  # given name, in one tenant
    assert shown() == {emails["katherine.johnson"]}
    dash.search_users("Kath")  # … and in all of them
    assert {emails["katherine.johnson"], emails["katherine.bell"]} <= shown()
    dash.search_users("Hop", tenant=first["id"])  # family name
    assert shown() == {emails["grace.hopper"]}

    # Sorted by given name, descending: Katherine, Grace, Ada.
    dash.search_users("", tenant=first["id"])
    page.get_by_label("Sort by").select_option("givenName")
    page.get_by_label("Order").select_option("desc")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*dir=desc.*"))
    cells = page.locator("tbody tr td:first-child").all_inner_texts()
    assert cells == [emails["katherine.johnson"], emails["grace.hopper"], emails["ada.lovelace"]]

    dash.search_users(f"nobody@{tag}")
    expect(page.get_by_role("heading", name="0 users")).to_be_visible()
    expect(page.locator("tbody")).to_contain_text("No users match.")


def test_users_table_pages_and_searches_as_you_type(signed_in: Dashboard, world: World) -> None:
    dash, page, server = signed_in, signed_in.page, world.server
    tag = rand("p")
    tenant = server.create_tenant(rand("pages"), display="Paging Co")
    emails = [f"user{n:02d}@{tag}.example.com" for n in range(5)]
    for email in emails:
        body = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email}
        server.call("POST", "/users", 201, json=body)

    dash.goto(f"/users?tenant={tenant['id']}&per=2")
    expect(page.get_by_role("heading", name="5 users")).to_be_visible()
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager).to_contain_text("Page 1 of 3")
    seen = page.locator("tbody tr td:first-child").all_inner_texts()
    for number in (2, 3):
        pager.get_by_role("link", name="Next").focus()
        page.keyboard.press("Enter")
        dash.wait_for_query(page=str(number), tenant=tenant["id"], per="2")
        expect(pager).to_contain_text(f"Page {number} of 3")
        seen += page.locator("tbody tr td:first-child").all_inner_texts()
        # The link that had the focus is gone with the old results: the new results have it.
        expect(page.locator("#results")).to_be_focused()
    assert seen == emails  # every user once, in order
    expect(pager.get_by_role("link", name="Next")).to_have_count(0)
    pager.get_by_role("link", name="Previous").click()
    dash.wait_for_query(page="2")
    assert page.locator("tbody tr td:first-child").all_inner_texts() == emails[2:4]

    # Typing in the search box updates the table by itself (no Apply).
    dash.goto(f"/users?tenant={tenant['id']}")
    search = page.get_by_label("Search", exact=True)
    search.press_sequentially("user0", delay=30)
    dash.wait_for_query(q="user0")
    expect(page.get_by_role("heading", name="5 users")).to_be_visible()
    expect(search).to_be_focused()  # the update keeps the focus in the box: typing goes on
    page.keyboard.type("3@", delay=30)
    dash.wait_for_query(q="user03@")
    expect(page.get_by_role("heading", name="1 user", exact=True)).to_be_visible()
    assert page.locator("tbody tr td:first-child").all_inner_texts() == [emails[3]]


def test_keyboard_skip_link_and_focus_order(signed_in: Dashboard) -> None:
    """The first Tab of a page reaches "Skip to content", which moves the focus to the content;
    the next Tab is then the page's first control, past the navigation."""
    dash, page = signed_in, signed_in.page
    for path in ("/users", "/invitations"):
        dash.goto(path)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()  # visible when focused
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        in_main = page.evaluate("document.querySelector('main').contains(document.activeElement)")
        assert in_main, f"{path}: Tab after the skip link left the content"


def test_tenant_admin_sees_only_their_tenant(dashboard: Dashboard, world: World) -> None:
    dash, page, server = dashboard, dashboard.page, world.server
    tag = rand("iso")
    mine = server.create_tenant(rand("mine"), display=f"Mine {tag}")
    other = server.create_tenant(rand("other"), display=f"Other {tag}")
    my_user = server.create_user(mine["id"], f"mine.{tag}@example.com")
    their_user = server.create_user(other["id"], f"theirs.{tag}@example.com")
    their_invitation = server.call(
        "POST",
        "/new-user-invitation/invite-user",
        200,
        json={"tenantId": other["id"], "invitationType": "EMAIL", "email": f"invited.{tag}@example.com"},
    )["newUserInvitationRequest"]
    admin = create_dashboard_admin(server, mine["id"])

    dash.sign_in(admin)
    expect(page.locator("header")).to_contain_text("Tenant admin")
    expect(page.get_by_role("link", name="Tenants")).to_have_count(0)
    expect(page.get_by_label("Tenant", exact=True)).to_have_count(0)  # no tenant filter
    dash.search_users("")  # everything they can see: their tenant's one user
    expect(page.get_by_role("heading", name="1 user", exact=True)).to_be_visible()
    expect(dash.row(my_user["email"])).to_have_count(1)
    dash.shoot("tenant-admin-users")
    dash.search_users(their_user["email"])
    expect(page.get_by_role("heading", name="0 users")).to_be_visible()

    # The other tenant by URL: its filter is ignored, its user and its pages are refused.
    dash.goto(f"/users?tenant={other['id']}")
    expect(page.locator("main")).not_to_contain_text(their_user["email"])
    expect(dash.row(my_user["email"])).to_have_count(1)
    dash.not_found(f"/users/{their_user['id']}")
    dash.not_found(f"/users/{their_user['id']}/delete")
    dash.not_found("/tenants")
    dash.goto(f"/users/new?tenant={other['id']}")
    expect(page.locator("main")).to_contain_text(f"Mine {tag}")
    expect(page.locator("main")).not_to_contain_text(f"Other {tag}")
    dash.goto(f"/invitations?tenant={other['id']}")
    expect(page.locator("main")).not_to_contain_text(f"invited.{tag}")

    # Forms posted at the other tenant's objects change nothing.
    dash.goto("/users")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    status, _ = fetch(page, dash.url(f"/users/{their_user['id']}/status"), {"csrf_token": token, "status": "INACTIVE"})
    assert status == 404
    for action in ("cancel", "resend"):
        status, _ = fetch(page, dash.url(f"/invitations/{their_invitation['id']}/{action}"), {"csrf_token": token})
        assert status == 404, action
    tenant_form = {"csrf_token": token, "domainName": rand("sneaky"), "displayName": "Sneaky"}
    status, _ = fetch(page, dash.url("/tenants"), tenant_form)
    assert status == 404
    status, _ = fetch(page, dash.url("/users/new"), {"csrf_token": token, "tenant": other["id"], "email": rand_email()})
    assert status in (303, 0)  # created in their own tenant, never in the other one
    assert server.call("GET", f"/users/{their_user['id']}", 200)["status"] == "ACTIVE"
    assert server.query("SELECT status FROM invitations WHERE id = ?", their_invitation["id"]) == [
        ("PENDING_INVITE_ACCEPTANCE",)
    ]
    other_users = server.call("GET", f"/tenants/{other['id']}/users", 200)
    assert [u["email"] for u in other_users["items"]] == [their_user["email"]]

    # Their own tenant's user is theirs to manage.
    dash.goto(f"/users/{my_user['id']}")
    page.get_by_role("button", name="Deactivate").click()
    dash.notice("Changes saved.")
    assert server.call("GET", f"/users/{my_user['id']}", 200)["status"] == "INACTIVE"

    # … and they add users to it, with the invitation email, without picking a tenant.
    dash.goto("/users/new")
    expect(page.get_by_label("Tenant", exact=True)).to_have_count(0)
    expect(page.locator("main")).to_contain_text(f"Tenant: Mine {tag}")
    newcomer = person("nina.newcomer")
    page.get_by_label("Email", exact=True).fill(newcomer)
    page.get_by_role("button", name="Add user").click()
    dash.notice("Invitation email sent.")
    (message,) = world.mailbox.wait_for(newcomer)
    assert link_with_prefix(message, server.tenant_url(mine["domainName"], "/accept-existing-invite?code="))
    ((tenant_of_newcomer,),) = server.query("SELECT tenant_id FROM users WHERE email = ?", newcomer)
    assert tenant_of_newcomer == mine["id"]


def test_sign_in_refuses_a_wrong_password_and_sign_out_ends_the_session(
    dashboard: Dashboard, world: World, app_admin: DashboardAdmin
) -> None:
    dash, page = dashboard, dashboard.page
    dash.goto("/users")
    page.wait_for_url(dash.url("/login"))  # signed out: to the sign-in page
    form = page.locator("main form")
    assert_form_accessible(page, form, page.get_by_label("Email", exact=True))
    expect(page.get_by_label("Email", exact=True)).to_be_focused()  # tab_to leaves the focus there
    page.get_by_label("Email", exact=True).fill(app_admin.email)
    page.get_by_label("Password").fill("not the password, sorry")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    dash.shoot("sign-in")

    dash.sign_in(app_admin)
    (cookie,) = [c for c in page.context.cookies(dash.url("/")) if c.get("name") == ADMIN_COOKIE]
    assert (cookie.get("httpOnly"), cookie.get("secure"), cookie.get("sameSite"), cookie.get("path")) == (
        True,
        True,
        "Strict",
        "/dashboard",
    ), cookie
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(dash.url("/login"))
    dash.goto("/tenants")
    page.wait_for_url(dash.url("/login"))
    # The old cookie, put back, is worth nothing: the session ended on the server.
    page.context.add_cookies([as_set_cookie(cookie)])
    dash.goto("/users")
    page.wait_for_url(dash.url("/login"))

    # 30 minutes without a request end a session too.
    dash.sign_in(app_admin)
    (cookie,) = [c for c in page.context.cookies(dash.url("/")) if c.get("name") == ADMIN_COOKIE]
    age_session(dash.server, cookie.get("value", ""), timedelta(minutes=31))
    dash.goto("/users")
    page.wait_for_url(dash.url("/login"))


def age_session(server: Server, token: str, by: timedelta) -> None:
    """Move a dashboard session's ``last_seen_at`` back by ``by``, in the format the server stored."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    connection = sqlite3.connect(server.database, timeout=10)
    try:
        ((stored,),) = connection.execute("SELECT last_seen_at FROM dashboard_sessions WHERE token_hash = ?", (digest,))
        text = str(stored)
        moment = datetime.fromisoformat(text) - by
        value = moment.isoformat(sep="T" if "T" in text else " ", timespec="microseconds")
        with connection:
            done = connection.execute(
                "UPDATE dashboard_sessions SET last_seen_at = ? WHERE token_hash = ?", (value, digest)
            )
        assert done.rowcount == 1
    finally:
        connection.close()
