"""Enterprise SSO through a real SAML 2.0 IdP (issue 6): ``saml-idp`` from npm (tests/idp), which
nobody here wrote, signs the Response and the Assertion with its own key.

saml-idp fixes the audience (our SP entity id) when it starts, so each test's provider gets its
own saml-idp process, started once the provider exists. Tenantry runs in a Starlette TestClient
(the browser) on the tenant host; the IdP's form is driven with a plain httpx client and its
auto-submitting POST is replayed to the ACS by hand. Every refusal is checked to create no user
and set no session cookie.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient
from lxml import etree

from tests.e2e._helpers import create_role
from tests.e2e.oidc_helpers import World, authorize_params, browser_for, callback_query, exchange, make_world, pkce
from tests.e2e.test_invitations import code_of, invited
from tests.e2e.test_signup import last_email, link_in
from tests.sso_support import (
    SESSION_COOKIE,
    SamlIdp,
    SamlPost,
    SamlUser,
    add_provider,
    new_saml_idp,
    role_skus,
    saml_sign_in,
    sets_session,
    sp_urls,
    tenant_users,
)
from tests.support import Api, rand

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@dataclass
class SamlSso:
    """A tenant (with a password user and a web client) connected to its own saml-idp."""

    api: Api
    world: World
    idp: SamlIdp
    provider: dict[str, Any]

    @property
    def tenant_id(self) -> str:
        tenant_id: str = self.world.tenant["id"]
        return tenant_id

    @property
    def host(self) -> str:
        return self.world.tenant_host

    @property
    def entity_id(self) -> str:
        return sp_urls(self.host, self.provider["id"])[0]

    @property
    def acs_url(self) -> str:
        return sp_urls(self.host, self.provider["id"])[1]

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.world.tenant_url(path)

    def users(self) -> list[dict[str, Any]]:
        return tenant_users(self.api, self.tenant_id)

    def sso_users(self) -> list[dict[str, Any]]:
        return [u for u in self.users() if u["identityProviderName"] == self.provider["name"]]

    def start_path(self, **params: str) -> str:
        return f"/sso/{self.provider['id']}/start" + (f"?{urlencode(params)}" if params else "")

    def to_idp(self, tab: TestClient, path: str) -> str:
        started = tab.get(self.url(path), follow_redirects=False)
        assert started.status_code == 302, started.text
        location: str = started.headers["location"]
        assert location.startswith(f"{self.idp.sso_url}?SAMLRequest="), location
        return location

    def at_idp(self, idp_url: str, user: SamlUser) -> SamlPost:
        with httpx.Client(timeout=10) as idp_browser:
            post = saml_sign_in(idp_browser, idp_url, user)
        assert post.acs_url == self.acs_url
        return post

    def post(self, tab: TestClient, post: SamlPost) -> httpx.Response:
        answer: httpx.Response = tab.post(post.acs_url, data=post.form, follow_redirects=False)
        return answer

    def sign_in(self, tab: TestClient, path: str, user: SamlUser) -> httpx.Response:
        return self.post(tab, self.at_idp(self.to_idp(tab, path), user))

    def idp_initiated(self, user: SamlUser) -> SamlPost:
        """saml-idp's own sign-in without an AuthnRequest: an unsolicited Response."""
        post = self.at_idp(self.idp.sso_url, user)
        assert post.relay_state == ""
        return post


Connect = Callable[..., SamlSso]


@pytest.fixture
def saml_connect(tmp_path: Path) -> Iterator[Connect]:
    """``saml_connect(api, world=None, **provider)``: a SAML provider of a tenant and its saml-idp."""
    started: list[SamlIdp] = []

    def connect(api: Api, world: World | None = None, **provider: Any) -> SamlSso:
        world = world or make_world(api)
        idp = new_saml_idp(tmp_path / rand("saml"))
        protocol = idp.protocol(**provider.pop("protocol_extra", {}))
        doc = add_provider(api, world.tenant["id"], protocol=protocol, **provider)
        # What the tenant's admin copies into the IdP: the SP entity id and ACS URL the API shows.
        entity_id, acs_url = doc["protocol"]["spEntityId"], doc["protocol"]["acsUrl"]
        assert (entity_id, acs_url) == sp_urls(world.tenant_host, doc["id"])
        started.append(idp)
        idp.start(entity_id, acs_url)
        return SamlSso(api, world, idp, doc)

    yield connect
    for idp in started:
        idp.stop()


