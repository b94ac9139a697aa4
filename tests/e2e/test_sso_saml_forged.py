"""Forged SAML Responses POSTed to the real ACS (issue 6, "a negative suite that creates no user and
no session in every case"): the whole web path — pending request bound to the browser, RelayState,
validation, provisioning — not the validator alone (that is tests/protocols/test_saml_response.py).

Responses are built by tests/protocols/saml_forge.py with keys made here, answering an AuthnRequest
Tenantry really issued (its ID and RelayState), so that each case differs from an accepted response
by exactly the attack. A control case shows that same construction signs in.
"""

from __future__ import annotations

import base64
import copy
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from tests.e2e.oidc_helpers import World, browser_for, make_world
from tests.protocols import saml_forge as forge
from tests.protocols.saml_forge import ResponseSpec
from tests.sso_support import SESSION_COOKIE, add_provider, sets_session, sp_urls, tenant_users
from tests.support import Api, rand

IDP_KEYS = forge.make_key_pair("forged-suite-idp")
ATTACKER_KEYS = forge.make_key_pair("attacker")
IDP_SSO_URL = "https://idp.example.com/saml/sso"
REFUSED = "The sign-in could not be completed"


@dataclass
class Target:
    api: Api
    world: World
    provider: dict[str, Any]
    idp_entity_id: str

    @property
    def entity_id(self) -> str:
        return sp_urls(self.world.tenant_host, self.provider["id"])[0]

    @property
    def acs_url(self) -> str:
        return sp_urls(self.world.tenant_host, self.provider["id"])[1]

    def users(self) -> list[dict[str, Any]]:
        return tenant_users(self.api, self.world.tenant["id"])

    def pending(self, tab: TestClient) -> tuple[str, str]:
        """Start a sign-in in ``tab``: (RelayState, AuthnRequest ID)."""
        started = tab.get(self.world.tenant_url(f"/sso/{self.provider['id']}/start"), follow_redirects=False)
        assert started.status_code == 302, started.text
        query = parse_qs(urlsplit(started.headers["location"]).query)
        request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))
        return query["RelayState"][0], request.get("ID")

    def spec(self, request_id: str | None, **changes: Any) -> ResponseSpec:
        email = changes.pop("email", "alice@example.com")
        fields: dict[str, Any] = {
            "name_id": email,
            "issuer": self.idp_entity_id,
            "response_issuer": self.idp_entity_id,
            "audience": self.entity_id,
            "recipient": self.acs_url,
            "destination": self.acs_url,
            "in_response_to": request_id,
            "attributes": {"email": [email], "firstName": ["Alice"], "groups": ["staff"]},
        }
        return ResponseSpec(**{**fields, **changes})

    def post(self, tab: TestClient, document: Any, relay_state: str) -> httpx.Response:
        data = document if isinstance(document, str) else forge.encode(document)
        answer: httpx.Response = tab.post(
            self.acs_url, data={"SAMLResponse": data, "RelayState": relay_state}, follow_redirects=False
        )
        return answer


def _target(api: Api, **protocol: Any) -> Target:
    world = make_world(api)
    idp_entity_id = f"https://idp.example.com/{rand('entity')}"
    doc = add_provider(
        api,
        world.tenant["id"],
        protocol={
            "type": "SAML2",
            "idpEntityId": idp_entity_id,
            "idpSsoUrl": IDP_SSO_URL,
            "idpSigningCerts": [IDP_KEYS.cert_pem],
            **protocol,
        },
    )
    return Target(api, world, doc, idp_entity_id)


@pytest.fixture(scope="module")
def assertion_signed(api: Api) -> Target:
    """Provider defaults: the Assertion must be signed."""
    return _target(api)


@pytest.fixture(scope="module")
def response_signed(api: Api) -> Target:
    """The Response must be signed, the Assertion need not be (for the Response-level XSW variants)."""
    return _target(api, wantResponseSigned=True, wantAssertionsSigned=False)


@pytest.fixture
def tab(api: Api) -> Iterator[TestClient]:
    with browser_for(api) as client:
        yield client


