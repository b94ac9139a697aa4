"""Every route's endpoint reaches FastAPI as a coroutine, so a response model is validated on the
event loop: a sync endpoint costs one thread hop (its own call), not two (``web/routing.py``)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tenantry.web.routing import OneHopRoute
from tests.support import Api


def test_every_route_of_the_app_is_a_coroutine_for_fastapi(api: Api) -> None:
    routes = [r.original_route for r in iter_route_contexts(api.client.app.routes)]
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) > 100
    sync = [f"{sorted(r.methods)} {r.path}" for r in api_routes if not inspect.iscoroutinefunction(r.dependant.call)]
    assert not sync, f"routes FastAPI would run with two thread hops: {sync}"


def test_the_response_model_of_a_wrapped_endpoint_is_kept(api: Api) -> None:
    schema = api.client.get("/api/openapi.json").json()
    created = schema["paths"]["/api/v1/users"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created.get("type") == "object"  # from the endpoint's ``dict[str, Any]`` annotation


def test_a_sync_endpoint_still_runs_off_the_event_loop_and_is_validated() -> None:
    router = APIRouter(route_class=OneHopRoute)
    seen: dict[str, Any] = {}

    @router.get("/sync")
    def sync_endpoint(q: int) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            seen["on_loop"] = True
        except RuntimeError:
            seen["on_loop"] = False
        seen["thread"] = threading.current_thread().name
        return {"q": q}

    @router.get("/bad")
    def bad_endpoint() -> int:
        return "not a number"  # type: ignore[return-value]

    app = FastAPI()
    app.include_router(router)
    assert inspect.iscoroutinefunction(router.routes[0].endpoint)  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/sync", params={"q": "7"}).json() == {"q": 7}
        assert client.get("/sync", params={"q": "x"}).status_code == 422  # parameters still parsed
        assert client.get("/bad").status_code == 500  # the response model still checked
    assert seen["on_loop"] is False and seen["thread"] != threading.main_thread().name