@pytest.fixture
def tab(api: Api) -> Iterator[TestClient]:
    """A browser of its own (``browser`` would be pytest-playwright's fixture)."""
    with browser_for(api) as client:
        yield client


def person(groups: tuple[str, ...] = (), **fields: Any) -> SamlUser:
    email = fields.pop("email", f"{rand('emp')}@acme.example")
    return SamlUser(name_id=fields.pop("name_id", email), email=email, groups=groups, **fields)


def signed_in(response: httpx.Response) -> bool:
    return response.status_code in (200, 302, 303) and sets_session(response)


def assert_refused(sso: SamlSso, response: httpx.Response, status: int, title: str, users_before: int) -> None:
    assert response.status_code == status, response.text[:2000]
    assert title in response.text, response.text[:2000]
    assert not sets_session(response)
    assert len(sso.users()) == users_before


def authn_request(idp_url: str) -> Any:
    """The AuthnRequest of an HTTP-Redirect binding URL (DEFLATE, base64)."""
    raw = parse_qs(urlsplit(idp_url).query)["SAMLRequest"][0]
    return etree.fromstring(zlib.decompress(base64.b64decode(raw), -15))


# --- first login, re-sync ----------------------------------------------------------------


def test_first_login_from_authorize_creates_the_user_with_mapped_attributes_and_roles(
    any_api: Api, saml_connect: Connect
) -> None:
    api = any_api
    world = make_world(api)
    engineers = create_role(api, world.tenant["id"], [])
    sso = saml_connect(api, world, role_mappings=[("engineering", [engineers["id"]])])
    alice = person(("engineering", "staff"), first_name="Alice", last_name="Liddell")
    with browser_for(api) as tab:
        verifier, challenge = pkce()
        params = authorize_params(world, challenge)
        first = tab.get(world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False)
        login_page = tab.get(world.tenant_url(first.headers["location"]))
        link = re.search(rf'id="sso-{sso.provider["name"]}" href="([^"]+)"', login_page.text)
        assert link, login_page.text[:3000]
        idp_url = sso.to_idp(tab, link.group(1).replace("&amp;", "&"))
        request = authn_request(idp_url)
        assert request.get("AssertionConsumerServiceURL") == sso.acs_url
        assert request.findtext("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer") == sso.entity_id
        done = sso.post(tab, sso.at_idp(idp_url, alice))

    query = callback_query(done)
    assert query["state"] == params["state"] and sets_session(done)
    [user] = sso.sso_users()
    assert user["status"] == "ACTIVE" and user["externalId"] == alice.name_id
    assert (user["email"], user["givenName"], user["familyName"]) == (alice.email, "Alice", "Liddell")
    assert user["identityProviderType"] == "SAML2"
    assert role_skus(api, user["id"]) == {"user", engineers["sku"]}
    tokens = exchange(world, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    userinfo = api.client.get(
        "/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert engineers["id"] in {r["id"] for r in userinfo.json()["roles"]}
    assert userinfo.json()["sub"] == user["id"]


def test_second_login_resyncs_attributes_and_group_roles(api: Api, saml_connect: Connect) -> None:
    world = make_world(api)
    engineers, admins = create_role(api, world.tenant["id"], []), create_role(api, world.tenant["id"], [])
    sso = saml_connect(api, world, role_mappings=[("engineering", [engineers["id"]]), ("admins", [admins["id"]])])
    alice = person(("engineering",))
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), alice))
    [user] = sso.sso_users()
    assert role_skus(api, user["id"]) == {"user", engineers["sku"]}

    changed = SamlUser(alice.name_id, f"{rand('moved')}@acme.example", "Alicia", "Kingsleigh", ("admins", "staff"))
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), changed))
    [after] = sso.sso_users()
    assert after["id"] == user["id"]
    assert (after["email"], after["givenName"], after["familyName"]) == (changed.email, "Alicia", "Kingsleigh")
    assert role_skus(api, user["id"]) == {"user", admins["sku"]}