def assert_nothing_signed_in(target: Target, tab: TestClient, answer: httpx.Response, users_before: int) -> None:
    assert answer.status_code in (400, 403), answer.text[:2000]
    assert REFUSED in answer.text, answer.text[:2000]
    assert not sets_session(answer) and SESSION_COOKIE not in tab.cookies
    assert len(target.users()) == users_before
    assert not [u for u in target.users() if u["externalId"] == forge.VICTIM]


# --- the control: the construction the attacks start from signs in ------------------------


@pytest.mark.parametrize("where", ["assertion", "response"])
def test_a_genuine_forged_suite_response_signs_in(
    assertion_signed: Target, response_signed: Target, tab: TestClient, where: str
) -> None:
    target = assertion_signed if where == "assertion" else response_signed
    state, request_id = target.pending(tab)
    email = f"{rand('genuine')}@example.com"
    document = forge.signed_response(
        IDP_KEYS, target.spec(request_id, email=email), assertion=where == "assertion", response=where == "response"
    )
    answer = target.post(tab, document, state)
    assert answer.status_code in (200, 302, 303) and sets_session(answer), answer.text[:2000]
    assert [u["externalId"] for u in target.users() if u["email"] == email] == [email]


# --- signatures --------------------------------------------------------------------------


Attack = Callable[[Target, str], Any]


def _unsigned(target: Target, request_id: str) -> Any:
    return forge.build_response(target.spec(request_id))


def _other_key(target: Target, request_id: str) -> Any:
    return forge.signed_response(ATTACKER_KEYS, target.spec(request_id))


def _tampered(target: Target, request_id: str) -> Any:
    root = forge.signed_response(IDP_KEYS, target.spec(request_id))
    for name_id in root.iter(f"{{{forge.SAML}}}NameID"):
        name_id.text = forge.VICTIM
    return root


def _two_assertions(target: Target, request_id: str) -> Any:
    root = forge.signed_response(IDP_KEYS, target.spec(request_id))
    extra = forge.assertion_of(forge.build_response(target.spec(request_id, email=forge.VICTIM)))
    forge.sign(extra, IDP_KEYS)  # even a second, validly signed assertion
    root.append(copy.deepcopy(extra))
    return root


def _dtd(target: Target, request_id: str) -> str:
    xml = forge.to_xml(forge.signed_response(IDP_KEYS, target.spec(request_id)))
    end = xml.index(b"?>") + 2
    return forge.encode(xml[:end] + b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + xml[end:])


def _with(**changes: Any) -> Attack:
    def attack(target: Target, request_id: str) -> Any:
        return forge.signed_response(IDP_KEYS, target.spec(request_id, **changes))

    return attack


