"""Every other page of the admin dashboard in Debian's Chromium: it renders, its main action
works (checked through the API or the page that follows), and its form has labels and is
reachable by keyboard. The helpers and fixtures are those of ``test_dashboard_tour``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import ssl
import struct
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import (
    BROWSER_MARKS,
    PASSWORD,
    DashboardAdmin,
    Server,
    World,
    create_dashboard_admin,
    fetch,
    rand,
    rand_email,
)
from tests.browser.test_dashboard_tour import (
    LAPTOP,
    Dashboard,
    assert_form_accessible,
    open_dashboard,
    person,
    unlabelled_fields,
)

pytestmark = BROWSER_MARKS


@pytest.fixture
def dash(page: Page, world: World, tmp_path: Path) -> Dashboard:
    return open_dashboard(page, world, tmp_path)


@pytest.fixture
def admin_dash(dash: Dashboard, app_admin: DashboardAdmin) -> Dashboard:
    """The dashboard, signed in as an application administrator."""
    dash.resume_session(app_admin)
    return dash


# --- helpers ----------------------------------------------------------------------------------


def totp(secret: str, step: int) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits, 30 s), written here independently of the server's code."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def token_for(server: Server, client_id: str, secret: str) -> httpx.Response:
    verify = ssl.create_default_context(cafile=str(server.ca))
    return httpx.post(
        f"{server.base_url}/api/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        verify=verify,
        timeout=30,
    )


def new_dashboard(browser: Browser, world: World, dash: Dashboard) -> Dashboard:
    """A second browser (its own cookies), for a second administrator."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return Dashboard(page, world.server, dash.shots)


# --- the administrator's own account: two-step sign-in ------------------------------------------


