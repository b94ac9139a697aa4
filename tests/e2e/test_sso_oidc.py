"""Enterprise SSO through a real OpenID Provider (issue 6): panva's ``oidc-provider`` from npm
(tests/idp/oidc.mjs), which nobody here wrote, signs users in at its own login and consent pages.

Tenantry runs in a Starlette TestClient (the "tab", a cookie jar per test) on the tenant host;
the IdP's pages are driven with a plain httpx client, and redirects between the two are followed
by hand. Every refusal is checked to create no user and set no session cookie.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tenantry.core.sso.model import ExternalIdentity
from tenantry.core.sso.service import sign_in_external
from tests.e2e._helpers import create_role
from tests.e2e.oidc_helpers import (
    World,
    authorize_params,
    browser_for,
    callback_query,
    exchange,
    make_world,
    pkce,
)
from tests.e2e.test_invitations import code_of, invited
from tests.e2e.test_signup import last_email, link_in
from tests.sso_support import (
    BROWSER_COOKIE,
    SESSION_COOKIE,
    OidcIdp,
    add_provider,
    oidc_sign_in,
    role_skus,
    sets_session,
    tenant_users,
)
from tests.support import Api, rand


@dataclass
class Sso:
    """A tenant (with a password user and a web client) connected to oidc-provider."""

    api: Api
    world: World
    idp: OidcIdp
    provider: dict[str, Any]

    @property
    def tenant_id(self) -> str:
        tenant_id: str = self.world.tenant["id"]
        return tenant_id

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.world.tenant_url(path)

    def users(self) -> list[dict[str, Any]]:
        return tenant_users(self.api, self.tenant_id)

    def sso_users(self) -> list[dict[str, Any]]:
        return [u for u in self.users() if u["identityProviderName"] == self.provider["name"]]

    def start_path(self, **params: str) -> str:
        return f"/sso/{self.provider['id']}/start" + (f"?{urlencode(params)}" if params else "")

    def to_idp(self, tab: TestClient, path: str) -> str:
        """Open a Tenantry URL that sends the tab to the IdP; the IdP URL."""
        started = tab.get(self.url(path), follow_redirects=False)
        assert started.status_code == 302, started.text
        location: str = started.headers["location"]
        if location.startswith("/sso/"):
            return self.to_idp(tab, location)
        assert location.startswith(f"{self.idp.issuer}/auth?"), location
        return location

    def at_idp(self, idp_url: str, account: str) -> str:
        """``account`` signs in at the IdP (a fresh IdP session each time); the URL back."""
        with httpx.Client(timeout=10) as idp_browser:
            back = oidc_sign_in(idp_browser, idp_url, account)
        assert back.startswith(self.url(f"/sso/{self.provider['id']}/callback?")), back
        return back

    def sign_in(self, tab: TestClient, path: str, account: str) -> httpx.Response:
        """From ``path`` on Tenantry through the IdP and back: Tenantry's answer to the callback."""
        back = self.at_idp(self.to_idp(tab, path), account)
        answer: httpx.Response = tab.get(back, follow_redirects=False)
        return answer


def connect(
    api: Api,
    idp: OidcIdp,
    world: World | None = None,
    **provider: Any,
) -> Sso:
    world = world or make_world(api)
    client = idp.register_client()
    doc = add_provider(api, world.tenant["id"], protocol=idp.protocol(client), **provider)
    # What the tenant's admin copies into the IdP: the redirect URI the API shows.
    assert doc["protocol"]["redirectUrl"] == world.tenant_url(f"/sso/{doc['id']}/callback")
    idp.set_redirect_uris(client, [doc["protocol"]["redirectUrl"]])
    return Sso(api, world, idp, doc)


def new_account(idp: OidcIdp, email: str | None = None, groups: tuple[str, ...] = (), **claims: Any) -> str:
    account = rand("sub-")
    defaults = {"email_verified": True, "given_name": "Grace", "family_name": "Hopper"}
    idp.set_user(account, **{**defaults, "email": email or f"{account}@acme.example", "groups": list(groups), **claims})
    return account


def sso_link(page_html: str, provider_name: str) -> str:
    match = re.search(rf'id="sso-{re.escape(provider_name)}" href="([^"]+)"', page_html)
    assert match, page_html[:3000]
    return match.group(1).replace("&amp;", "&")


def signed_in(response: httpx.Response) -> bool:
    """Signed in: a session cookie, and on to the app (or a page saying there is none)."""
    return response.status_code in (200, 302, 303) and sets_session(response)


