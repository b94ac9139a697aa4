"""``DirectRoutes``: which routes it answers itself, and that it answers them as FastAPI would —
the same dependencies, each resolved once per request, errors through the application's handlers —
while everything else reaches FastAPI untouched."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from tenantry.web.direct_routes import DirectRoutes


class Teapot(Exception):
    pass


def _teapot(request: Request, error: Exception) -> Response:
    return JSONResponse({"code": "teapot", "path": request.url.path}, status_code=418)


CALLS: dict[str, int] = {}


async def host(request: Request) -> str:
    CALLS["host"] = CALLS.get("host", 0) + 1
    return request.headers.get("host", "")


async def tenant(host_name: Annotated[str, Depends(host)]) -> str:
    return host_name.split(".")[0]


async def fresh(request: Request) -> int:
    CALLS["fresh"] = CALLS.get("fresh", 0) + 1
    return CALLS["fresh"]


def sync_dependency(request: Request) -> str:
    return "sync"


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/page", response_model=None)
    async def page(
        request: Request,
        host_name: Annotated[str, Depends(host)],
        tenant_name: Annotated[str, Depends(tenant)],
        first: Annotated[int, Depends(fresh, use_cache=False)],
        second: Annotated[int, Depends(fresh, use_cache=False)],
    ) -> Response:
        link = request.url_for("submit")
        return PlainTextResponse(f"{request.method} {host_name} {tenant_name} {first}/{second} {link}")

    @router.post("/page", response_model=None)
    async def submit(request: Request) -> Response:
        body = await request.body()
        if body == b"boom":
            raise Teapot()
        return PlainTextResponse(body[::-1], status_code=201)

    @router.get("/query", response_model=None)
    async def query(q: str) -> Response:
        return PlainTextResponse(q)

    @router.get("/model")
    async def model() -> dict[str, Any]:
        return {"via": "fastapi"}

    @router.get("/sync-dependency", response_model=None)
    async def uses_sync(value: Annotated[str, Depends(sync_dependency)]) -> Response:
        return PlainTextResponse(value)

    @router.get("/items/{item}", response_model=None)
    async def item(item: str) -> Response:
        return PlainTextResponse(f"item {item}")

    @router.get("/items/new", response_model=None)
    async def new_item() -> Response:  # shadowed: FastAPI matches /items/{item} first
        return PlainTextResponse("new")

    return router


class World:
    """Routers of the shapes that matter, and what reached FastAPI."""

    def __init__(self) -> None:
        CALLS.clear()
        self.calls = CALLS
        router = _router()
        self.router = router
        self.app = FastAPI()
        self.app.include_router(router)
        self.app.add_exception_handler(Teapot, _teapot)
        self.to_fastapi: list[str] = []
        self.direct = DirectRoutes(
            self._fastapi, routers=[router], handlers=self.app.exception_handlers, router=self.app.router
        )

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.to_fastapi.append(scope["path"])
        await self.app(scope, receive, send)

    def request(self, asgi: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=asgi)
            async with httpx.AsyncClient(transport=transport, base_url="http://acme.example") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())


def test_takes_only_plain_routes_that_fastapi_would_pick() -> None:
    world = World()
    assert sorted(world.direct.routes) == [("GET", "/page"), ("POST", "/page")]


def test_answers_like_fastapi_with_each_dependency_resolved_once() -> None:
    world = World()
    direct = world.request(world.direct, "GET", "/page")
    assert world.to_fastapi == []
    assert world.calls == {"host": 1, "fresh": 2}  # host shared by the route and tenant; fresh not cached
    world.calls.clear()
    regular = world.request(world.app, "GET", "/page")
    assert world.calls == {"host": 1, "fresh": 2}
    assert (
        (direct.status_code, direct.text)
        == (regular.status_code, regular.text)
        == (200, "GET acme.example acme 1/2 http://acme.example/page")
    )
    assert direct.headers["content-type"] == regular.headers["content-type"]


def test_reads_the_body_and_keeps_the_status() -> None:
    world = World()
    answer = world.request(world.direct, "POST", "/page", content=b"abc")
    assert (answer.status_code, answer.text) == (201, "cba") and world.to_fastapi == []


def test_errors_are_answered_by_the_applications_handlers() -> None:
    world = World()
    direct = world.request(world.direct, "POST", "/page", content=b"boom")
    regular = world.request(world.app, "POST", "/page", content=b"boom")
    assert direct.status_code == regular.status_code == 418
    assert direct.json() == regular.json() == {"code": "teapot", "path": "/page"}
    assert world.to_fastapi == []


def test_everything_else_goes_to_fastapi() -> None:
    world = World()
    assert world.request(world.direct, "GET", "/query", params={"q": "x"}).text == "x"
    assert world.request(world.direct, "GET", "/model").json() == {"via": "fastapi"}
    assert world.request(world.direct, "GET", "/sync-dependency").text == "sync"
    assert world.request(world.direct, "GET", "/items/new").text == "item new"
    assert world.request(world.direct, "PUT", "/page").status_code == 405
    assert world.request(world.direct, "GET", "/nowhere").status_code == 404
    assert world.to_fastapi == ["/query", "/model", "/sync-dependency", "/items/new", "/page", "/nowhere"]
