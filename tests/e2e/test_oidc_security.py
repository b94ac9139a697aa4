"""The OIDC provider's refusals: redirect URIs, PKCE, code replay, refresh reuse, prompt=none,
bad tokens at userinfo, CSRF, lockout, and the SDK-facing discovery documents."""

from __future__ import annotations

import base64
import dataclasses
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tenantry.core.auth.settings import AuthSettings
from tests.e2e.oidc_helpers import (
    PASSWORD,
    World,
    authorize_params,
    browser_for,
    callback_query,
    csrf_from,
    exchange,
    login,
    make_world,
    pkce,
)
from tests.support import Api, build_api


def authorize(world: World, browser: TestClient, **params: str):  # type: ignore[no-untyped-def]
    url = world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params))
    return browser.get(url, follow_redirects=False)


@pytest.fixture
def world(api: Api) -> World:
    return make_world(api)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.test/callback",
        "https://app.test/callback/",
        "https://app.test/callback?x=1",
        "https://APP.test/callback",
    ],
)
def test_unregistered_redirect_uri_shows_an_error_page_and_never_redirects(world: World, redirect_uri: str) -> None:
    _, challenge = pkce()
    with browser_for(world.api) as browser:
        response = authorize(world, browser, **authorize_params(world, challenge, redirect_uri=redirect_uri))
    assert response.status_code == 400 and "location" not in response.headers
    assert "not registered" in response.text


def test_unknown_client_shows_an_error_page(world: World) -> None:
    _, challenge = pkce()
    with browser_for(world.api) as browser:
        response = authorize(world, browser, **authorize_params(world, challenge, client_id="nope"))
    assert response.status_code == 400 and "location" not in response.headers


def test_machine_to_machine_clients_cannot_authorize(world: World) -> None:
    _, challenge = pkce()
    with browser_for(world.api) as browser:
        response = authorize(world, browser, **authorize_params(world, challenge, client_id=world.api.m2m_id))
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"prompt": "consent"}, "invalid_request"),
        ({"state": "x" * 600}, "invalid_request"),
    ],
)
def test_bad_parameters_are_reported_to_the_client(world: World, change: dict[str, str], error: str) -> None:
    _, challenge = pkce()
    params = {**authorize_params(world, challenge), **change}
    with browser_for(world.api) as browser:
        query = callback_query(authorize(world, browser, **params))
    assert query["error"] == error and query["tenant_name"] == world.tenant["domainName"]


def test_missing_pkce_is_refused(world: World) -> None:
    _, challenge = pkce()
    params = authorize_params(world, challenge)
    del params["code_challenge"], params["code_challenge_method"]
    with browser_for(world.api) as browser:
        assert callback_query(authorize(world, browser, **params))["error"] == "invalid_request"


def test_prompt_none_without_a_session_is_login_required(world: World) -> None:
    _, challenge = pkce()
    params = authorize_params(world, challenge, prompt="none")
    with browser_for(world.api) as browser:
        query = callback_query(authorize(world, browser, **params))
    assert query["error"] == "login_required" and query["state"] == params["state"]


def _code(world: World) -> tuple[str, str]:
    verifier, challenge = pkce()
    with browser_for(world.api) as browser:
        return callback_query(login(world, browser, authorize_params(world, challenge)))["code"], verifier


def test_wrong_verifier_and_wrong_redirect_uri_fail(world: World) -> None:
    code, _ = _code(world)
    assert exchange(world, code, pkce()[0]).json()["error"] == "invalid_grant"
    code, verifier = _code(world)
    assert exchange(world, code, verifier, redirect_uri="https://app.test/other").json()["error"] == "invalid_grant"