def test_account_turns_on_two_step_sign_in_with_a_totp_app(dash: Dashboard, world: World) -> None:
    dash, page = dash, dash.page
    admin = create_dashboard_admin(world.server)
    dash.sign_in(admin)
    page.get_by_role("link", name=admin.email).click()  # the header links to the account page
    page.wait_for_url(dash.url("/account"))
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    page.get_by_role("button", name="Set up two-step sign-in").click()

    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml"), "no QR code image"
    secret = page.locator("#totp-secret").inner_text().strip()
    uri = page.locator("#totp-uri").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri, uri
    code_field = page.get_by_label("Code from the app")
    assert_form_accessible(page, page.locator("#totp-confirm-form"), code_field)
    dash.shoot("account-totp")
    step = int(time.time()) // 30
    page.keyboard.type("000000" if totp(secret, step) != "000000" else "111111")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()  # a wrong code does not turn it on
    page.get_by_label("Code from the app").fill(totp(secret, step))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    dash.notice("Two-step sign-in is on.")

    # Signing in now takes the password, then a fresh code; a used code is refused.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(dash.url("/login"))
    for code, accepted in ((totp(secret, step), False), (totp(secret, step + 1), True)):
        page.get_by_label("Email", exact=True).fill(admin.email)
        page.get_by_label("Password").fill(admin.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(dash.url("/login/code"))
        expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_role("button", name="Verify").click()
        if not accepted:
            expect(page.get_by_role("alert")).to_have_text("That code is not valid. Try the current one.")
            status, _ = fetch(page, dash.url("/users"))
            assert status == 200 and page.url == dash.url("/login/code")
            dash.goto("/users")
            page.wait_for_url(dash.url("/login"))  # no session yet
    page.wait_for_url(dash.url("/users"))

    dash.goto("/account")
    page.get_by_label("Your password").fill(admin.password)
    page.get_by_role("button", name="Turn off two-step sign-in").click()
    dash.notice("Two-step sign-in is off.")
    page.get_by_role("button", name="Sign out").click()
    dash.sign_in(admin)  # the password alone again


# --- administrators -----------------------------------------------------------------------------


def test_administrators_page_adds_a_tenant_administrator_then_deletes_them(
    admin_dash: Dashboard, world: World, browser: Browser, app_admin: DashboardAdmin
) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    tenant = server.create_tenant(rand("adm"), display="Admin Scope Co")
    email, password = person("tess.admin"), f"{PASSWORD} {rand()}"
    dash.goto("/admins")
    expect(page.get_by_role("heading", name="Administrators", exact=True)).to_be_visible()
    form = page.locator("#admin-form")
    assert_form_accessible(page, form, form.get_by_label("Email"))
    form.get_by_label("Email").fill(email)
    form.get_by_label(re.compile("^Password")).fill(password)
    form.get_by_label("Scope").select_option(tenant["id"])
    page.get_by_role("button", name="Add administrator").click()
    dash.notice("Administrator created.")
    expect(dash.row(email)).to_contain_text("Admin Scope Co")
    dash.shoot("admins")

    other = new_dashboard(browser, world, dash)
    try:
        other.sign_in(DashboardAdmin("", email, password, tenant["id"]))
        expect(other.page.locator("header")).to_contain_text("Tenant admin")
        other.not_found("/admins")

        dash.goto("/admins")
        dash.row(email).get_by_role("button", name=f"Delete administrator {email}").click()
        dash.notice("Administrator deleted.")
        expect(dash.row(email)).to_have_count(0)
        other.goto("/users")  # their session ended with the account
        other.page.wait_for_url(other.url("/login"))
        other.page.get_by_label("Email", exact=True).fill(email)
        other.page.get_by_label("Password").fill(password)
        other.page.get_by_role("button", name="Sign in").click()
        expect(other.page.get_by_role("alert")).to_have_text("Invalid email or password.")
    finally:
        other.page.context.close()

    # A weak password is refused by the password policy, with the form kept.
    dash.goto("/admins")
    page.locator("#admin-form").get_by_label("Email").fill(person("weak"))
    page.locator("#admin-form").get_by_label(re.compile("^Password")).fill("short")
    page.get_by_role("button", name="Add administrator").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#admin-form").get_by_label("Email")).not_to_have_value("")

    # An address that is taken is refused (4xx, never 5xx), and nobody deletes themselves.
    token = page.locator("#admin-form input[name=csrf_token]").get_attribute("value")
    assert token
    taken = {"csrf_token": token, "email": app_admin.email, "password": f"{PASSWORD} {rand()}", "tenant": ""}
    status, body = fetch(page, dash.url("/admins"), taken)
    assert 400 <= status < 500, (status, body[:300])
    status, body = fetch(page, dash.url(f"/admins/{app_admin.id}/delete"), {"csrf_token": token})
    assert 400 <= status < 500, (status, body[:300])
    dash.goto("/admins")
    expect(dash.row(app_admin.email)).to_have_count(1)


# --- a tenant: settings, policy overrides, delete -------------------------------------------------


def test_tenant_page_edits_settings_and_a_policy_override(admin_dash: Dashboard, world: World) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    name = rand("edit")
    tenant_id = dash.create_tenant(name, "Before Rename")
    dash.row(name).get_by_role("link", name="Before Rename", exact=True).click()
    page.wait_for_url(dash.url(f"/tenants/{tenant_id}"))
    expect(page.get_by_role("heading", name="Before Rename", exact=True)).to_be_visible()
    form = page.locator("#tenant-settings-form")
    assert_form_accessible(page, form, form.get_by_label("Display name"))
    form.get_by_label("Display name").fill("After Rename")
    form.get_by_label(re.compile("^Logo URL")).fill("https://cdn.example.com/logo.png")
    form.get_by_label("Self sign-up enabled").check()
    page.get_by_role("button", name="Save settings").click()
    dash.notice("Tenant saved.")
    expect(page.get_by_role("heading", name="After Rename", exact=True)).to_be_visible()
    dash.shoot("tenant")
    doc = server.call("GET", f"/tenants/{tenant_id}", 200)
    assert (doc["displayName"], doc["logoUrl"], doc["signupEnabled"]) == (
        "After Rename",
        "https://cdn.example.com/logo.png",
        True,
    )

    # Password policy override: blank inherits, a value is in force for this tenant only.
    field = page.get_by_label("Minimum password length (6-128)")
    expect(field).to_have_value("")
    field.fill("14")
    page.get_by_role("button", name="Save password policy").click()
    dash.notice("Policy saved.")
    expect(page.get_by_label("Minimum password length (6-128)")).to_have_value("14")
    expect(page.locator("#password-minLength-hint")).to_contain_text("In force: 14")
    resolved = server.call("POST", f"/tenants/{tenant_id}/password-policies/resolve-overrides", 200)
    assert resolved["minLength"] == 14

    page.get_by_label("Minimum password length (6-128)").fill("3")
    page.get_by_role("button", name="Save password policy").click()
    expect(page.get_by_role("alert")).to_contain_text("Password")
    resolved = server.call("POST", f"/tenants/{tenant_id}/password-policies/resolve-overrides", 200)
    assert resolved["minLength"] == 14  # nothing changed

    page.get_by_label("Display name").fill("")
    page.get_by_label("Display name").evaluate("e => e.removeAttribute('required')")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert server.call("GET", f"/tenants/{tenant_id}", 200)["displayName"] == "After Rename"

    # Overrides that cannot work are refused with a message (4xx), and nothing is stored.
    for slug, label, value in (
        ("user-schema", re.compile("^Required profile fields"), "shoeSize"),
        ("signup", re.compile("^Redirect after signup"), "http://insecure.example.com/welcome"),
        ("email", re.compile("^Invitation link target"), "javascript:alert(1)"),
    ):
        dash.goto(f"/tenants/{tenant_id}")
        form = page.locator(f"#policy-{slug}-form")
        form.get_by_label(label).fill(value)
        form.get_by_role("button", name=re.compile("^Save")).click()
        expect(page.get_by_role("alert")).to_be_visible()
        form = page.locator(f"#policy-{slug}-form")
        expect(form.get_by_label(label)).not_to_have_value(value)  # the stored value is shown again

    # A required field in the tenant's user schema is required by Add user.
    dash.goto(f"/tenants/{tenant_id}")
    page.locator("#policy-user-schema-form").get_by_label(re.compile("^Required profile fields")).fill("familyName")
    page.get_by_role("button", name="Save user schema policy").click()
    dash.notice("Policy saved.")
    dash.goto(f"/users/new?tenant={tenant_id}")
    family = page.get_by_label(re.compile("^Family name"))
    expect(family).to_have_attribute("required", "")
    expect(page.locator("label[for=familyName]")).to_contain_text("required by the tenant's user schema")
    email = person("rita.required")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Send an invitation email").uncheck()
    family.evaluate("e => e.removeAttribute('required')")  # past the browser's own check
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_contain_text("familyName")
    assert server.query("SELECT count(*) FROM users WHERE email = ?", email) == [(0,)]
    page.get_by_label(re.compile("^Family name")).fill("Required")
    page.get_by_role("button", name="Add user").click()
    dash.notice("User created.")

    # A domain name that is taken is refused on the Tenants page.
    dash.goto("/tenants")
    page.get_by_label("Domain name").fill(name)
    page.get_by_label("Display name").fill("Copycat")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Domain name")).to_have_value(name)


def test_tenant_delete_asks_for_the_domain_name_then_shows_delete_in_progress(
    admin_dash: Dashboard, world: World
) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    name = rand("gone")
    tenant_id = dash.create_tenant(name, "Doomed Ltd")
    server.create_user(tenant_id, rand_email())
    dash.goto(f"/tenants/{tenant_id}")
    page.get_by_role("link", name="Delete tenant…").click()
    expect(page.get_by_role("heading", name="Delete Doomed Ltd?")).to_be_visible()
    confirm = page.get_by_label(re.compile("^Type the tenant's domain name"))
    assert_form_accessible(page, page.locator("#tenant-delete-form"), confirm)
    confirm.fill("not-the-name")
    page.get_by_role("button", name="Delete tenant").click()
    expect(page.get_by_role("alert")).to_have_text("Type the tenant's domain name to confirm.")
    assert server.call("GET", f"/tenants/{tenant_id}", 200)["status"] == "ACTIVE"

    page.get_by_label(re.compile("^Type the tenant's domain name")).fill(name)
    page.get_by_role("button", name="Delete tenant").click()
    dash.notice("The tenant is being deleted.")
    row = dash.row(name)
    if row.count():  # until purged, the list says so
        expect(row).to_contain_text("DELETE_IN_PROGRESS")
    status, _ = fetch(page, dash.url(f"/tenants/{tenant_id}"))
    if status == 200:
        dash.goto(f"/tenants/{tenant_id}")
        expect(page.locator("#tenant-status")).to_have_text("DELETE_IN_PROGRESS")
        expect(page.locator("#tenant-settings-form")).to_have_count(0)
    else:
        assert status == 404
    response = server.api.get(f"/tenants/{tenant_id}")
    assert response.status_code == 404 or response.json()["status"] == "DELETE_IN_PROGRESS"


def test_tenant_admin_edits_their_tenant_but_not_another(dash: Dashboard, world: World) -> None:
    dash, page, server = dash, dash.page, world.server
    mine = server.create_tenant(rand("mine"), display="Own Place")
    other = server.create_tenant(rand("other"), display="Elsewhere")
    dash.sign_in(create_dashboard_admin(server, mine["id"]))
    page.get_by_role("link", name="Tenant", exact=True).click()
    page.wait_for_url(dash.url(f"/tenants/{mine['id']}"))
    page.get_by_label("Display name").fill("Own Place, renamed")
    page.get_by_role("button", name="Save settings").click()
    dash.notice("Tenant saved.")
    expect(page.get_by_role("link", name="Delete tenant…")).to_have_count(0)
    assert server.call("GET", f"/tenants/{mine['id']}", 200)["displayName"] == "Own Place, renamed"

    for path in (
        f"/tenants/{other['id']}",
        f"/tenants/{mine['id']}/delete",
        "/clients",
        "/keys",
        "/policies",
        "/outbox",
        "/admins",
    ):
        dash.not_found(path)
    dash.goto("/users")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    form = {"csrf_token": token, "displayName": "Hijacked", "logoUrl": "", "signupEnabled": "on"}
    status, _ = fetch(page, dash.url(f"/tenants/{other['id']}/settings"), form)
    assert status == 404
    status, _ = fetch(
        page, dash.url(f"/tenants/{other['id']}/policies/password"), {"csrf_token": token, "minLength": "99"}
    )
    assert status == 404
    status, _ = fetch(
        page, dash.url(f"/tenants/{mine['id']}/delete"), {"csrf_token": token, "confirm": mine["domainName"]}
    )
    assert status == 404
    assert server.call("GET", f"/tenants/{other['id']}", 200)["displayName"] == "Elsewhere"
    assert server.call("GET", f"/tenants/{mine['id']}", 200)["status"] == "ACTIVE"


# --- identity providers ---------------------------------------------------------------------------


def test_identity_providers_page_adds_tests_toggles_and_deletes_an_oidc_provider(
    admin_dash: Dashboard, world: World, context: BrowserContext
) -> None:
    """The provider's issuer is this very server (an OIDC provider itself), so "Test connection"
    really runs discovery and fetches the JWKS."""
    dash, page, server = admin_dash, admin_dash.page, world.server
    tenant = server.create_tenant(rand("sso"), display="Federated Co")
    name = rand("corp-sso-")
    dash.goto("/identity-providers")
    expect(page.get_by_role("heading", name="Identity providers", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Built-in sign-in")
    page.get_by_label("Show the providers of").select_option(tenant["id"])
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Identity providers · Federated Co")).to_be_visible()
    page.get_by_role("link", name="Add OpenID Connect provider").click()
    expect(page.get_by_role("heading", name="New OpenID Connect provider")).to_be_visible()

    form = page.locator("#idp-form")
    assert_form_accessible(page, form, form.get_by_label("Type"))
    form.get_by_label("Type").select_option("OIDC")
    form.get_by_label(re.compile("^Name")).fill(name)
    form.get_by_label(re.compile("^Display name")).fill("Corporate SSO")
    form.get_by_label(re.compile("Just-in-time provisioning")).check()
    form.get_by_label(re.compile("^Email domains")).fill(f"{name}.example.com")
    form.get_by_label(re.compile("^Issuer")).fill(server.base_url)
    form.get_by_label("Client ID").fill("tenantry-dashboard-test")
    form.get_by_label(re.compile("^Client secret")).fill("a client secret of some length 12345")
    form.get_by_label(re.compile("^Scopes")).fill("openid email profile")
    page.get_by_role("button", name="Create provider").click()
    dash.notice("Identity provider created.")
    expect(page.get_by_role("heading", name=re.compile("^Corporate SSO"))).to_be_visible()
    redirect_url = page.locator("#url-redirect").inner_text().strip()
    assert redirect_url.startswith("https://"), redirect_url
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    page.locator("button.copy[data-copy=url-redirect]").click()
    assert page.evaluate("navigator.clipboard.readText()") == redirect_url
    dash.shoot("identity-provider")

    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#idp-test-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("Connection works.")

    # Edit: the display name changes; the secret field comes back blank (it is never shown).
    form = page.locator("#idp-form")
    assert_form_accessible(page, form, form.get_by_label(re.compile("^Display name")))
    expect(form.get_by_label(re.compile("^Client secret"))).to_have_value("")
    form.get_by_label(re.compile("^Display name")).fill("Corporate SSO (EU)")
    page.get_by_role("button", name="Save changes").click()
    dash.notice("Changes saved.")
    expect(page.get_by_role("heading", name=re.compile("^Corporate SSO \\(EU\\)"))).to_be_visible()
    page.get_by_role("button", name="Test connection").click()  # the saved provider still connects
    expect(page.locator("#idp-test-result")).to_contain_text("Connection works.")

    dash.goto(f"/identity-providers?tenant={tenant['id']}")
    expect(dash.row(name)).to_contain_text("Corporate SSO (EU)")
    expect(page.locator("#idp-toggle-status")).to_have_text("off")
    page.get_by_role("button", name="Turn on").click()
    dash.notice("Override setting saved.")
    expect(page.locator("#idp-toggle-status")).to_have_text("on")

    dash.row(name).get_by_role("link", name=name).click()
    page.get_by_role("link", name="Delete provider…").click()
    confirm = page.get_by_label(re.compile("^Type the provider's name"))
    confirm.fill("wrong-name")
    page.get_by_role("button", name="Delete provider").click()
    expect(page.get_by_role("alert")).to_have_text("Type the provider's name to confirm.")
    page.get_by_label(re.compile("^Type the provider's name")).fill(name)
    page.get_by_role("button", name="Delete provider").click()
    dash.notice("Identity provider deleted.")
    expect(dash.row(name)).to_have_count(0)


# --- clients, signing keys, application policies --------------------------------------------------


def test_clients_page_creates_a_client_whose_secret_is_shown_once_then_deletes_it(
    admin_dash: Dashboard, world: World
) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    name = f"Reporting job {rand('')}"
    dash.goto("/clients")
    form = page.locator("#client-form")
    assert_form_accessible(page, form, form.get_by_label("Name"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Type").select_option("MACHINE_TO_MACHINE")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", name=f"Client {name} created")).to_be_visible()
    client_id = page.locator("#client-id").inner_text().strip()
    secret = page.locator("#client-secret").inner_text().strip()
    assert client_id and len(secret) >= 20
    dash.shoot("client-created")
    answer = token_for(server, client_id, secret)
    assert answer.status_code == 200, answer.text  # the secret shown is the real one

    dash.goto("/clients")
    expect(dash.row(name)).to_contain_text(client_id)
    assert secret not in page.content()  # shown once
    dash.shoot("clients")
    dash.row(name).get_by_role("button", name=f"Delete client {name}").click()
    dash.notice("Client deleted.")
    expect(dash.row(name)).to_have_count(0)
    assert token_for(server, client_id, secret).status_code == 401

    form = page.locator("#client-form")
    form.get_by_label("Name").fill("Bad redirect")
    form.get_by_label("Type").select_option("BACKEND_SERVER")
    form.get_by_label(re.compile("^Redirect URIs")).fill("ftp://nowhere.example.com/callback")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(form.get_by_label("Name")).to_have_value("Bad redirect")


def test_signing_keys_page_rotates_the_key_and_the_jwks_publishes_it(admin_dash: Dashboard, world: World) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    dash.goto("/keys")
    expect(page.get_by_role("heading", name="Signing keys")).to_be_visible()
    before = set(page.locator("tbody code").all_inner_texts())
    tab_button = page.get_by_role("button", name="Rotate signing key")
    assert_form_accessible(page, page.locator("main form"), tab_button)
    page.keyboard.press("Enter")  # the focused button, by keyboard
    dash.notice("A new signing key is now in use.")
    after = page.locator("tbody code").all_inner_texts()
    (new_kid,) = set(after) - before
    expect(dash.row(new_kid)).to_contain_text("active")
    dash.shoot("keys")
    verify = ssl.create_default_context(cafile=str(server.ca))
    jwks = httpx.get(f"{server.base_url}/api/v1/oauth2/jwks", verify=verify, timeout=30).json()
    kids = {k["kid"] for k in jwks["keys"]}
    assert new_kid in kids and before <= kids, (new_kid, before, kids)


def test_application_policies_page_saves_and_clears_a_policy(admin_dash: Dashboard, world: World) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    path = f"/applications/{server.application_id}/email-policies"
    dash.goto("/policies")
    expect(page.get_by_role("heading", name="Application policies")).to_be_visible()
    form = page.locator("#policy-email-form")
    field = form.get_by_label("Invitation lifetime, minutes")
    assert_form_accessible(page, form, form.get_by_label("Activation link lifetime, minutes"))
    dash.shoot("policies")
    original = server.call("GET", path, 200)
    restored = False
    try:
        field.fill("4320")
        page.get_by_role("button", name="Save email and invitation links policy").click()
        dash.notice("Policy saved.")
        expect(page.locator("#email-invitationMinutes-hint")).to_contain_text("In force: 4320")
        assert server.call("GET", path, 200)["invitationMinutes"] == 4320

        page.get_by_label("Invitation lifetime, minutes").evaluate("e => e.type = 'text'")
        page.get_by_label("Invitation lifetime, minutes").fill("twelve")
        page.get_by_role("button", name="Save email and invitation links policy").click()
        expect(page.get_by_role("alert")).to_contain_text("invitationMinutes")
        assert server.call("GET", path, 200)["invitationMinutes"] == 4320

        page.get_by_label("Invitation lifetime, minutes").fill("")
        page.get_by_role("button", name="Save email and invitation links policy").click()
        dash.notice("Policy saved.")
        assert server.call("GET", path, 200)["invitationMinutes"] == original["invitationMinutes"]
        restored = True
    finally:
        if not restored:  # the application's policy is every test's: never leave it changed
            server.call("PUT", path, 200, json={"invitationMinutes": None})


# --- email outbox ---------------------------------------------------------------------------------


def test_outbox_shows_a_failing_email_with_its_error_and_retry_now_sends_it(
    admin_dash: Dashboard, world: World
) -> None:
    """With SMTP down, the invitation's email fails attempt after attempt (the retry delay
    doubles from 0.2 s: after the 6th attempt the next is 6.4 s away). "Retry now" sends it at
    once when SMTP is back, long before that."""
    dash, page, server = admin_dash, admin_dash.page, world.server
    tenant = server.create_tenant(rand("mail"), display="Outbox Co")
    email = person("otto.outbox")
    world.smtp.stop()
    try:
        body = {"tenantId": tenant["id"], "invitationType": "EMAIL", "email": email, "rolesToAssign": []}
        server.call("POST", "/new-user-invitation/invite-user", 200, json=body)
        dash.goto("/outbox")
        expect(page.get_by_role("heading", name="Email outbox")).to_be_visible()
        filters = page.locator("main form[role=search]")
        assert_form_accessible(page, filters, filters.get_by_label("Recipient starts with"))
        filters.get_by_label("Recipient starts with").fill(email)
        filters.get_by_label("With an error").check()
        dash.settle()
        filters.get_by_label(re.compile("attempts", re.IGNORECASE)).fill("6")
        filters.get_by_role("button", name="Apply").click()
        dash.wait_for_query(q=email, error="on", attempts="6")
        deadline = time.monotonic() + 20
        while not dash.row(email).count():
            assert time.monotonic() < deadline, "the email did not reach 6 failed attempts"
            time.sleep(0.25)
            filters.get_by_role("button", name="Apply").click()
            dash.settle()
        row = dash.row(email)
        expect(row).to_contain_text("PENDING")
        assert row.locator("td").nth(5).inner_text().strip(), "no error shown"
        dash.shoot("outbox")
    finally:
        world.smtp.start()
    row.get_by_role("button", name=re.compile("^Retry now")).click()
    expect(page.get_by_role("status").filter(has_text=re.compile("Queued|sent again"))).to_be_visible()
    (message,) = world.mailbox.wait_for(email, seconds=3)
    assert "invit" in str(message["Subject"]).lower()
    dash.goto(f"/outbox?q={email}&status=SENT")
    expect(dash.row(email)).to_contain_text("SENT")
    expect(dash.row(email).get_by_role("button", name=re.compile("^Retry now"))).to_have_count(0)
    row_id = dash.row(email).get_attribute("id") or ""
    assert row_id.startswith("message-"), row_id
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    status, _ = fetch(page, dash.url(f"/outbox/{row_id.removeprefix('message-')}/retry"), {"csrf_token": token})
    assert status == 404  # a sent message is not sent again
    events = server.call("GET", "/audit-events", 200, params={"query": 'action eq "email.retry_requested"'})
    assert events["totalResults"] >= 1


# --- audit log ------------------------------------------------------------------------------------


def test_audit_log_lists_dashboard_actions_with_filters(
    admin_dash: Dashboard, world: World, app_admin: DashboardAdmin
) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    name = rand("audit")
    tenant_id = dash.create_tenant(name, "Audited Inc")
    email = person("audrey.audit")
    user = server.create_user(tenant_id, email)
    dash.goto(f"/users/{user['id']}")
    page.get_by_role("button", name="Deactivate").click()
    dash.notice("Changes saved.")

    dash.goto("/audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    filters = page.locator("main form[role=search]")
    assert_form_accessible(page, filters, filters.get_by_label("Tenant"))
    filters.get_by_label("Tenant").select_option(tenant_id)
    dash.settle()
    filters.get_by_role("button", name="Apply").click()
    dash.wait_for_query(tenant=tenant_id)
    table = page.locator("#results-panel")
    expect(table.get_by_role("row").filter(has_text="user.updated")).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text="user.created")).to_have_count(1)
    updated = table.get_by_role("row").filter(has_text="user.updated")
    expect(updated).to_contain_text(app_admin.id)  # who
    expect(updated).to_contain_text(user["id"])  # what
    dash.shoot("audit", phone=True)

    filters.get_by_label("Action starts with").fill("user.upd")
    filters.get_by_role("button", name="Apply").click()
    dash.wait_for_query(tenant=tenant_id, action="user.upd")
    expect(table.get_by_role("heading", name="1 event", exact=True)).to_be_visible()

    filters.get_by_label("Action starts with").fill("")
    filters.get_by_label("Actor ID").fill(app_admin.id)
    filters.get_by_label("Target ID").fill(user["id"])
    filters.get_by_role("button", name="Apply").click()
    dash.wait_for_query(tenant=tenant_id, actor=app_admin.id, target=user["id"])
    expect(table.get_by_role("row").filter(has_text="user.updated")).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text="user.created")).to_have_count(0)  # by the API client

    status, body = fetch(page, dash.url("/audit?from=2026-13-45"))
    assert status == 400 and "From: use a date such as" in body, (status, body[:300])

    listing = server.call("GET", "/audit-events", 200, params={"query": f'tenantId eq "{tenant_id}"'})
    assert {"user.created", "user.updated"} <= {e["action"] for e in listing["items"]}, listing


