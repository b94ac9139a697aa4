"""The authorization-code flow end to end through HTTP: authorize → hosted login → code →
tokens → userinfo → refresh → revoke → logout."""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.e2e.oidc_helpers import authorize_params, browser_for, callback_query, exchange, login, make_world, pkce
from tests.support import Api


def test_full_flow(any_api: Api) -> None:
    world = make_world(any_api)
    verifier, challenge = pkce()
    params = authorize_params(world, challenge)
    with browser_for(any_api) as browser:
        query = callback_query(login(world, browser, params))
        assert query["state"] == params["state"]
        assert query["tenant_name"] == world.tenant["domainName"] == query["tenant_domain"]
        tokens = exchange(world, query["code"], verifier)
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "id_token", "scope"}
        keys = KeySet.import_key_set(any_api.client.get("/api/v1/oauth2/jwks").json())
        id_token = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
        assert id_token["nonce"] == params["nonce"] and id_token["aud"] == world.client_id
        assert id_token["iss"] == f"https://{any_api.vanity}" and id_token["sub"] == world.user["id"]
        assert id_token["at_hash"] and abs(id_token["auth_time"] - time.time()) < 60
        info = any_api.client.get(
            "/api/v1/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert info.status_code == 200, info.text
        claims = info.json()
        assert claims["sub"] == world.user["id"] and claims["tnt_id"] == world.tenant["id"]
        assert claims["idp_name"] == "wristband" and claims["email"] == world.user["email"]
        assert claims["given_name"] == "Ada" and claims["roles"] == []

        # The session cookie now answers authorize without a form.
        again = browser.get(
            world.tenant_url("/api/v1/oauth2/authorize"),
            params=authorize_params(world, challenge),
            follow_redirects=False,
        )
        assert "code=" in again.headers["location"]

        refreshed = any_api.client.post(
            "/api/v1/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
            headers=world.basic(),
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["refresh_token"] != body["refresh_token"]

        revoked = any_api.client.post(
            "/api/v1/oauth2/revoke", data={"token": refreshed.json()["refresh_token"]}, headers=world.basic()
        )
        assert revoked.status_code == 200
        after = any_api.client.post(
            "/api/v1/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
            headers=world.basic(),
        )
        assert after.json()["error"] == "invalid_grant"

        out = browser.get(world.tenant_url(f"/api/v1/logout?client_id={world.client_id}"), follow_redirects=False)
        assert out.status_code == 302 and out.headers["location"] == "https://app.test/login"
        none = browser.get(
            world.tenant_url("/api/v1/oauth2/authorize"),
            params=authorize_params(world, challenge, prompt="none"),
            follow_redirects=False,
        )
        assert callback_query(none)["error"] == "login_required"