# --- refusals ----------------------------------------------------------------------------


def test_jit_off_refuses_an_unknown_user_and_creates_nothing(api: Api, saml_connect: Connect, tab: TestClient) -> None:
    sso = saml_connect(api, jit=False)
    before = len(sso.users())
    assert_refused(sso, sso.sign_in(tab, sso.start_path(), person()), 403, "No account for you here", before)
    assert SESSION_COOKIE not in tab.cookies


def test_an_inactive_user_is_refused(api: Api, saml_connect: Connect) -> None:
    sso = saml_connect(api)
    bob = person()
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), bob))
    [user] = sso.sso_users()
    assert api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"}).status_code == 200
    with browser_for(api) as tab:
        before = len(sso.users())
        assert_refused(sso, sso.sign_in(tab, sso.start_path(), bob), 403, "Your account cannot sign in", before)


def test_a_replayed_response_is_refused(api: Api, saml_connect: Connect, tab: TestClient) -> None:
    sso = saml_connect(api)
    post = sso.at_idp(sso.to_idp(tab, sso.start_path()), person())
    assert signed_in(sso.post(tab, post))
    tab.cookies.delete(SESSION_COOKIE)
    users = len(sso.users())
    assert_refused(sso, sso.post(tab, post), 400, "could not be completed", users)
    # Even with a fresh pending request of this browser as RelayState, the assertion is spent.
    fresh_state = parse_qs(urlsplit(sso.to_idp(tab, sso.start_path())).query)["RelayState"][0]
    replay = SamlPost(post.acs_url, post.saml_response, fresh_state)
    assert_refused(sso, sso.post(tab, replay), 400, "could not be completed", users)


def test_a_replayed_unsolicited_response_is_refused_by_the_replay_cache(any_api: Api, saml_connect: Connect) -> None:
    """IdP-initiated: no RelayState and no InResponseTo, so only the assertion-id cache stops it."""
    api = any_api
    sso = saml_connect(api, protocol_extra={"allowIdpInitiatedSso": True})
    post = sso.idp_initiated(person())
    with browser_for(api) as tab:
        assert signed_in(sso.post(tab, post))
    users = len(sso.users())
    with browser_for(api) as tab:
        assert_refused(sso, sso.post(tab, post), 403, "already used", users)


def test_relay_state_from_another_browser_is_refused(api: Api, saml_connect: Connect) -> None:
    sso = saml_connect(api)
    before = len(sso.users())
    with browser_for(api) as attacker:
        post = sso.at_idp(sso.to_idp(attacker, sso.start_path()), person())
    with browser_for(api) as victim:
        assert_refused(sso, sso.post(victim, post), 400, "could not be completed", before)
    with browser_for(api) as other:
        sso.to_idp(other, sso.start_path())  # a tenantry_sso cookie of its own
        assert_refused(sso, sso.post(other, post), 400, "could not be completed", before)


def test_idp_initiated_login_is_refused_unless_allowed(api: Api, saml_connect: Connect) -> None:
    closed = saml_connect(api)
    before = len(closed.users())
    with browser_for(api) as tab:
        assert_refused(closed, closed.post(tab, closed.idp_initiated(person())), 400, "could not be completed", before)

    opened = saml_connect(api, protocol_extra={"allowIdpInitiatedSso": True})
    carol = person(("staff",))
    with browser_for(api) as tab:
        assert signed_in(opened.post(tab, opened.idp_initiated(carol)))
    [user] = opened.sso_users()
    assert user["externalId"] == carol.name_id and user["email"] == carol.email