def test_audit_log_of_a_tenant_admin_holds_only_their_tenant(dash: Dashboard, world: World) -> None:
    dash, page, server = dash, dash.page, world.server
    mine = server.create_tenant(rand("mine"), display="Audit Mine")
    other = server.create_tenant(rand("other"), display="Audit Other")
    mine_user = server.create_user(mine["id"], rand_email())
    other_user = server.create_user(other["id"], rand_email())
    dash.sign_in(create_dashboard_admin(server, mine["id"]))
    dash.goto(f"/audit?tenant={other['id']}")
    expect(page.get_by_label("Tenant", exact=True)).to_have_count(0)
    expect(page.locator("#results-panel")).to_contain_text(mine_user["id"])
    expect(page.locator("#results-panel")).not_to_contain_text(other_user["id"])
    dash.goto(f"/audit?target={other_user['id']}")
    expect(page.get_by_role("heading", name="0 events")).to_be_visible()


# --- the user page's other actions ----------------------------------------------------------------


def test_user_page_profile_roles_verification_sessions_history_and_delete(admin_dash: Dashboard, world: World) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    tenant = server.create_tenant(rand("userpg"), display="User Page Co")
    email = person("uma.user")
    body = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email, "status": "PROVISIONED"}
    user = server.call("POST", "/users", 201, json=body)
    dash.goto(f"/users/{user['id']}")
    profile = page.locator("form[action$='/profile']")
    assert_form_accessible(page, profile, profile.get_by_label("Given name"))
    profile.get_by_label("Given name").fill("Uma")
    profile.get_by_label("Family name").fill("Thurman")
    page.get_by_role("button", name="Save profile").click()
    dash.notice("Changes saved.")
    doc = server.call("GET", f"/users/{user['id']}", 200)
    assert (doc["givenName"], doc["familyName"]) == ("Uma", "Thurman")

    roles = page.locator("form[action$='/roles']")
    roles.get_by_label("Tenant Admin").check()
    page.get_by_role("button", name="Save roles").click()
    dash.notice("Changes saved.")
    expect(page.locator("form[action$='/roles']").get_by_label("Tenant Admin")).to_be_checked()
    assigned = server.call("GET", f"/users/{user['id']}/roles", 200)
    assert any(r["name"].endswith("tenant-admin") for r in assigned["items"]), assigned

    page.get_by_role("button", name="Mark email verified").click()
    dash.notice("Changes saved.")
    expect(page.locator("main")).to_contain_text("Email verified")
    assert server.call("GET", f"/users/{user['id']}", 200)["emailVerified"] is True

    page.get_by_role("button", name="Send invitation").click()
    dash.notice("Invitation email sent.")
    world.mailbox.wait_for(email)
    history = page.locator("section[aria-labelledby=invitations-h]")
    expect(history.get_by_role("row").filter(has_text="EXISTING_USER")).to_contain_text("PENDING_INVITE_ACCEPTANCE")
    audit = page.locator("section[aria-labelledby=history-h]")
    expect(audit.get_by_role("row").filter(has_text="user.updated")).to_have_count(2)  # profile, verified
    expect(audit.get_by_role("row").filter(has_text="user.roles_")).to_have_count(1)
    expect(audit.get_by_role("row").filter(has_text="user.created")).to_have_count(1)

    page.get_by_role("button", name="Revoke sessions and refresh tokens").click()
    dash.notice("Sessions and refresh tokens revoked.")
    dash.shoot("user-actions")

    page.get_by_role("link", name="Delete user…").click()
    confirm = page.get_by_label("Type the user's email to confirm")
    assert_form_accessible(page, page.locator("main form"), confirm)
    confirm.fill("someone-else@example.com")
    page.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.get_by_role("alert")).to_have_text("Type the user's email to confirm.")
    page.get_by_label("Type the user's email to confirm").fill(email)
    page.get_by_role("button", name=re.compile("^Delete")).click()
    dash.notice("User deleted.")
    server.call("GET", f"/users/{user['id']}", 404)
    dash.not_found(f"/users/{user['id']}")


