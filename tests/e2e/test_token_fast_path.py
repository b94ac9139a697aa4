"""The token endpoint's fast path: client credentials from memory once the client is cached;
authorization-code and refresh grants through the route's own ``grant_response``, their errors
from the application's handlers; every other request — wrong secret, another grant, a malformed
form — still gets the regular route's answer."""

from __future__ import annotations

import base64

import pytest

from tenantry.web.oauth import fast_token
from tenantry.web.oauth.fast_token import TokenFastPath
from tests.e2e.oidc_helpers import authorize_params, browser_for, callback_query, exchange, login, make_world, pkce
from tests.support import Api, rand


def _m2m(api: Api) -> tuple[str, str]:
    response = api.call("POST", "/clients", json={"name": rand("fast"), "type": "MACHINE_TO_MACHINE"})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["clientSecret"]


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_fast_path_serves_cached_clients_and_defers_everything_else(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[bool] = []
    original = TokenFastPath._client_credentials

    def spy(self: TokenFastPath, *args: object) -> bytes | None:
        answer = original(self, *args)  # type: ignore[arg-type]
        served.append(answer is not None)
        return answer

    monkeypatch.setattr(TokenFastPath, "_client_credentials", spy)
    client_id, secret = _m2m(api)
    form = {"grant_type": "client_credentials"}
    first = api.client.post("/api/v1/oauth2/token", data=form, headers=_basic(client_id, secret))
    second = api.client.post("/api/v1/oauth2/token", data=form, headers=_basic(client_id, secret))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert served[-1] is True  # the second came from memory
    assert set(first.json()) == set(second.json()) and second.headers["cache-control"] == "no-store"
    assert second.json()["token_type"] == "Bearer"
    # The token authenticates on the management API (a client without roles sees nothing: 404).
    me = api.client.get(
        f"/api/v1/clients/{client_id}", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert me.status_code == 404 and me.json()["code"] == "client_not_found", me.text

    wrong = api.client.post("/api/v1/oauth2/token", data=form, headers=_basic(client_id, secret + "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    repeated = api.client.post(
        "/api/v1/oauth2/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={**_basic(client_id, secret), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    unsupported = api.client.post(
        "/api/v1/oauth2/token", data={"grant_type": "password"}, headers=_basic(client_id, secret)
    )
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    as_json = api.client.post("/api/v1/oauth2/token", json=form, headers=_basic(client_id, secret))
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    deleted = api.call("DELETE", f"/clients/{client_id}")
    assert deleted.status_code == 204, deleted.text
    gone = api.client.post("/api/v1/oauth2/token", data=form, headers=_basic(client_id, secret))
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_client"


def test_code_and_refresh_grants_go_through_the_fast_path(any_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    grants: list[str] = []
    original = fast_token.grant_response

    def spy(*args: object) -> dict[str, object]:
        grants.append(str(args[-1]["grant_type"]))  # type: ignore[index]
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(fast_token, "grant_response", spy)
    world = make_world(any_api)
    verifier, challenge = pkce()
    with browser_for(any_api) as browser:
        code = callback_query(login(world, browser, authorize_params(world, challenge)))["code"]
    tokens = exchange(world, code, verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store" and tokens.headers["pragma"] == "no-cache"
    assert set(tokens.json()) == {"access_token", "token_type", "expires_in", "refresh_token", "id_token", "scope"}
    replayed = exchange(world, code, verifier)  # the same code again: an error from the app's handler
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant", replayed.text
    assert replayed.headers["cache-control"] == "no-store"
    refreshed = any_api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
        headers=world.basic(),
    )
    # The replay revoked the code's tokens: the refresh token is refused too.
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant", refreshed.text
    assert grants == ["authorization_code", "authorization_code", "refresh_token"]
    wrong_client = any_api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers=_basic(world.client_id, "not-the-secret"),
    )
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"
    assert wrong_client.headers["www-authenticate"].startswith("Basic")
