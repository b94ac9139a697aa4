"""The unmodified ``wristband-python-m2m-auth`` and ``wristband-python-jwt`` SDKs against a real
``tenantry serve`` on ``https://localhost:PORT``.

Every token the server issues carries a fresh ``jti``, so two equal token strings mean the SDK
served the second one from its cache and two different ones mean it went back to the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from wristband.m2m_auth import AsyncWristbandM2MAuthClient, WristbandM2MAuthClient, WristbandM2MAuthConfig
from wristband.python_jwt import WristbandJwtValidator, WristbandJwtValidatorConfig, create_wristband_jwt_validator

from tests.compat.conftest import AppCredentials, TenantryServer, rand_email
from tests.compat.jwt_tools import foreign_key, parts, server_signing_key, sign_rs256

pytestmark = pytest.mark.compat


def m2m_config(app: AppCredentials, secret: str | None = None) -> WristbandM2MAuthConfig:
    return WristbandM2MAuthConfig(
        client_id=app.m2m_id,
        client_secret=secret if secret is not None else app.m2m_secret,
        wristband_application_vanity_domain=app.vanity,
    )


def validator_for(vanity: str) -> WristbandJwtValidator:
    return create_wristband_jwt_validator(WristbandJwtValidatorConfig(wristband_application_vanity_domain=vanity))


@pytest.fixture(scope="module")
def sdk_token(tenantry_server: TenantryServer) -> str:
    with WristbandM2MAuthClient(m2m_config(tenantry_server.app)) as client:
        return client.get_token()


@pytest.fixture(scope="module")
def validator(tenantry_server: TenantryServer) -> WristbandJwtValidator:
    return validator_for(tenantry_server.vanity)


def assert_server_token(token: str, app: AppCredentials) -> None:
    header, claims = parts(token)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == app.issuer
    assert claims["sub"] == app.m2m_id
    assert claims["client_id"] == app.m2m_id
    assert claims["app_id"] == app.application_id
    assert claims["exp"] > time.time() + 60  # the SDK subtracts a 60 s buffer


# --- wristband-python-m2m-auth --------------------------------------------------------------


def test_token_response_is_what_the_sdks_parse(tenantry_server: TenantryServer) -> None:
    """Form body, Basic auth, no scope: what m2m-auth and user-import send."""
    with tenantry_server.client() as client:
        response = client.post(
            "/api/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(tenantry_server.m2m_id, tenantry_server.m2m_secret),
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers.get("cache-control", "")
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 60
    assert_server_token(body["access_token"], tenantry_server.app)


def test_sync_m2m_client_fetches_caches_and_refetches(tenantry_server: TenantryServer) -> None:
    with WristbandM2MAuthClient(m2m_config(tenantry_server.app)) as client:
        first = client.get_token()
        assert_server_token(first, tenantry_server.app)
        assert client.get_token() == first  # cached
        client.clear_token()
        second = client.get_token()
        assert second != first  # fetched again
        assert_server_token(second, tenantry_server.app)
        assert client.get_token() == second


def test_async_m2m_client_fetches_caches_and_refetches(tenantry_server: TenantryServer) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with AsyncWristbandM2MAuthClient(m2m_config(tenantry_server.app)) as client:
            first = await client.get_token()
            cached = await client.get_token()
            client.clear_token()
            second = await client.get_token()
            again = await client.get_token()
            return first, cached, second, again

    first, cached, second, again = asyncio.run(scenario())
    assert_server_token(first, tenantry_server.app)
    assert cached == first
    assert second != first
    assert again == second
    assert_server_token(second, tenantry_server.app)


def assert_invalid_client(error: httpx.HTTPStatusError) -> None:
    assert error.response.status_code == 401
    assert error.response.json()["error"] == "invalid_client"
    assert error.response.headers.get("www-authenticate", "").lower().startswith("basic")


def sync_token_error(config: WristbandM2MAuthConfig) -> httpx.HTTPStatusError:
    with WristbandM2MAuthClient(config) as client:
        try:
            client.get_token()
        except httpx.HTTPStatusError as error:
            return error
    raise AssertionError("get_token() did not raise httpx.HTTPStatusError")


def test_sync_m2m_client_bad_secret_is_401(tenantry_server: TenantryServer) -> None:
    assert_invalid_client(sync_token_error(m2m_config(tenantry_server.app, secret="not-the-secret")))
    unknown = AppCredentials(tenantry_server.application_id, tenantry_server.vanity, "nosuchclient", "x" * 40)
    assert_invalid_client(sync_token_error(m2m_config(unknown)))


def test_async_m2m_client_bad_secret_is_401(tenantry_server: TenantryServer) -> None:
    async def scenario() -> None:
        async with AsyncWristbandM2MAuthClient(m2m_config(tenantry_server.app, secret="not-the-secret")) as client:
            await client.get_token()

    with pytest.raises(httpx.HTTPStatusError) as caught:
        asyncio.run(scenario())
    assert_invalid_client(caught.value)


def test_m2m_secret_of_one_application_does_not_work_on_another(tenantry_server: TenantryServer) -> None:
    """The admin client of 127.0.0.1:PORT is unknown on localhost:PORT."""
    crossed = AppCredentials(
        tenantry_server.application_id,
        tenantry_server.vanity,
        tenantry_server.other.m2m_id,
        tenantry_server.other.m2m_secret,
    )
    assert_invalid_client(sync_token_error(m2m_config(crossed)))


# --- wristband-python-jwt -------------------------------------------------------------------


def test_validator_accepts_the_server_token(
    tenantry_server: TenantryServer, validator: WristbandJwtValidator, sdk_token: str
) -> None:
    token = validator.extract_bearer_token(f"Bearer {sdk_token}")
    assert token == sdk_token
    result = validator.validate(token)
    assert result.is_valid, result.error_message
    assert result.error_message is None
    assert result.payload is not None
    assert result.payload.iss == f"https://{tenantry_server.vanity}"
    assert result.payload.sub == tenantry_server.m2m_id
    assert result.payload.get("app_id") == tenantry_server.application_id
    assert result.payload.get("client_id") == tenantry_server.m2m_id
    assert result.payload.exp is not None and result.payload.exp > time.time()
    assert result.payload.iat is not None and result.payload.iat <= time.time() + 5
    assert result.payload.jti
    # a second validation is served from the JWKS cache and stays valid
    assert validator.validate(token).is_valid


def test_jwks_is_what_the_validator_needs(tenantry_server: TenantryServer, sdk_token: str) -> None:
    header, _ = parts(sdk_token)
    with tenantry_server.client() as client:
        response = client.get("/api/v1/oauth2/jwks")
    assert response.status_code == 200
    keys = {k["kid"]: k for k in response.json()["keys"]}
    key = keys[header["kid"]]
    assert key["kty"] == "RSA"
    for member in ("n", "e"):
        assert "=" not in key[member] and "+" not in key[member] and "/" not in key[member]
    assert "d" not in key and "p" not in key  # public only


def test_validator_rejects_foreign_key_with_the_same_kid(validator: WristbandJwtValidator, sdk_token: str) -> None:
    header, claims = parts(sdk_token)
    forged = sign_rs256(header, claims, foreign_key())
    result = validator.validate(forged)
    assert not result.is_valid
    assert result.payload is None
    assert result.error_message == "Invalid signature"


def test_validator_rejects_foreign_key_with_an_unknown_kid(validator: WristbandJwtValidator, sdk_token: str) -> None:
    header, claims = parts(sdk_token)
    forged = sign_rs256({**header, "kid": "not-a-server-kid"}, claims, foreign_key())
    result = validator.validate(forged)
    assert not result.is_valid
    assert result.error_message is not None
    assert result.error_message.startswith("Failed to get signing key")


def test_validator_rejects_a_token_of_another_vanity(
    tenantry_server: TenantryServer, validator: WristbandJwtValidator
) -> None:
    """A genuine, correctly signed token of the application on 127.0.0.1:PORT."""
    other_token = tenantry_server.token(tenantry_server.other)
    assert_server_token(other_token, tenantry_server.other)
    result = validator.validate(other_token)
    assert not result.is_valid
    assert result.error_message == (
        f"Invalid issuer. Expected https://{tenantry_server.vanity}, got https://{tenantry_server.other.vanity}"
    )
    # control: the validator of that other vanity (its JWKS on https://127.0.0.1:PORT) accepts it
    accepted = validator_for(tenantry_server.other.vanity).validate(other_token)
    assert accepted.is_valid, accepted.error_message


def forged_with_server_key(tenantry_server: TenantryServer, token: str, **changes: Any) -> str:
    header, claims = parts(token)
    key = server_signing_key(tenantry_server.database, header["kid"])
    return sign_rs256(header, {**claims, **changes}, key)


def test_validator_rejects_an_expired_token(
    tenantry_server: TenantryServer, validator: WristbandJwtValidator, sdk_token: str
) -> None:
    # control: re-signing the same claims with the server's key gives a valid token
    resigned = forged_with_server_key(tenantry_server, sdk_token)
    assert validator.validate(resigned).is_valid
    now = int(time.time())
    expired = forged_with_server_key(tenantry_server, sdk_token, iat=now - 7200, exp=now - 3600)
    result = validator.validate(expired)
    assert not result.is_valid
    assert result.error_message == "Token has expired"
    # and a correctly signed token with a foreign issuer
    foreign_iss = forged_with_server_key(tenantry_server, sdk_token, iss="https://evil.example:443")
    result = validator.validate(foreign_iss)
    assert not result.is_valid
    assert result.error_message is not None and result.error_message.startswith("Invalid issuer")


def test_server_rejects_what_the_validator_rejects(tenantry_server: TenantryServer, sdk_token: str) -> None:
    header, claims = parts(sdk_token)
    now = int(time.time())
    rejected = {
        "foreign key, same kid": sign_rs256(header, claims, foreign_key()),
        "foreign key, unknown kid": sign_rs256({**header, "kid": "not-a-server-kid"}, claims, foreign_key()),
        "expired": forged_with_server_key(tenantry_server, sdk_token, iat=now - 7200, exp=now - 3600),
        "other vanity": tenantry_server.token(tenantry_server.other),
    }
    with tenantry_server.client() as client:
        assert client.get("/api/v1/oauth2/jwks").status_code == 200
        ok = client.get(
            f"/api/v1/applications/{tenantry_server.application_id}", headers={"Authorization": f"Bearer {sdk_token}"}
        )
        assert ok.status_code == 200, ok.text
        for why, token in rejected.items():
            response = client.get(
                f"/api/v1/applications/{tenantry_server.application_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, (why, response.status_code, response.text)


# --- the SDK token on the management API ----------------------------------------------------


def test_sdk_token_authorizes_the_users_api(tenantry_server: TenantryServer, tenant_id: str, sdk_token: str) -> None:
    email = rand_email()
    with tenantry_server.client() as client:
        created = client.post(
            "/api/v1/users",
            headers={"Authorization": f"Bearer {sdk_token}"},
            json={"tenantId": tenant_id, "identityProviderName": "wristband", "email": email},
        )
        assert created.status_code == 201, created.text
        user = created.json()
        assert user["id"] and user["email"] == email and user["tenantId"] == tenant_id
        fetched = client.get(f"/api/v1/users/{user['id']}", headers={"Authorization": f"Bearer {sdk_token}"})
        assert fetched.status_code == 200 and fetched.json()["email"] == email
        anonymous = client.post(
            "/api/v1/users", json={"tenantId": tenant_id, "identityProviderName": "wristband", "email": rand_email()}
        )
        assert anonymous.status_code == 401
