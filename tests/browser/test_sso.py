"""Enterprise SSO in a real browser (issue 6): Debian's Chromium goes from the example app (the
unmodified Wristband SDK) through ``tenantry serve`` to real identity providers from npm —
``oidc-provider`` (OIDC) and ``saml-idp`` (SAML 2.0) — and back.

Providers are configured through ``POST /api/v1/identity-providers``, and the IdPs are given the
redirect URI / SP entity id / ACS URL the API shows, as a tenant's IT admin would.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import BROWSER_MARKS, Server, World, me, rand, screenshot
from tests.browser.test_invitations import invite_new_user, link_with_prefix
from tests.browser.test_login import open_tenant_login_through_app
from tests.sso_support import SESSION_COOKIE, OidcIdp, SamlIdp, new_saml_idp

pytestmark = BROWSER_MARKS


def add_provider(server: Server, tenant_id: str, protocol: dict[str, Any], **fields: Any) -> dict[str, Any]:
    role_mappings = fields.pop("role_mappings", [])
    body = {
        "ownerType": "TENANT",
        "ownerId": tenant_id,
        "type": protocol["type"],
        "name": rand("idp"),
        "displayName": fields.pop("display_name", "Acme Okta"),
        "status": "ENABLED",
        "jitProvisioningEnabled": fields.pop("jit", True),
        "protocol": protocol,
        "emailDomains": fields.pop("email_domains", []),
        "roleMappings": [{"group": group, "roleIds": ids} for group, ids in role_mappings],
        **fields,
    }
    doc: dict[str, Any] = server.call("POST", "/identity-providers?upsert=true", 201, json=body)
    return doc


def create_role(server: Server, tenant_id: str) -> dict[str, Any]:
    body = {"name": rand("role"), "displayName": "Mapped role", "permissions": []}
    doc: dict[str, Any] = server.call("POST", f"/tenants/{tenant_id}/roles", 201, json=body)
    return doc


def connect_oidc(server: Server, idp: OidcIdp, tenant_id: str, **fields: Any) -> dict[str, Any]:
    client = idp.register_client()
    doc = add_provider(server, tenant_id, idp.protocol(client), **fields)
    idp.set_redirect_uris(client, [doc["protocol"]["redirectUrl"]])
    return doc


def userinfo(server: Server, access_token: str) -> dict[str, Any]:
    """What the app's access token says about the user (roles included)."""
    verify = ssl.create_default_context(cafile=str(server.ca))
    answer = httpx.get(
        f"{server.base_url}/api/v1/oauth2/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
        verify=verify,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    return doc


def sso_users(server: Server, tenant_id: str, provider: dict[str, Any]) -> list[dict[str, Any]]:
    listing = server.call("GET", f"/tenants/{tenant_id}/users", 200, params={"count": 100})
    return [u for u in listing["items"] if u["identityProviderName"] == provider["name"]]


def at_oidc_provider(page: Page, idp: OidcIdp, account: str) -> None:
    """oidc-provider's own login and consent pages."""
    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/interaction/.+"))
    page.fill("input[name=login]", account)
    page.fill("input[name=password]", "anything: the dev pages check none")
    page.click("button[type=submit]")
    page.click("button:has-text('Continue')")


def landed(page: Page, world: World, tenant: str) -> dict[str, Any]:
    try:
        page.wait_for_url(f"{world.app.base_url}/me")
    except PlaywrightTimeoutError:
        shown = page.locator("h1").all_inner_texts()
        pytest.fail(f"the browser did not land in the example app: it is at {page.url}, showing {shown}")
    session = me(page)
    assert session["tenantName"] == tenant
    return session


def mapped_role_ids(server: Server, session: dict[str, Any]) -> set[str]:
    return {r["id"] for r in userinfo(server, session["accessToken"])["roles"]}


@pytest.fixture
def saml_idps(tmp_path: Path) -> Iterator[list[SamlIdp]]:
    started: list[SamlIdp] = []
    yield started
    for idp in started:
        idp.stop()


def test_oidc_first_login_creates_the_user_and_a_second_login_resyncs_it(
    page: Page, world: World, oidc_idp: OidcIdp
) -> None:
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="Okta Shop")
    engineers, admins = create_role(server, tenant_doc["id"]), create_role(server, tenant_doc["id"])
    provider = connect_oidc(
        server,
        oidc_idp,
        tenant_doc["id"],
        role_mappings=[("engineering", [engineers["id"]]), ("admins", [admins["id"]])],
    )
    account = rand("okta-user-")
    oidc_idp.set_user(
        account,
        email=f"{account}@okta-shop.example",
        email_verified=True,
        given_name="Grace",
        family_name="Hopper",
        groups=["engineering"],
    )

    open_tenant_login_through_app(page, world, tenant)
    screenshot(page, "sso-login-choices")
    page.click(f"#sso-{provider['name']}")
    at_oidc_provider(page, oidc_idp, account)
    session = landed(page, world, tenant)
    assert session["identityProviderName"] == provider["name"]
    [user] = sso_users(server, tenant_doc["id"], provider)
    assert user["id"] == session["userId"] and user["externalId"] == account and user["status"] == "ACTIVE"
    assert (user["givenName"], user["familyName"]) == ("Grace", "Hopper")
    roles = mapped_role_ids(server, session)
    assert engineers["id"] in roles and admins["id"] not in roles

    # The IdP's admin renames the user and moves them from engineering to admins.
    oidc_idp.set_user(
        account,
        email=f"{account}@okta-shop.example",
        email_verified=True,
        given_name="Amazing",
        family_name="Grace",
        groups=["admins"],
    )
    page.context.clear_cookies()
    open_tenant_login_through_app(page, world, tenant)
    page.click(f"#sso-{provider['name']}")
    at_oidc_provider(page, oidc_idp, account)
    again = landed(page, world, tenant)
    assert again["userId"] == session["userId"]
    [after] = sso_users(server, tenant_doc["id"], provider)
    assert (after["givenName"], after["familyName"]) == ("Amazing", "Grace")
    roles = mapped_role_ids(server, again)
    assert admins["id"] in roles and engineers["id"] not in roles


