"""The token endpoint, JWKS, discovery, key rotation, and bearer-token checks on the API
(Wristband API §2; SDK notes §1 #5, #8)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from tests.e2e._helpers import assert_base_error, client_token, create_role, foreign_key
from tests.support import Api, build_api, rand

TOKEN = "/api/v1/oauth2/token"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def header_of(token: str) -> dict[str, Any]:
    return dict(jws.extract_compact(token.encode()).headers())


def claims_of(api: Api, token: str) -> dict[str, Any]:
    """The claims, after verifying the signature with the published JWKS."""
    keys = KeySet.import_key_set(api.client.get("/api/v1/oauth2/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def oauth_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(any_api, method):
    form = {"grant_type": "client_credentials"}
    headers: dict[str, str] = {}
    if method == "client_secret_basic":
        headers = basic(any_api.m2m_id, any_api.m2m_secret)
    else:
        form |= {"client_id": any_api.m2m_id, "client_secret": any_api.m2m_secret}
    response = any_api.client.post(TOKEN, data=form, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    assert any_api.call("GET", f"/applications/{any_api.application_id}", token=body["access_token"]).status_code == 200


def test_access_token_is_an_rs256_jwt_signed_by_a_published_key(any_api):
    token = any_api.token_for(any_api.m2m_id, any_api.m2m_secret)
    header = header_of(token)
    assert header["alg"] == "RS256" and header["kid"]
    assert header["kid"] in {k["kid"] for k in any_api.client.get("/api/v1/oauth2/jwks").json()["keys"]}
    claims = claims_of(any_api, token)
    assert claims["iss"] == f"https://{any_api.vanity}"
    assert claims["sub"] == claims["client_id"] == any_api.m2m_id
    assert claims["app_id"] == any_api.application_id
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]
    assert "tnt_id" not in claims
    assert claims_of(any_api, any_api.token_for(any_api.m2m_id, any_api.m2m_secret))["jti"] != claims["jti"]


def test_tenant_clients_tokens_carry_tnt_id(any_api):
    tenant = any_api.create_tenant()
    client_id, token = client_token(any_api, tenant["id"], [create_role(any_api, tenant["id"], ["user:read"])["id"]])
    claims = claims_of(any_api, token)
    assert claims["tnt_id"] == tenant["id"] and claims["sub"] == client_id


def test_jwks_publishes_only_public_rsa_keys(any_api):
    response = any_api.client.get("/api/v1/oauth2/jwks")
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA" and key["kid"] and key["n"] and key["e"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private key material in the JWKS"
        assert len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 >= 2048


def test_openid_configuration(any_api):
    response = any_api.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200, response.text
    doc = response.json()
    issuer = f"https://{any_api.vanity}"
    assert doc["issuer"] == issuer
    assert doc["token_endpoint"] == f"{issuer}/api/v1/oauth2/token"
    assert doc["jwks_uri"] == f"{issuer}/api/v1/oauth2/jwks"


@pytest.mark.parametrize("case", ["wrong-secret", "unknown-client", "empty-secret", "post-wrong-secret"])
def test_bad_client_credentials_are_invalid_client(any_api, case):
    form = {"grant_type": "client_credentials"}
    headers: dict[str, str] = {}
    if case == "wrong-secret":
        headers = basic(any_api.m2m_id, any_api.m2m_secret + "x")
    elif case == "unknown-client":
        headers = basic(rand("nobody"), any_api.m2m_secret)
    elif case == "empty-secret":
        headers = basic(any_api.m2m_id, "")
    else:
        form |= {"client_id": any_api.m2m_id, "client_secret": "nope"}
    oauth_error(any_api.client.post(TOKEN, data=form, headers=headers), 401, "invalid_client")


def test_no_client_authentication_is_invalid_client(any_api):
    oauth_error(any_api.client.post(TOKEN, data={"grant_type": "client_credentials"}), 401, "invalid_client")


def test_missing_grant_type_is_invalid_request(any_api):
    response = any_api.client.post(TOKEN, data={}, headers=basic(any_api.m2m_id, any_api.m2m_secret))
    oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("grant", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"])
def test_unsupported_grant_types(any_api, grant):
    form = {"grant_type": grant, "username": "a", "password": "b"}
    response = any_api.client.post(TOKEN, data=form, headers=basic(any_api.m2m_id, any_api.m2m_secret))
    oauth_error(response, 400, "unsupported_grant_type")


def test_json_body_is_invalid_request(any_api):
    response = any_api.client.post(
        TOKEN, json={"grant_type": "client_credentials"}, headers=basic(any_api.m2m_id, any_api.m2m_secret)
    )
    oauth_error(response, 400, "invalid_request")


def test_two_client_authentication_methods_are_invalid_request(any_api):
    form = {"grant_type": "client_credentials", "client_id": any_api.m2m_id, "client_secret": any_api.m2m_secret}
    response = any_api.client.post(TOKEN, data=form, headers=basic(any_api.m2m_id, any_api.m2m_secret))
    oauth_error(response, 400, "invalid_request")


def test_repeated_parameter_is_invalid_request(any_api):
    response = any_api.client.post(
        TOKEN,
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic(any_api.m2m_id, any_api.m2m_secret)},
    )
    oauth_error(response, 400, "invalid_request")


def test_client_credentials_is_for_m2m_clients_only(any_api):
    body = {"name": rand("web"), "type": "BACKEND_SERVER", "redirectUris": ["https://app.example.com/cb"]}
    web = any_api.call("POST", "/clients", json=body).json()
    response = any_api.client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(web["id"], web["clientSecret"])
    )
    oauth_error(response, 400, "unauthorized_client")


def test_key_rotation_keeps_old_tokens_valid(any_api):
    old_token = any_api.token_for(any_api.m2m_id, any_api.m2m_secret)
    old_kid = header_of(old_token)["kid"]
    new_kid = any_api.services.keys.rotate(token_lifetime=timedelta(hours=1))
    assert new_kid != old_kid
    kids = {k["kid"] for k in any_api.client.get("/api/v1/oauth2/jwks").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert any_api.call("GET", f"/applications/{any_api.application_id}", token=old_token).status_code == 200
    new_token = any_api.token_for(any_api.m2m_id, any_api.m2m_secret)
    assert header_of(new_token)["kid"] == new_kid
    assert any_api.call("GET", f"/applications/{any_api.application_id}", token=new_token).status_code == 200
    claims_of(any_api, old_token)
    claims_of(any_api, new_token)


# --------------------------------------------------------------------------- bearer tokens on the API


def standard_claims(api: Api, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"https://{api.vanity}",
        "sub": api.m2m_id,
        "aud": [f"https://{api.vanity}"],
        "client_id": api.m2m_id,
        "app_id": api.application_id,
        "iat": now,
        "exp": now + 600,
        "jti": rand("jti"),
    }
    return {**claims, **overrides}


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.fixture(scope="module")
def other_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    built = build_api(tmp_path_factory.mktemp("other"))
    yield built
    built.services.close()


def test_a_token_signed_by_the_apps_own_key_is_accepted(any_api):
    """Control for the refusals below: the hand-made claims are the right shape."""
    token = any_api.services.keys.sign(standard_claims(any_api))
    assert any_api.call("GET", f"/applications/{any_api.application_id}", token=token).status_code == 200


BAD_TOKENS = [
    "missing",
    "empty",
    "garbage",
    "basic-scheme",
    "foreign-key",
    "foreign-key-same-kid",
    "alg-none",
    "expired",
    "no-exp",
    "other-issuer",
    "other-app-id",
    "unknown-subject",
    "subject-not-client",
    "tampered",
    "other-application",
]


def bad_token(api: Api, case: str, other: Api) -> dict[str, str]:
    sign = api.services.keys.sign
    if case == "missing":
        return {}
    if case == "empty":
        return {"Authorization": ""}
    if case == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if case == "basic-scheme":
        return basic(api.m2m_id, api.m2m_secret)
    if case == "foreign-key":
        token = jwt.encode({"alg": "RS256", "kid": foreign_key().kid}, standard_claims(api), foreign_key())
    elif case == "foreign-key-same-kid":
        kid = header_of(api.token)["kid"]
        token = jwt.encode({"alg": "RS256", "kid": kid}, standard_claims(api), foreign_key())
    elif case == "alg-none":
        token = unsigned(standard_claims(api))
    elif case == "expired":
        token = sign(standard_claims(api, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    elif case == "no-exp":
        claims = standard_claims(api)
        del claims["exp"]
        token = sign(claims)
    elif case == "other-issuer":
        token = sign(standard_claims(api, iss="https://other-app.example.com"))
    elif case == "other-app-id":
        token = sign(standard_claims(api, app_id="n" * 26))
    elif case == "unknown-subject":
        token = sign(standard_claims(api, sub="o" * 26, client_id="o" * 26))
    elif case == "subject-not-client":
        token = sign(standard_claims(api, sub="p" * 26))
    elif case == "tampered":
        head, payload, signature = api.token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["exp"] += 86400
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        token = f"{head}.{forged}.{signature}"
    else:  # a real token of another application
        token = other.token
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_bearer_tokens_are_401(any_api, other_app, case):
    tenant = any_api.create_tenant()
    headers = bad_token(any_api, case, other_app)
    response = any_api.client.get(f"/api/v1/tenants/{tenant['id']}", headers=headers)
    assert_base_error(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert tenant["domainName"] not in response.text
    created = any_api.client.post(
        "/api/v1/users",
        json={"tenantId": tenant["id"], "identityProviderName": "wristband", "email": "x@example.com"},
        headers=headers,
    )
    assert_base_error(created, 401)
    assert any_api.call("GET", f"/tenants/{tenant['id']}/users", params={"count": "0"}).json()["totalResults"] == 0