def assert_refused(sso: Sso, response: httpx.Response, status: int, title: str, users_before: int) -> None:
    assert response.status_code == status, response.text[:2000]
    assert title in response.text
    assert not sets_session(response)
    assert len(sso.users()) == users_before


@pytest.fixture
def tab(api: Api) -> Iterator[TestClient]:
    """A browser of its own (``browser`` would be pytest-playwright's fixture)."""
    with browser_for(api) as client:
        yield client


def tenant_roles(api: Api, tenant_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return create_role(api, tenant_id, []), create_role(api, tenant_id, [])


# --- first login, re-sync ----------------------------------------------------------------


def test_first_login_from_authorize_creates_the_user_and_the_code_carries_the_roles(
    api: Api, oidc_idp: OidcIdp, tab: TestClient
) -> None:
    world = make_world(api)
    engineers, admins = tenant_roles(api, world.tenant["id"])
    sso = connect(
        api,
        oidc_idp,
        world,
        role_mappings=[("engineering", [engineers["id"]]), ("admins", [admins["id"]])],
    )
    account = new_account(oidc_idp, groups=("engineering", "staff"))
    email = oidc_idp.users()[account]["email"]

    verifier, challenge = pkce()
    params = authorize_params(world, challenge)
    first = tab.get(world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False)
    assert first.status_code == 302 and first.headers["location"].startswith("/login?req=")
    login_page = tab.get(world.tenant_url(first.headers["location"]))
    assert login_page.status_code == 200 and f"Continue with {sso.provider['displayName']}" in login_page.text
    done = sso.sign_in(tab, sso_link(login_page.text, sso.provider["name"]), account)

    query = callback_query(done)
    assert done.headers["location"].startswith(world.redirect_uri) and query["state"] == params["state"]
    assert sets_session(done)
    [user] = sso.sso_users()
    assert user["status"] == "ACTIVE" and user["externalId"] == account
    assert user["email"] == email and user["emailVerified"] is True
    assert (user["givenName"], user["familyName"]) == ("Grace", "Hopper")
    assert user["identityProviderType"] == "OIDC"
    # The role-assignment policy's default role, plus the mapped group's role (not the unmapped one's).
    assert role_skus(api, user["id"]) == {"user", engineers["sku"]}

    tokens = exchange(world, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    userinfo = api.client.get(
        "/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    claims = userinfo.json()
    assert claims["sub"] == user["id"] and claims["email"] == email and claims["idp_name"] == sso.provider["name"]
    assigned = api.call("GET", f"/users/{user['id']}/roles").json()["items"]
    assert {r["id"] for r in claims["roles"]} == {r["id"] for r in assigned}
    assert engineers["id"] in {r["id"] for r in claims["roles"]}


def test_second_login_resyncs_attributes_and_group_roles(api: Api, oidc_idp: OidcIdp) -> None:
    world = make_world(api)
    engineers, admins = tenant_roles(api, world.tenant["id"])
    sso = connect(api, oidc_idp, world, role_mappings=[("engineering", [engineers["id"]]), ("admins", [admins["id"]])])
    account = new_account(oidc_idp, groups=("engineering",))
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    [user] = sso.sso_users()
    assert role_skus(api, user["id"]) == {"user", engineers["sku"]}
    # An administrator gives a role by hand: group sync must leave it alone.
    manual = create_role(api, world.tenant["id"], [])
    assert api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [manual["id"]]}).status_code == 200

    new_email = f"{rand('renamed')}@acme.example"
    oidc_idp.set_user(
        account, email=new_email, email_verified=True, given_name="Amazing", family_name="Grace", groups=["admins"]
    )
    with browser_for(api) as tab:
        again = sso.sign_in(tab, sso.start_path(), account)
    assert signed_in(again)
    [after] = sso.sso_users()
    assert after["id"] == user["id"] and after["externalId"] == account
    assert (after["email"], after["givenName"], after["familyName"]) == (new_email, "Amazing", "Grace")
    assert role_skus(api, user["id"]) == {"user", admins["sku"], manual["sku"]}


# --- refusals ----------------------------------------------------------------------------


def test_jit_off_refuses_an_unknown_user_and_creates_nothing(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp, jit=False)
    before = len(sso.users())
    refused = sso.sign_in(tab, sso.start_path(), new_account(oidc_idp))
    assert_refused(sso, refused, 403, "No account for you here", before)
    assert SESSION_COOKIE not in tab.cookies


def test_jit_off_signs_in_a_user_that_exists_for_this_idp(api: Api, oidc_idp: OidcIdp) -> None:
    """The "verify user" semantics: with JIT off, the user must already exist for this IdP and sub."""
    sso = connect(api, oidc_idp)
    account = new_account(oidc_idp, groups=())
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    [user] = sso.sso_users()
    turn_off = connect(api, oidc_idp, sso.world, jit=False)  # a second provider of the tenant, JIT off
    with browser_for(api) as tab:
        refused = turn_off.sign_in(tab, turn_off.start_path(), account)
    # The same person at the same IdP, but through another provider: not the same user.
    assert refused.status_code == 403 and not sets_session(refused)
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    assert [u["id"] for u in sso.sso_users()] == [user["id"]]


def test_an_inactive_user_is_refused(api: Api, oidc_idp: OidcIdp) -> None:
    sso = connect(api, oidc_idp)
    account = new_account(oidc_idp)
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    [user] = sso.sso_users()
    assert api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"}).status_code == 200
    before = len(sso.users())
    with browser_for(api) as tab:
        refused = sso.sign_in(tab, sso.start_path(), account)
        assert_refused(sso, refused, 403, "Your account cannot sign in", before)
        assert SESSION_COOKIE not in tab.cookies
    assert sso.sso_users()[0]["status"] == "INACTIVE"


def test_state_from_another_browser_is_refused(api: Api, oidc_idp: OidcIdp) -> None:
    """Login CSRF: the attacker starts a sign-in, signs in at the IdP as themself, and makes the
    victim's tab open the callback. The victim has no (or another) ``tenantry_sso`` cookie."""
    sso = connect(api, oidc_idp)
    before = len(sso.users())
    with browser_for(api) as attacker:
        back = sso.at_idp(sso.to_idp(attacker, sso.start_path()), new_account(oidc_idp))
    with browser_for(api) as victim:
        assert_refused(sso, victim.get(back, follow_redirects=False), 400, "could not be completed", before)
    with browser_for(api) as other:
        sso.to_idp(other, sso.start_path())  # has a tenantry_sso cookie of its own
        assert other.cookies.get(BROWSER_COOKIE)
        assert_refused(sso, other.get(back, follow_redirects=False), 400, "could not be completed", before)


def test_a_replayed_callback_is_refused(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp)
    back = sso.at_idp(sso.to_idp(tab, sso.start_path()), new_account(oidc_idp))
    assert signed_in(tab.get(back, follow_redirects=False))
    tab.cookies.delete(SESSION_COOKIE)
    users = len(sso.users())
    assert_refused(sso, tab.get(back, follow_redirects=False), 400, "could not be completed", users)


def test_a_tampered_state_is_refused(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp)
    back = sso.at_idp(sso.to_idp(tab, sso.start_path()), new_account(oidc_idp))
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    forged = back.split("?")[0] + "?" + urlencode({**query, "state": query["state"][:-2] + "xx"})
    before = len(sso.users())
    assert_refused(sso, tab.get(forged, follow_redirects=False), 400, "could not be completed", before)


def test_an_error_answer_from_the_idp_is_a_page(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp)
    idp_url = sso.to_idp(tab, sso.start_path())
    state = parse_qs(urlsplit(idp_url).query)["state"][0]
    before = len(sso.users())
    answer = tab.get(
        sso.url(f"/sso/{sso.provider['id']}/callback?" + urlencode({"error": "access_denied", "state": state})),
        follow_redirects=False,
    )
    assert_refused(sso, answer, 400, "did not sign you in", before)


# --- how a user gets to the IdP ----------------------------------------------------------


def test_home_realm_discovery_by_email_domain(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    domain = f"{rand('corp')}.example"
    sso = connect(api, oidc_idp, email_domains=[domain])
    account = new_account(oidc_idp, email=f"lin@{domain}")
    verifier, challenge = pkce()
    params = authorize_params(sso.world, challenge)
    first = tab.get(sso.url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False)
    login_page = tab.get(sso.url(first.headers["location"]))
    assert 'id="sso-email-form"' in login_page.text
    req = parse_qs(urlsplit(first.headers["location"]).query)["req"][0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
    assert csrf

    unknown = tab.post(
        sso.url("/login"),
        data={"csrf_token": csrf.group(1), "action": "sso", "req": req, "email": "lin@elsewhere.example"},
        follow_redirects=False,
    )
    assert unknown.status_code == 400 and 'id="sso-error"' in unknown.text

    routed = tab.post(
        sso.url("/login"),
        data={"csrf_token": csrf.group(1), "action": "sso", "req": req, "email": f"Lin@{domain.upper()}"},
        follow_redirects=False,
    )
    assert routed.status_code == 302, routed.text
    assert routed.headers["location"].startswith(f"/sso/{sso.provider['id']}/start?")
    idp_url = sso.to_idp(tab, routed.headers["location"])
    assert parse_qs(urlsplit(idp_url).query)["login_hint"] == [f"Lin@{domain.upper()}"]
    done = tab.get(sso.at_idp(idp_url, account), follow_redirects=False)
    query = callback_query(done)
    assert exchange(sso.world, query["code"], verifier).status_code == 200
    [user] = sso.sso_users()
    assert user["email"] == f"lin@{domain}"


def test_idp_hint_goes_straight_to_the_idp(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp)
    other = connect(api, oidc_idp, sso.world)  # a second provider: the hint picks one
    verifier, challenge = pkce()
    params = authorize_params(sso.world, challenge, idp_hint=other.provider["name"])
    first = tab.get(sso.url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False)
    assert first.status_code == 302
    assert first.headers["location"].startswith(f"/sso/{other.provider['id']}/start?req=")
    done = other.sign_in(tab, first.headers["location"], new_account(oidc_idp))
    query = callback_query(done)
    assert query["state"] == params["state"]
    assert exchange(sso.world, query["code"], verifier).status_code == 200
    assert len(other.sso_users()) == 1 and sso.sso_users() == []

    unknown_hint = authorize_params(sso.world, challenge, idp_hint="no-such-idp")
    with browser_for(api) as fresh:
        shown = fresh.get(sso.url("/api/v1/oauth2/authorize?" + urlencode(unknown_hint)), follow_redirects=False)
    assert shown.status_code == 302 and shown.headers["location"].startswith("/login?req=")


# --- invitations and account linking ------------------------------------------------------


def _invitation_code(api: Api, tenant_id: str, email: str, role_ids: list[str]) -> tuple[str, str]:
    doc = invited(api, tenant_id, email, rolesToAssign=role_ids)
    return doc["newUserInvitationRequest"]["id"], code_of(link_in(last_email(api, email)))


def test_an_invitation_is_accepted_through_the_idp(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    world = make_world(api)
    invited_role = create_role(api, world.tenant["id"], [])
    sso = connect(api, oidc_idp, world)
    email = f"{rand('newhire')}@acme.example"
    invitation_id, code = _invitation_code(api, world.tenant["id"], email, [invited_role["id"]])
    accept_page = tab.get(sso.url(f"/accept-invite?code={code}"))
    assert accept_page.status_code == 200 and f"Accept with {sso.provider['displayName']}" in accept_page.text
    account = new_account(oidc_idp, email=email.upper(), email_verified=False)
    assert signed_in(sso.sign_in(tab, sso_link(accept_page.text, sso.provider["name"]), account))
    [user] = sso.sso_users()
    assert user["externalId"] == account and user["status"] == "ACTIVE" and user["emailVerified"] is True
    assert invited_role["sku"] in role_skus(api, user["id"])
    found = api.call("GET", f"/tenants/{world.tenant['id']}/new-user-invitation-requests", params={"count": 100})
    [invitation] = [i for i in found.json()["items"] if i["id"] == invitation_id]
    assert invitation["status"] == "COMPLETED"


def test_an_invitation_for_another_email_is_refused(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    world = make_world(api)
    sso = connect(api, oidc_idp, world)
    email = f"{rand('newhire')}@acme.example"
    invitation_id, code = _invitation_code(api, world.tenant["id"], email, [])
    before = len(sso.users())
    refused = sso.sign_in(tab, sso.start_path(invitation=code), new_account(oidc_idp, email="someone@else.example"))
    assert_refused(sso, refused, 403, "another email address", before)
    found = api.call("GET", f"/tenants/{world.tenant['id']}/new-user-invitation-requests", params={"count": 100})
    [invitation] = [i for i in found.json()["items"] if i["id"] == invitation_id]
    assert invitation["status"] == "PENDING_INVITE_ACCEPTANCE"


def test_a_password_user_with_the_same_email_stays_a_separate_user(
    api: Api, oidc_idp: OidcIdp, tab: TestClient
) -> None:
    """Never linked implicitly: the IdP proves control of its own account, not of the mailbox."""
    sso = connect(api, oidc_idp)
    password_user = sso.world.user
    account = new_account(oidc_idp, email=password_user["email"])
    assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    same_email = [u for u in sso.users() if u["email"] == password_user["email"]]
    assert {u["identityProviderName"] for u in same_email} == {"wristband", sso.provider["name"]}
    [sso_user] = sso.sso_users()
    assert sso_user["id"] != password_user["id"]
    untouched = api.call("GET", f"/users/{password_user['id']}").json()
    assert untouched["givenName"] == "Ada" and untouched.get("externalId") in (None, "")


# --- email verification, uniqueness, disabled providers -----------------------------------


def test_an_unverified_idp_email_gets_the_verification_email(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    """The SSO login policy's default EMAIL_LINK: the user is signed in, unverified, and mailed."""
    sso = connect(api, oidc_idp)
    email = f"{rand('unverified')}@acme.example"
    assert signed_in(sso.sign_in(tab, sso.start_path(), new_account(oidc_idp, email=email, email_verified=False)))
    [user] = sso.sso_users()
    assert user["emailVerified"] is False
    message = last_email(api, email)
    assert message["kind"] == "email_verification" and message["tenant_id"] == sso.tenant_id


def test_another_idp_account_with_the_same_email_is_refused(api: Api, oidc_idp: OidcIdp) -> None:
    """Emails are unique per provider in a tenant: a second IdP subject asserting the first one's
    address is refused, and not linked to the first user either."""
    sso = connect(api, oidc_idp)
    email = f"{rand('shared')}@acme.example"
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), new_account(oidc_idp, email=email)))
    [first] = sso.sso_users()
    before = len(sso.users())
    with browser_for(api) as tab:
        refused = sso.sign_in(tab, sso.start_path(), new_account(oidc_idp, email=email))
        assert_refused(sso, refused, 403, "already uses this email address", before)
    assert [u["id"] for u in sso.sso_users()] == [first["id"]]


def test_a_disabled_provider_is_neither_offered_nor_usable(api: Api, oidc_idp: OidcIdp, tab: TestClient) -> None:
    sso = connect(api, oidc_idp, status="DISABLED")
    login_page = tab.get(sso.url("/login"))
    assert login_page.status_code == 200 and f'id="sso-{sso.provider["name"]}"' not in login_page.text
    started = tab.get(sso.url(sso.start_path()), follow_redirects=False)
    assert started.status_code == 404 and "Unknown sign-in method" in started.text
    assert not sets_session(started)


def test_a_provider_of_another_tenant_cannot_be_used_on_this_tenant_host(
    api: Api, oidc_idp: OidcIdp, tab: TestClient
) -> None:
    sso = connect(api, oidc_idp)
    other = make_world(api)
    started = tab.get(other.tenant_url(sso.start_path()), follow_redirects=False)
    assert started.status_code == 404 and "Unknown sign-in method" in started.text


def test_an_invitation_accepted_through_the_idp_cannot_be_used_again(api: Api, oidc_idp: OidcIdp) -> None:
    world = make_world(api)
    sso = connect(api, oidc_idp, world)
    email = f"{rand('once')}@acme.example"
    _, code = _invitation_code(api, world.tenant["id"], email, [])
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(invitation=code), new_account(oidc_idp, email=email)))
    # Someone else at the IdP (JIT off, so only the invitation could let them in) tries the same link.
    closed = connect(api, oidc_idp, world, jit=False)
    before = len(sso.users())
    with browser_for(api) as tab:
        refused = closed.sign_in(tab, closed.start_path(invitation=code), new_account(oidc_idp, email=email))
        assert_refused(sso, refused, 403, "This invitation cannot be used", before)
        assert "already been accepted" in refused.text
        assert SESSION_COOKIE not in tab.cookies


def test_two_first_logins_at_once_make_one_user(any_api: Api, oidc_idp: OidcIdp) -> None:
    """The same person finishing two sign-ins at the same moment (two tabs): the unique
    (tenant, provider, externalId) constraint lets one insert win and the other finds that user,
    whichever unique index (external id or email) the loser trips first.

    Driven at the use case: concurrent requests through separate TestClient portals would share
    the app's one httpx.AsyncClient across event loops, which a real server never does."""
    sso = connect(any_api, oidc_idp)
    core = any_api.services.core
    with core.uow(any_api.application_id) as uow:
        application = uow.applications.get(any_api.application_id)
        tenant = uow.tenants.get(sso.tenant_id)
        provider = uow.identity_providers.get(sso.provider["id"])
    assert application is not None and tenant is not None and provider is not None
    for _ in range(5):
        sub = rand("racer-")
        identity = ExternalIdentity(sub, f"{sub}@acme.example", True, {"givenName": "Race"}, ())
        barrier = threading.Barrier(2)

        def sign_in(_: int, identity: ExternalIdentity = identity, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            return sign_in_external(core, application, tenant, provider, identity).id

        with ThreadPoolExecutor(2) as pool:
            ids = set(pool.map(sign_in, range(2)))
        assert len(ids) == 1
        assert [u["id"] for u in sso.sso_users() if u["externalId"] == sub] == list(ids)