def test_saml_login_through_saml_idp(page: Page, world: World, tmp_path: Path, saml_idps: list[SamlIdp]) -> None:
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="SAML Works")
    staff = create_role(server, tenant_doc["id"])
    idp = new_saml_idp(tmp_path / "saml")
    provider = add_provider(
        server, tenant_doc["id"], idp.protocol(), display_name="Acme SAML", role_mappings=[("staff", [staff["id"]])]
    )
    saml_idps.append(idp)
    idp.start(provider["protocol"]["spEntityId"], provider["protocol"]["acsUrl"])

    email = f"{rand('saml')}@saml-works.example"
    open_tenant_login_through_app(page, world, tenant)
    page.click(f"#sso-{provider['name']}")
    page.wait_for_url(re.compile(re.escape(idp.sso_url) + r"\?SAMLRequest=.+"))
    page.fill("#userName", email)
    page.fill("#email", email)
    page.fill("#firstName", "Ada")
    page.fill("#lastName", "Lovelace")
    # groups is a tags widget over a hidden input: set the submitted value itself.
    page.evaluate("document.getElementById('groups').value = 'staff,people'")
    screenshot(page, "sso-saml-idp")
    page.click("#btn-sign-in")  # saml-idp answers with a form that POSTs the Response to our ACS
    session = landed(page, world, tenant)
    assert session["identityProviderName"] == provider["name"]
    [user] = sso_users(server, tenant_doc["id"], provider)
    assert (user["externalId"], user["email"], user["givenName"], user["familyName"]) == (
        email,
        email,
        "Ada",
        "Lovelace",
    )
    assert staff["id"] in mapped_role_ids(server, session)


