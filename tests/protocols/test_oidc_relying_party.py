"""The OpenID Connect relying party against a fake provider served by httpx.MockTransport, with keys made here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tenantry.protocols.oidc.relying_party import OidcEndpoints, OidcError, OidcRelyingParty, pkce_pair

ISSUER = "https://idp.example.com/tenant"
CLIENT_ID = "tenantry-client"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000.0
T = TypeVar("T")

RSA_A = RSAKey.generate_key(2048, parameters={"kid": "key-a"})
RSA_B = RSAKey.generate_key(2048, parameters={"kid": "key-b"})
EC_C = ECKey.generate_key("P-256", parameters={"kid": "key-c"})


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class FakeIdp:
    """Discovery, JWKS, token and userinfo endpoints; counts JWKS fetches."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.discovery_issuer = issuer
        self.published: list[RSAKey | ECKey] = [RSA_A, EC_C]
        self.jwks_fetches = 0
        self.token_status = 200
        self.token_body: Any = {"access_token": "at-1", "token_type": "Bearer", "id_token": "x.y.z"}
        self.auth_methods: list[str] | None = None
        self.token_requests: list[httpx.Request] = []
        self.userinfo_body: dict[str, Any] = {"sub": "user-1", "email": "a@example.com"}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        base = urlsplit(self.issuer).path.rstrip("/")
        if path == base + "/.well-known/openid-configuration":
            doc: dict[str, Any] = {
                "issuer": self.discovery_issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
            }
            if self.auth_methods is not None:
                doc["token_endpoint_auth_methods_supported"] = self.auth_methods
            return httpx.Response(200, json=doc)
        if path == base + "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.published]})
        if path == base + "/token":
            self.token_requests.append(request)
            if isinstance(self.token_body, str):
                return httpx.Response(self.token_status, text=self.token_body)
            return httpx.Response(self.token_status, json=self.token_body)
        if path == base + "/userinfo":
            assert request.headers["authorization"] == "Bearer at-1"
            return httpx.Response(200, json=self.userinfo_body)
        return httpx.Response(404)


def make_rp(idp: FakeIdp, clock: Clock | None = None) -> OidcRelyingParty:
    http = httpx.AsyncClient(transport=httpx.MockTransport(idp.handler))
    return OidcRelyingParty(lambda: http, clock=clock or Clock(), leeway_seconds=60, jwks_refresh_interval_seconds=60)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "exp": int(NOW) + 300,
        "iat": int(NOW) - 5,
        "nonce": NONCE,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: RSAKey | ECKey = RSA_A, alg: str = "RS256", kid: str | None = "") -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    header_kid = key.kid if kid == "" else kid
    if header_kid is not None:
        header["kid"] = header_kid
    return jwt.encode(header, payload, key, algorithms=[alg])


def validate(
    token: str, idp: FakeIdp | None = None, rp: OidcRelyingParty | None = None, **kwargs: Any
) -> dict[str, Any]:
    idp = idp or FakeIdp()
    rp = rp or make_rp(idp)

    async def go() -> dict[str, Any]:
        endpoints = await rp.discover(ISSUER)
        return await rp.validate_id_token(
            endpoints, token, client_id=kwargs.pop("client_id", CLIENT_ID), nonce=kwargs.pop("nonce", NONCE), **kwargs
        )

    return run(go())


def refused(token: str, fragment: str, **kwargs: Any) -> None:
    with pytest.raises(OidcError) as caught:
        validate(token, **kwargs)
    assert fragment in caught.value.reason


def test_happy_path_rs256_ps256_es256() -> None:
    assert validate(sign(claims()))["sub"] == "user-1"
    assert validate(sign(claims(), alg="PS256"))["sub"] == "user-1"
    assert validate(sign(claims(), key=EC_C, alg="ES256"))["sub"] == "user-1"