NOW = datetime.now(UTC)
ATTACKS: dict[str, Attack] = {
    "unsigned": _unsigned,
    "signed-by-another-key": _other_key,
    "name-id-edited-after-signing": _tampered,
    "two-assertions": _two_assertions,
    "dtd": _dtd,
    "wrong-audience": _with(audience="https://other-sp.example/metadata"),
    "wrong-recipient": _with(recipient="https://other-sp.example/acs"),
    "wrong-destination": _with(destination="https://other-sp.example/acs"),
    "wrong-issuer": _with(issuer="https://evil-idp.example/", response_issuer="https://evil-idp.example/"),
    "expired": _with(
        issue_instant=NOW - timedelta(hours=2),
        not_before=NOW - timedelta(hours=2),
        not_on_or_after=NOW - timedelta(hours=1),
    ),
    "not-yet-valid": _with(
        issue_instant=NOW + timedelta(hours=1),
        not_before=NOW + timedelta(hours=1),
        not_on_or_after=NOW + timedelta(hours=2),
    ),
    "in-response-to-another-request": _with(in_response_to="_another-request-0001"),
    "unsolicited-while-a-request-is-pending": _with(in_response_to=None),
    "status-not-success": _with(status="urn:oasis:names:tc:SAML:2.0:status:Requester"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_forged_response_is_refused(assertion_signed: Target, tab: TestClient, name: str) -> None:
    state, request_id = assertion_signed.pending(tab)
    before = len(assertion_signed.users())
    answer = assertion_signed.post(tab, ATTACKS[name](assertion_signed, request_id), state)
    assert_nothing_signed_in(assertion_signed, tab, answer, before)


@pytest.mark.parametrize("name", sorted(forge.XSW_ASSERTION_LEVEL))
def test_signature_wrapping_on_the_assertion_is_refused(assertion_signed: Target, tab: TestClient, name: str) -> None:
    state, request_id = assertion_signed.pending(tab)
    original = forge.signed_response(IDP_KEYS, assertion_signed.spec(request_id))
    attacked = forge.XSW_ASSERTION_LEVEL[name](original)
    assert forge.VICTIM.encode() in forge.to_xml(attacked)
    before = len(assertion_signed.users())
    assert_nothing_signed_in(assertion_signed, tab, assertion_signed.post(tab, attacked, state), before)


@pytest.mark.parametrize("name", sorted(forge.XSW_RESPONSE_LEVEL))
def test_signature_wrapping_on_the_response_is_refused(response_signed: Target, tab: TestClient, name: str) -> None:
    state, request_id = response_signed.pending(tab)
    original = forge.signed_response(IDP_KEYS, response_signed.spec(request_id), assertion=False, response=True)
    attacked = forge.XSW_RESPONSE_LEVEL[name](original)
    assert forge.VICTIM.encode() in forge.to_xml(attacked)
    before = len(response_signed.users())
    assert_nothing_signed_in(response_signed, tab, response_signed.post(tab, attacked, state), before)


def test_comment_truncated_name_id_never_signs_in_the_victim(assertion_signed: Target) -> None:
    """The attacker owns ``victim@….evil.example`` at the IdP and cuts it with a comment after
    signing: ``victim@…<!---->.evil.example``. The full signed text is the identity (comments are
    not text), so the victim's account is never the one signed in."""
    target = assertion_signed
    victim = f"{rand('victim')}@example.com"
    with browser_for(target.api) as tab:
        state, request_id = target.pending(tab)
        genuine = forge.signed_response(IDP_KEYS, target.spec(request_id, email=victim))
        assert sets_session(target.post(tab, genuine, state))
    [victim_user] = [u for u in target.users() if u["externalId"] == victim]

    attacker = f"{victim}.evil.example"
    with browser_for(target.api) as tab:
        state, request_id = target.pending(tab)
        signed = forge.to_xml(forge.signed_response(IDP_KEYS, target.spec(request_id, name_id=attacker)))
        cut = signed.replace(f"{attacker}<".encode(), f"{victim}<!---->.evil.example<".encode())
        assert b"<!---->" in cut
        answer = target.post(tab, forge.encode(cut), state)
    # Signed in as the attacker's own (new) user, whose id is the full signed text.
    assert sets_session(answer)
    assert [u for u in target.users() if u["externalId"] == victim] == [victim_user]
    ids = sorted(u["externalId"] for u in target.users() if (u["externalId"] or "").startswith(victim))
    assert ids == sorted([victim, attacker])


def test_a_response_without_a_pending_request_of_this_browser_is_refused(
    assertion_signed: Target, tab: TestClient
) -> None:
    """A genuine Response with no RelayState, or with a RelayState that is not this browser's."""
    with browser_for(assertion_signed.api) as other:
        state, request_id = assertion_signed.pending(other)
    document = forge.signed_response(IDP_KEYS, assertion_signed.spec(request_id))
    before = len(assertion_signed.users())
    for relay_state in ("", state, "not-a-state"):
        assert_nothing_signed_in(assertion_signed, tab, assertion_signed.post(tab, document, relay_state), before)


@pytest.mark.parametrize("payload", ["", "not base64!", base64.b64encode(b"<not xml").decode(), "A" * 600_000])
def test_garbage_is_refused(assertion_signed: Target, tab: TestClient, payload: str) -> None:
    state, _ = assertion_signed.pending(tab)
    before = len(assertion_signed.users())
    answer = assertion_signed.post(tab, payload, state)
    assert answer.status_code in (400, 403) and not sets_session(answer)
    assert len(assertion_signed.users()) == before