def test_a_solicited_response_from_another_browser_is_refused_even_when_idp_initiated_is_allowed(
    api: Api, saml_connect: Connect
) -> None:
    """With allowIdpInitiatedSso, a Response that answers someone else's AuthnRequest is not an
    unsolicited one: it is refused without its pending request (login CSRF / session fixation)."""
    sso = saml_connect(api, protocol_extra={"allowIdpInitiatedSso": True})
    before = len(sso.users())
    with browser_for(api) as attacker:
        post = sso.at_idp(sso.to_idp(attacker, sso.start_path()), person())
    with browser_for(api) as victim:
        assert_refused(sso, sso.post(victim, post), 400, "could not be completed", before)
    with browser_for(api) as victim:
        stripped = SamlPost(post.acs_url, post.saml_response, "")
        assert_refused(sso, sso.post(victim, stripped), 400, "could not be completed", before)


def test_a_response_for_another_provider_is_refused(api: Api, saml_connect: Connect, tab: TestClient) -> None:
    """Two providers of one tenant: a Response minted for one (its audience and ACS) is no good at the other."""
    first = saml_connect(api)
    second = saml_connect(api, first.world)
    post = first.at_idp(first.to_idp(tab, first.start_path()), person())
    state = parse_qs(urlsplit(second.to_idp(tab, second.start_path())).query)["RelayState"][0]
    before = len(first.users())
    moved = SamlPost(second.acs_url, post.saml_response, state)
    assert_refused(second, second.post(tab, moved), 400, "could not be completed", before)


# --- metadata, invitation ------------------------------------------------------------------


def test_sp_metadata_is_served(api: Api, saml_connect: Connect, tab: TestClient) -> None:
    sso = saml_connect(api)
    answer = tab.get(sso.url(f"/sso/{sso.provider['id']}/metadata"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(answer.content)
    assert root.get("entityID") == sso.entity_id
    acs = root.find(f".//{{{MD}}}AssertionConsumerService")
    assert acs is not None and acs.get("Location") == sso.acs_url
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert tab.get(sso.url("/sso/nosuchprovider/metadata")).status_code == 404


def test_an_invitation_is_accepted_through_the_saml_idp(any_api: Api, saml_connect: Connect) -> None:
    api = any_api
    world = make_world(api)
    invited_role = create_role(api, world.tenant["id"], [])
    sso = saml_connect(api, world)
    email = f"{rand('hire')}@acme.example"
    doc = invited(api, world.tenant["id"], email, rolesToAssign=[invited_role["id"]])
    code = code_of(link_in(last_email(api, email)))
    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(invitation=code), person(email=email)))
    [user] = sso.sso_users()
    assert user["email"] == email and invited_role["sku"] in role_skus(api, user["id"])
    found = api.call("GET", f"/tenants/{world.tenant['id']}/new-user-invitation-requests", params={"count": 100})
    [invitation] = [i for i in found.json()["items"] if i["id"] == doc["newUserInvitationRequest"]["id"]]
    assert invitation["status"] == "COMPLETED"


def test_signed_authn_requests_and_signed_responses(api: Api, saml_connect: Connect, tab: TestClient) -> None:
    """signAuthnRequests: the redirect carries a signature by the key in our SP metadata;
    wantResponseSigned: saml-idp's signed Response (and Assertion) is accepted."""
    sso = saml_connect(api, protocol_extra={"signAuthnRequests": True, "wantResponseSigned": True})
    idp_url = sso.to_idp(tab, sso.start_path())
    query = urlsplit(idp_url).query
    params = parse_qs(query)
    assert params["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    # Bindings §3.4.4.1: the signature covers SAMLRequest, RelayState and SigAlg as they appear in the URL.
    raw = dict(part.split("=", 1) for part in query.split("&"))
    signed_part = f"SAMLRequest={raw['SAMLRequest']}&RelayState={raw['RelayState']}&SigAlg={raw['SigAlg']}".encode()
    metadata = etree.fromstring(tab.get(sso.url(f"/sso/{sso.provider['id']}/metadata")).content)
    cert_text = metadata.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    assert cert_text
    certificate = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(params["Signature"][0]), signed_part, padding.PKCS1v15(), hashes.SHA256())
    alice = person(("staff",))
    assert signed_in(sso.post(tab, sso.at_idp(idp_url, alice)))
    assert [u["externalId"] for u in sso.sso_users()] == [alice.name_id]