def test_happy_path_several_audiences_with_azp() -> None:
    token = sign(claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    assert validate(token)["azp"] == CLIENT_ID


def test_wrong_issuer() -> None:
    refused(sign(claims(iss="https://evil.example.com")), "issuer mismatch")


def test_wrong_audience() -> None:
    refused(sign(claims(aud="someone-else")), "audience mismatch")


def test_several_audiences_without_azp() -> None:
    refused(sign(claims(aud=[CLIENT_ID, "other"])), "azp missing")


def test_several_audiences_with_wrong_azp() -> None:
    refused(sign(claims(aud=[CLIENT_ID, "other"], azp="other")), "azp mismatch")


def test_single_audience_with_wrong_azp() -> None:
    refused(sign(claims(azp="other")), "azp mismatch")


def test_wrong_nonce() -> None:
    refused(sign(claims(nonce="another")), "nonce mismatch")


def test_missing_nonce() -> None:
    refused(sign(claims(nonce=None)), "nonce missing")


def test_missing_sub() -> None:
    refused(sign(claims(sub=None)), "sub missing")


def test_expired_beyond_leeway() -> None:
    refused(sign(claims(exp=int(NOW) - 61)), "expired")


def test_expired_within_leeway_is_accepted() -> None:
    assert validate(sign(claims(exp=int(NOW) - 30)))["sub"] == "user-1"


def test_issued_in_the_future() -> None:
    refused(sign(claims(iat=int(NOW) + 3600)), "future")


def test_missing_iat() -> None:
    refused(sign(claims(iat=None)), "iat missing")


def test_alg_none() -> None:
    header = b64(json.dumps({"alg": "none", "kid": "key-a"}).encode())
    payload = b64(json.dumps(claims()).encode())
    refused(f"{header}.{payload}.", "alg not allowed")
    refused(f"{header}.{payload}.{b64(b'sig')}", "alg not allowed")


@pytest.mark.parametrize(
    "secret",
    [
        RSA_A.as_pem(private=False),
        json.dumps(RSA_A.as_dict(private=False)).encode(),
        str(RSA_A.as_dict(private=False)["n"]).encode(),
    ],
    ids=["pem", "jwk-json", "modulus"],
)
def test_hs256_with_public_key_as_secret(secret: bytes) -> None:
    header = b64(json.dumps({"alg": "HS256", "kid": "key-a", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    refused(f"{header}.{payload}.{signature}", "alg not allowed")


def test_rs256_header_on_ec_key_id_is_refused() -> None:
    # kid names the EC key but alg claims RSA: the key is never used with an algorithm of another type
    refused(sign(claims(), key=RSA_B, kid="key-c"), "signing key unknown")


def test_signature_by_another_key_with_a_known_kid() -> None:
    refused(sign(claims(), key=RSA_B, kid="key-a"), "signature invalid")


def test_signature_by_another_key_without_kid() -> None:
    refused(sign(claims(), key=RSA_B, kid=None), "signature invalid")


def test_tampered_payload() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    refused(f"{header}.{forged}.{signature}", "signature invalid")


def test_encrypted_token_refused() -> None:
    refused("a.b.c.d.e", "encrypted")


def test_unknown_kid_refetches_once_then_accepts_after_rotation() -> None:
    idp, clock = FakeIdp(), Clock()
    rp = make_rp(idp, clock)
    assert validate(sign(claims()), idp=idp, rp=rp)["sub"] == "user-1"
    assert idp.jwks_fetches == 1
    idp.published = [RSA_B]  # the provider rotates to key-b
    clock.now += 61  # past the refresh interval since the last fetch
    assert validate(sign(claims(exp=int(clock.now) + 300), key=RSA_B), idp=idp, rp=rp)["sub"] == "user-1"
    assert idp.jwks_fetches == 2
    # the rotated-out key is no longer trusted, and asking about it does not fetch again within the interval
    with pytest.raises(OidcError):
        validate(sign(claims(exp=int(clock.now) + 300)), idp=idp, rp=rp)
    assert idp.jwks_fetches == 2


def test_rotation_without_kid_refetches_once() -> None:
    idp, clock = FakeIdp(), Clock()
    rp = make_rp(idp, clock)
    assert validate(sign(claims(), kid=None), idp=idp, rp=rp)["sub"] == "user-1"
    idp.published = [RSA_B]
    clock.now += 61
    assert validate(sign(claims(exp=int(clock.now) + 300), key=RSA_B, kid=None), idp=idp, rp=rp)["sub"] == "user-1"
    assert idp.jwks_fetches == 2
    with pytest.raises(OidcError, match="signature invalid"):
        validate(sign(claims(exp=int(clock.now) + 300), key=RSA_A, kid=None), idp=idp, rp=rp)
    assert idp.jwks_fetches == 2


def test_unknown_kid_fetch_storm_is_bounded() -> None:
    idp, clock = FakeIdp(), Clock()
    rp = make_rp(idp, clock)

    async def storm() -> int:
        endpoints = await rp.discover(ISSUER)
        failures = 0
        for round_ in range(3):
            tokens = [sign(claims(), key=RSA_B, kid=f"bogus-{round_}-{i}") for i in range(25)]
            results = await asyncio.gather(
                *(rp.validate_id_token(endpoints, t, client_id=CLIENT_ID, nonce=NONCE) for t in tokens),
                return_exceptions=True,
            )
            failures += sum(isinstance(r, OidcError) for r in results)
            clock.now += 10
        return failures

    assert run(storm()) == 75
    # one fetch for the first use; 75 unknown kids within 30 s trigger no further fetch
    assert idp.jwks_fetches == 1


def test_at_hash_checked_when_access_token_given() -> None:
    digest = hashlib.sha256(b"at-1").digest()
    token = sign(claims(at_hash=b64(digest[:16])))
    assert validate(token, access_token="at-1")["sub"] == "user-1"
    refused(token, "at_hash mismatch", access_token="at-2")


def test_discovery_and_cache() -> None:
    idp = FakeIdp()
    rp = make_rp(idp)

    async def go() -> tuple[OidcEndpoints, OidcEndpoints, OidcEndpoints]:
        first = await rp.discover(ISSUER)
        second = await rp.discover(ISSUER)
        third = await rp.discover(ISSUER + "/.well-known/openid-configuration")
        return first, second, third

    first, second, third = run(go())
    assert first is second
    assert first == third
    assert first.token_endpoint == f"{ISSUER}/token"
    assert first.token_endpoint_auth_methods == ("client_secret_basic",)


def test_discovery_url_given_in_full_accepts_the_issuer_with_a_trailing_slash() -> None:
    idp = FakeIdp()
    idp.discovery_issuer = ISSUER + "/"
    endpoints = run(make_rp(idp).discover(ISSUER + "/.well-known/openid-configuration"))
    assert endpoints.issuer == ISSUER + "/"
    # configured as an issuer, the match is exact
    with pytest.raises(OidcError, match="issuer mismatch"):
        run(make_rp(idp).discover(ISSUER))


def test_discovery_issuer_mismatch() -> None:
    idp = FakeIdp()
    idp.discovery_issuer = "https://evil.example.com/tenant"
    with pytest.raises(OidcError, match="issuer mismatch"):
        run(make_rp(idp).discover(ISSUER))


def test_http_issuer_refused_but_loopback_allowed() -> None:
    idp = FakeIdp("http://idp.example.com/tenant")
    with pytest.raises(OidcError, match="https"):
        run(make_rp(idp).discover("http://idp.example.com/tenant"))
    local = FakeIdp("http://127.0.0.1:9000/tenant")
    assert run(make_rp(local).discover("http://127.0.0.1:9000/tenant")).issuer == "http://127.0.0.1:9000/tenant"


def test_authorization_url() -> None:
    rp = make_rp(FakeIdp())
    endpoints = run(rp.discover(ISSUER))
    verifier, challenge = pkce_pair()
    assert challenge == b64(hashlib.sha256(verifier.encode()).digest())
    assert 43 <= len(verifier) <= 128
    url = rp.authorization_url(
        endpoints,
        client_id=CLIENT_ID,
        redirect_uri="https://app.example.com/cb",
        scopes=["email", "profile"],
        state="st",
        nonce=NONCE,
        code_challenge=challenge,
        login_hint="a@example.com",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "https://app.example.com/cb",
        "scope": "openid email profile",
        "state": "st",
        "nonce": NONCE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "a@example.com",
    }


def exchange(idp: FakeIdp) -> dict[str, Any]:
    rp = make_rp(idp)

    async def go() -> dict[str, Any]:
        endpoints = await rp.discover(ISSUER)
        return await rp.exchange_code(
            endpoints,
            client_id=CLIENT_ID,
            client_secret="s3cr:t",
            code="code-1",
            redirect_uri="https://app.example.com/cb",
            code_verifier="v" * 43,
        )

    return run(go())


def test_exchange_code_with_client_secret_basic() -> None:
    idp = FakeIdp()
    assert exchange(idp)["access_token"] == "at-1"
    request = idp.token_requests[0]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:s3cr%3At".encode()).decode()
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["code-1"],
        "redirect_uri": ["https://app.example.com/cb"],
        "code_verifier": ["v" * 43],
    }


def test_exchange_code_with_client_secret_post_when_only_that_is_supported() -> None:
    idp = FakeIdp()
    idp.auth_methods = ["client_secret_post"]
    exchange(idp)
    request = idp.token_requests[0]
    assert "authorization" not in request.headers
    form = parse_qs(request.content.decode())
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == ["s3cr:t"]


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, {"error": "invalid_grant", "error_description": "code used"}, "token endpoint error: invalid_grant"),
        (400, {"error": "<script>alert(1)</script>"}, "token endpoint answered 400"),
        (500, "oops", "token endpoint answered 500"),
        (200, "not json", "token response is not JSON"),
        (200, ["a"], "token response is not a JSON object"),
        (200, {"access_token": "at-1"}, "token response has no id_token"),
    ],
)
def test_exchange_code_errors(status: int, body: Any, reason: str) -> None:
    idp = FakeIdp()
    idp.token_status, idp.token_body = status, body
    with pytest.raises(OidcError) as caught:
        exchange(idp)
    assert caught.value.reason == reason


def test_userinfo_sub_must_match() -> None:
    idp = FakeIdp()
    rp = make_rp(idp)
    endpoints = run(rp.discover(ISSUER))
    assert run(rp.userinfo(endpoints, "at-1", expected_sub="user-1"))["email"] == "a@example.com"
    idp.userinfo_body = {"sub": "user-2", "email": "b@example.com"}
    with pytest.raises(OidcError, match="userinfo sub mismatch"):
        run(rp.userinfo(endpoints, "at-1", expected_sub="user-1"))


def test_error_reasons_never_carry_token_content() -> None:
    token = sign(claims(nonce="secret-nonce-value", iss="https://evil.example.com"))
    with pytest.raises(OidcError) as caught:
        validate(token)
    assert "secret-nonce-value" not in str(caught.value) and token not in str(caught.value)
