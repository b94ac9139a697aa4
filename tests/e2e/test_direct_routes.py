"""The hosted login's requests go through ``DirectRoutes``, never through FastAPI's router: a
complete sign-in (authorize, the page, the form's POST, the code exchange) on both databases,
with the requests that reach the router counted. A route that stops qualifying (a parameter
FastAPI must parse, a response model) fails here rather than silently costing FastAPI's work."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRouter
from starlette.types import Receive, Scope, Send

from tests.e2e.oidc_helpers import authorize_params, browser_for, callback_query, exchange, login, make_world, pkce
from tests.support import Api


def test_the_hosted_login_never_reaches_fastapis_router(any_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(any_api)
    routed: list[str] = []
    original = APIRouter.__call__

    async def counting(self: APIRouter, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            routed.append(f"{scope['method']} {scope['path']}")
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRouter, "__call__", counting)
    verifier, challenge = pkce()
    with browser_for(any_api) as browser:
        code = callback_query(login(world, browser, authorize_params(world, challenge)))["code"]
    tokens = exchange(world, code, verifier)
    assert tokens.status_code == 200, tokens.text
    assert routed == []
    # The same counter sees what does go through FastAPI: a route with a path parameter.
    assert any_api.call("GET", f"/clients/{world.client_id}").status_code == 200
    assert routed == [f"GET /api/v1/clients/{world.client_id}"]