def test_jit_off_shows_the_refusal_page_and_creates_nothing(page: Page, world: World, oidc_idp: OidcIdp) -> None:
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="Closed Shop")
    provider = connect_oidc(server, oidc_idp, tenant_doc["id"], jit=False)
    account = rand("stranger-")
    oidc_idp.set_user(account, email=f"{account}@closed.example", email_verified=True, groups=[])

    open_tenant_login_through_app(page, world, tenant)
    page.click(f"#sso-{provider['name']}")
    at_oidc_provider(page, oidc_idp, account)
    expect(page.get_by_role("heading", name="No account for you here")).to_be_visible()
    screenshot(page, "sso-no-account")
    assert sso_users(server, tenant_doc["id"], provider) == []
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def test_home_realm_discovery_by_email_domain(page: Page, world: World, oidc_idp: OidcIdp) -> None:
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="Realm Corp")
    domain = f"{rand('realm')}.example"
    provider = connect_oidc(server, oidc_idp, tenant_doc["id"], email_domains=[domain])
    account = rand("realm-user-")
    oidc_idp.set_user(account, email=f"kim@{domain}", email_verified=True, given_name="Kim", groups=[])

    open_tenant_login_through_app(page, world, tenant)
    page.fill("#sso-email", "kim@elsewhere.example")
    page.click("#sso-email-submit")
    expect(page.locator("#sso-error")).to_be_visible()
    page.fill("#sso-email", f"kim@{domain}")
    page.click("#sso-email-submit")
    at_oidc_provider(page, oidc_idp, account)
    session = landed(page, world, tenant)
    [user] = sso_users(server, tenant_doc["id"], provider)
    assert user["id"] == session["userId"] and user["email"] == f"kim@{domain}"


def test_idp_hint_goes_straight_to_the_idp(page: Page, world: World, oidc_idp: OidcIdp) -> None:
    """The app's authorize request names the IdP: no Tenantry login page on the way."""
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="Hinted")
    provider = connect_oidc(server, oidc_idp, tenant_doc["id"])
    account = rand("hinted-")
    oidc_idp.set_user(account, email=f"{account}@hinted.example", email_verified=True, groups=[])
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))

    page.goto(f"{world.app.base_url}/auth/login?tenant_name={tenant}")
    page.wait_for_url(re.compile(re.escape(server.tenant_url(tenant, "/login?req=")) + ".+"))
    authorize = next(u for u in seen if "/api/v1/oauth2/authorize?" in u)
    page.goto(f"{authorize}&idp_hint={provider['name']}")
    at_oidc_provider(page, oidc_idp, account)
    landed(page, world, tenant)
    assert len(sso_users(server, tenant_doc["id"], provider)) == 1


def test_an_invitation_is_accepted_through_the_idp(page: Page, world: World, oidc_idp: OidcIdp) -> None:
    server, tenant = world.server, world.tenant_name()
    tenant_doc = server.create_tenant(tenant, display="Invited Inc")
    invited_role = create_role(server, tenant_doc["id"])
    provider = connect_oidc(server, oidc_idp, tenant_doc["id"], display_name="Invited Okta")
    email = f"{rand('invitee')}@invited.example"
    doc = invite_new_user(server, tenant_doc["id"], email, roles=[invited_role["id"]])
    account = rand("invitee-")
    oidc_idp.set_user(account, email=email, email_verified=True, given_name="Ivy", groups=[])

    (message,) = world.mailbox.wait_for(email)
    page.goto(link_with_prefix(message, server.tenant_url(tenant, "/accept-invite?code=")))
    expect(page.get_by_role("link", name="Accept with Invited Okta")).to_be_visible()
    screenshot(page, "sso-accept-invite")
    page.click(f"#sso-{provider['name']}")
    at_oidc_provider(page, oidc_idp, account)
    session = landed(page, world, tenant)
    [user] = sso_users(server, tenant_doc["id"], provider)
    assert user["id"] == session["userId"] and user["externalId"] == account and user["email"] == email
    assert invited_role["id"] in mapped_role_ids(server, session)
    invitation_id = doc["newUserInvitationRequest"]["id"]
    listing = server.call(
        "GET", f"/tenants/{tenant_doc['id']}/new-user-invitation-requests", 200, params={"count": 100}
    )
    assert [i["status"] for i in listing["items"] if i["id"] == invitation_id] == ["COMPLETED"]
