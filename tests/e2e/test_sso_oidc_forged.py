"""An OpenID Provider that lies, for the negative cases only (issue 6: wrong ``iss``, ``aud``,
``nonce``, expired, ``alg=none``, key confusion...): a few lines of ``http.server`` in a thread serve
discovery, a JWKS and a token endpoint that answers with the ID token the test forged. The happy
paths run against the real oidc-provider (test_sso_oidc.py); here a control case shows that the
same construction, untampered, signs in, so each refusal is due to its one defect.

Every refusal: the "could not be completed" page, no user created, no session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient

from tests.e2e.oidc_helpers import World, browser_for, make_world
from tests.sso_support import SESSION_COOKIE, add_provider, sets_session, tenant_users
from tests.support import Api, rand

CLIENT_ID = "tenantry-rp"
CLIENT_SECRET = "lying-idp-secret"
REFUSED = "The sign-in could not be completed"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class RsaKey:
    kid: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": _int(numbers.n), "e": _int(numbers.e)}

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def jws(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
    return f"{signing_input.decode()}.{b64url(sign(signing_input))}"


def rs256(key: RsaKey, claims: dict[str, Any], kid: str | None = None) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": kid or key.kid}
    return jws(header, claims, lambda data: key.key.sign(data, padding.PKCS1v15(), hashes.SHA256()))


class LyingIdp:
    """Discovery, JWKS and a token endpoint; ``id_token`` is what the next token request gets."""

    def __init__(self) -> None:
        self.key = RsaKey("lying-key-1")
        self.id_token = ""
        self.token_requests: list[tuple[dict[str, list[str]], str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="lying-idp", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": idp.issuer,
                            "authorization_endpoint": f"{idp.issuer}/authorize",
                            "token_endpoint": f"{idp.issuer}/token",
                            "jwks_uri": f"{idp.issuer}/jwks",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                        },
                    )
                elif self.path == "/jwks":
                    self._json(200, {"keys": [idp.key.jwk()]})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                idp.token_requests.append((form, self.headers.get("Authorization") or ""))
                self._json(
                    200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": idp.id_token}
                )

        return Handler

    def claims(self, nonce: str, sub: str, **changes: Any) -> dict[str, Any]:
        """Truthful claims; ``changes`` overrides them (``None`` leaves a claim out)."""
        now = int(time.time())
        doc = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": sub,
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
            "email": f"{sub}@lying.example",
            "email_verified": True,
        }
        return {k: v for k, v in {**doc, **changes}.items() if v is not None}


@pytest.fixture(scope="module")
def lying_idp() -> Iterator[LyingIdp]:
    idp = LyingIdp()
    idp.thread.start()
    yield idp
    idp.server.shutdown()
    idp.server.server_close()
    idp.thread.join(timeout=10)


@dataclass
class Target:
    api: Api
    world: World
    provider: dict[str, Any]

    def users(self) -> list[dict[str, Any]]:
        return tenant_users(self.api, self.world.tenant["id"])

    def start(self, tab: TestClient) -> dict[str, str]:
        """The authorize request Tenantry sends the browser to the IdP with."""
        started = tab.get(self.world.tenant_url(f"/sso/{self.provider['id']}/start"), follow_redirects=False)
        assert started.status_code == 302, started.text
        return {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}

    def callback(self, tab: TestClient, state: str, code: str = "any-code") -> httpx.Response:
        url = self.world.tenant_url(f"/sso/{self.provider['id']}/callback?" + urlencode({"code": code, "state": state}))
        answer: httpx.Response = tab.get(url, follow_redirects=False)
        return answer


@pytest.fixture(scope="module")
def target(api: Api, lying_idp: LyingIdp) -> Target:
    world = make_world(api)
    protocol = {
        "type": "OIDC",
        "issuer": lying_idp.issuer,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "scopes": ["openid", "email"],
    }
    return Target(api, world, add_provider(api, world.tenant["id"], protocol=protocol))


@pytest.fixture
def tab(api: Api) -> Iterator[TestClient]:
    with browser_for(api) as client:
        yield client


def test_control_a_truthful_answer_signs_in_and_the_code_exchange_is_pkce_bound(
    target: Target, lying_idp: LyingIdp, tab: TestClient
) -> None:
    request = target.start(tab)
    assert request["code_challenge_method"] == "S256" and request["client_id"] == CLIENT_ID
    sub = rand("sub")
    lying_idp.id_token = rs256(lying_idp.key, lying_idp.claims(request["nonce"], sub))
    answer = target.callback(tab, request["state"], code="the-code")
    assert answer.status_code in (200, 302, 303) and sets_session(answer), answer.text[:2000]
    assert [u["externalId"] for u in target.users() if u["externalId"] == sub] == [sub]
    form, authorization = lying_idp.token_requests[-1]
    verifier = form["code_verifier"][0]
    assert b64url(hashlib.sha256(verifier.encode()).digest()) == request["code_challenge"]
    assert form["code"] == ["the-code"] and form["grant_type"] == ["authorization_code"]
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert authorization == f"Basic {expected}"


Forgery = Callable[[LyingIdp, str, str], str]


def _claims(**changes: Any) -> Forgery:
    def forge(idp: LyingIdp, nonce: str, sub: str) -> str:
        claims = {**idp.claims(nonce, sub), **changes}
        return rs256(idp.key, {k: v for k, v in claims.items() if v is not None})

    return forge


def _alg_none(idp: LyingIdp, nonce: str, sub: str) -> str:
    return jws({"alg": "none", "typ": "JWT"}, idp.claims(nonce, sub), lambda _: b"")


def _alg_none_unsigned(idp: LyingIdp, nonce: str, sub: str) -> str:
    return _alg_none(idp, nonce, sub).rsplit(".", 1)[0] + "."


def _key_confusion(idp: LyingIdp, nonce: str, sub: str) -> str:
    """HS256 with the IdP's public key (as published) as the HMAC secret."""
    secret = idp.key.public_pem()
    header = {"alg": "HS256", "typ": "JWT", "kid": idp.key.kid}
    return jws(header, idp.claims(nonce, sub), lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def _other_key_same_kid(idp: LyingIdp, nonce: str, sub: str) -> str:
    return rs256(RsaKey(idp.key.kid), idp.claims(nonce, sub))


def _other_key_unknown_kid(idp: LyingIdp, nonce: str, sub: str) -> str:
    return rs256(RsaKey("rotated-in-by-attacker"), idp.claims(nonce, sub))


def _payload_swapped(idp: LyingIdp, nonce: str, sub: str) -> str:
    genuine = rs256(idp.key, idp.claims(nonce, sub))
    header, _, signature = genuine.split(".")
    forged = b64url(json.dumps(idp.claims(nonce, "admin")).encode())
    return f"{header}.{forged}.{signature}"


NOW = int(time.time())
FORGERIES: dict[str, Forgery] = {
    "wrong-iss": _claims(iss="https://evil-idp.example"),
    "wrong-aud": _claims(aud="another-client"),
    "aud-list-without-azp": _claims(aud=[CLIENT_ID, "another-client"]),
    "azp-of-another-client": _claims(aud=[CLIENT_ID, "another-client"], azp="another-client"),
    "wrong-nonce": lambda idp, nonce, sub: rs256(idp.key, idp.claims("not-" + nonce, sub)),
    "no-nonce": _claims(nonce=None),
    "expired": _claims(iat=NOW - 3600, exp=NOW - 1800),
    "issued-in-the-future": _claims(iat=NOW + 3600, exp=NOW + 7200),
    "no-sub": _claims(sub=None),
    "alg-none": _alg_none,
    "alg-none-no-signature": _alg_none_unsigned,
    "hs256-with-the-public-key": _key_confusion,
    "another-key-same-kid": _other_key_same_kid,
    "another-key-unknown-kid": _other_key_unknown_kid,
    "payload-swapped-under-a-genuine-signature": _payload_swapped,
    "not-a-jwt": lambda idp, nonce, sub: "not.a.jwt",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_id_token_is_refused(target: Target, lying_idp: LyingIdp, tab: TestClient, name: str) -> None:
    request = target.start(tab)
    lying_idp.id_token = FORGERIES[name](lying_idp, request["nonce"], rand("sub"))
    before = len(target.users())
    answer = target.callback(tab, request["state"])
    assert answer.status_code == 400, answer.text[:2000]
    assert REFUSED in answer.text
    assert not sets_session(answer) and SESSION_COOKIE not in tab.cookies
    assert len(target.users()) == before


def test_state_mismatch_is_refused_before_any_token_request(
    target: Target, lying_idp: LyingIdp, tab: TestClient
) -> None:
    request = target.start(tab)
    lying_idp.id_token = rs256(lying_idp.key, lying_idp.claims(request["nonce"], rand("sub")))
    asked = len(lying_idp.token_requests)
    before = len(target.users())
    for state in ("", request["state"] + "x", secrets.token_urlsafe(32)):
        answer = target.callback(tab, state)
        assert answer.status_code == 400 and REFUSED in answer.text and not sets_session(answer)
    assert len(lying_idp.token_requests) == asked  # the code is never redeemed for a foreign state
    assert len(target.users()) == before


def test_a_callback_is_used_once(target: Target, lying_idp: LyingIdp, tab: TestClient) -> None:
    request = target.start(tab)
    lying_idp.id_token = rs256(lying_idp.key, lying_idp.claims(request["nonce"], rand("sub")))
    assert sets_session(target.callback(tab, request["state"]))
    tab.cookies.delete(SESSION_COOKIE)
    before = len(target.users())
    again = target.callback(tab, request["state"])
    assert again.status_code == 400 and REFUSED in again.text and not sets_session(again)
    assert len(target.users()) == before