def test_every_page_renders_on_a_phone_without_sideways_scrolling(admin_dash: Dashboard, world: World) -> None:
    dash, page, server = admin_dash, admin_dash.page, world.server
    tenant = server.create_tenant(rand("phone"), display="Pocket Ltd")
    user = server.create_user(tenant["id"], person("phoebe.phone"))
    page.set_viewport_size({"width": 390, "height": 844})
    paths = [
        "/users",
        "/users/new",
        f"/users/{user['id']}",
        f"/users/{user['id']}/delete",
        "/invitations",
        "/invitations/new",
        "/tenants",
        f"/tenants/{tenant['id']}",
        f"/tenants/{tenant['id']}/delete",
        "/identity-providers",
        f"/identity-providers?tenant={tenant['id']}",
        "/identity-providers/new?kind=oidc",
        "/identity-providers/new?kind=saml",
        "/clients",
        "/keys",
        "/policies",
        "/outbox",
        "/admins",
        "/audit",
        "/account",
    ]
    for path in paths:
        dash.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        names = page.locator("header nav a").all_inner_texts()
        assert "Users" in names and "Audit log" in names, names
        assert unlabelled_fields(page.locator("main")) == [], path


def pages_in_the_nav(page: Page) -> list[str]:
    hrefs = page.locator("header nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return [str(h) for h in hrefs]


def test_every_page_in_the_navigation_answers(admin_dash: Dashboard) -> None:
    """No link of the navigation leads to a missing page or an error."""
    dash, page = admin_dash, admin_dash.page
    dash.goto("/users")
    for href in pages_in_the_nav(page):
        status, body = fetch(page, href)
        assert status == 200, f"{href}: HTTP {status}: {body[:300]}"
        dash.page.goto(f"{dash.server.base_url}{href}")
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator(f"header nav a[href='{href}']")).to_have_attribute("aria-current", "page")