def test_code_replay_revokes_what_it_issued(world: World) -> None:
    code, verifier = _code(world)
    first = exchange(world, code, verifier)
    assert first.status_code == 200
    replay = exchange(world, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    tokens = first.json()
    refreshed = world.api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=world.basic(),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    info = world.api.client.get(
        "/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 401


def test_refresh_token_reuse_revokes_the_family(world: World) -> None:
    code, verifier = _code(world)
    original = exchange(world, code, verifier).json()["refresh_token"]

    def use(token: str):  # type: ignore[no-untyped-def]
        return world.api.client.post(
            "/api/v1/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": token}, headers=world.basic()
        )

    rotated = use(original).json()["refresh_token"]
    assert use(original).json()["error"] == "invalid_grant"  # reuse: theft assumed
    assert use(rotated).json()["error"] == "invalid_grant"  # the whole family is gone


def test_codes_are_bound_to_their_client(world: World) -> None:
    other = make_world(world.api)
    code, verifier = _code(world)
    stolen = World(world.api, world.tenant, world.user, other.client_id, other.client_secret, world.redirect_uri)
    assert exchange(stolen, code, verifier).json()["error"] == "invalid_grant"


def test_token_endpoint_client_authentication(world: World) -> None:
    code, verifier = _code(world)
    wrong = World(world.api, world.tenant, world.user, world.client_id, "x" * 48, world.redirect_uri)
    response = exchange(wrong, code, verifier)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_userinfo_refuses_bad_tokens(api: Api, token: str) -> None:
    assert api.client.get("/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_userinfo_refuses_expired_tampered_and_m2m_tokens(world: World) -> None:
    code, verifier = _code(world)
    access = exchange(world, code, verifier).json()["access_token"]
    claims = world.api.services.keys.verify(access)
    expired = world.api.services.keys.sign({**claims, "exp": int(time.time()) - 5})
    header, payload, signature = access.split(".")
    forged_payload = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload + "==").replace(world.user["id"].encode(), b"a" * 26)
    ).rstrip(b"=")
    tampered = f"{header}.{forged_payload.decode()}.{signature}"
    for token in (expired, tampered, world.api.token):
        response = world.api.client.get("/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_login_form_needs_its_csrf_token(world: World) -> None:
    _, challenge = pkce()
    with browser_for(world.api) as browser:
        first = authorize(world, browser, **authorize_params(world, challenge))
        page = browser.get(world.tenant_url(first.headers["location"]))
        req = first.headers["location"].split("req=", 1)[1]
        for token in (None, "forged-" + "x" * 30):
            data = {"req": req, "identifier": world.user["email"], "password": PASSWORD}
            if token:
                data["csrf_token"] = token
            response = browser.post(world.tenant_url("/login"), data=data, follow_redirects=False)
            assert response.status_code == 403 and "tenantry_session" not in response.cookies
        assert csrf_from(page.text)


def test_wrong_password_and_unknown_user_answer_alike(world: World) -> None:
    _, challenge = pkce()
    with browser_for(world.api) as browser:
        wrong = login(world, browser, authorize_params(world, challenge), password="not the password")
        unknown = login(world, browser, authorize_params(world, challenge), identifier="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid email, username or password" in wrong.text and "Invalid email, username or password" in unknown.text


def test_lockout_after_repeated_failures(tmp_path: Path) -> None:
    locked_api = build_api(tmp_path)
    core = locked_api.services.core
    locked_api.services.core = dataclasses.replace(core, auth=AuthSettings(lockout_threshold=3, lockout_seconds=600))
    with locked_api.client:
        world = make_world(locked_api)
        _, challenge = pkce()
        with browser_for(locked_api) as browser:
            for _ in range(3):
                assert login(world, browser, authorize_params(world, challenge), password="wrong").status_code == 401
            blocked = login(world, browser, authorize_params(world, challenge))
        assert blocked.status_code == 401  # the right password no longer helps while locked
    locked_api.services.close()


def test_sdk_configuration(world: World) -> None:
    response = world.api.client.get(f"/api/v1/clients/{world.client_id}/sdk-configuration")
    assert response.status_code == 200
    assert response.json() == {
        "loginUrl": "https://app.test/login",
        "redirectUri": world.redirect_uri,
        "isApplicationCustomDomainActive": False,
        "customApplicationLoginPageUrl": None,
        "loginUrlTenantDomainSuffix": None,
    }
    good = world.api.client.get(f"/api/v1/clients/{world.client_id}/sdk-configuration", headers=world.basic())
    assert good.status_code == 200
    bad = World(world.api, world.tenant, world.user, world.client_id, "y" * 48, world.redirect_uri)
    assert (
        world.api.client.get(f"/api/v1/clients/{world.client_id}/sdk-configuration", headers=bad.basic()).status_code
        == 401
    )
    assert world.api.client.get("/api/v1/clients/unknown/sdk-configuration").status_code == 404


def test_placeholder_redirect_uri_is_matched_and_substituted(api: Api) -> None:
    world = make_world(api, redirect_uri="https://{tenant_name}.app.test/callback")
    verifier, challenge = pkce()
    with browser_for(api) as browser:
        response = login(world, browser, authorize_params(world, challenge))
    assert response.headers["location"].startswith(f"https://{world.tenant['domainName']}.app.test/callback?code=")
    assert exchange(world, callback_query(response)["code"], verifier).status_code == 200


def test_unknown_tenant_host_is_a_404(api: Api) -> None:
    response = api.client.get(f"https://nosuchtenant-{api.vanity}/api/v1/oauth2/authorize")
    assert response.status_code == 404
