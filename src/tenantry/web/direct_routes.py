"""Direct routes: plain routes answered through a dictionary, in front of FastAPI's router.

The hosted login is three requests before the token call (authorize, the sign-in page, the
form's POST), and profiled one at a time FastAPI's routing and dependency solving were more than
half of each one's Python work besides the endpoint itself: matching walks the included routers
one by one, and ``solve_dependencies`` is written for every kind of parameter. These endpoints
need none of it: their paths are fixed, they take only the ``Request`` and dependencies that read
the request (``deps.py``: the services, the host's application and tenant), and they return a
``Response``.

``DirectRoutes`` takes the routes of the routers given that are like that, in the order FastAPI
matches them: a path without parameters that no earlier route of those routers also matches, an
endpoint and dependencies that are coroutine functions taking nothing but the request and such
dependencies, no response model. A request for one of them (by exact method and path) is
answered by resolving the dependencies in order (each one once per request, as FastAPI caches
them), awaiting the endpoint and sending its response; an error before the response is answered
by the application's own exception handlers, as the route's would be. Every other request, and
every other route, goes to FastAPI unchanged. Routes whose dependencies FastAPI must parse or
whose values FastAPI must serialise keep FastAPI's way; ``app.dependency_overrides`` is not
consulted (the application does not use it).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.web.fast_paths import ErrorHandler, error_response

Arguments = Callable[[Request, dict[Callable[..., Any], Any]], Awaitable[dict[str, Any]]]


class DirectRoutes:
    def __init__(
        self,
        app: ASGIApp,
        routers: Iterable[APIRouter],
        handlers: Mapping[Any, ErrorHandler],
        router: APIRouter,
    ) -> None:
        self.app = app
        self.router = router  # the application's, for ``request.url_for`` as Starlette sets it
        self.handlers = handlers
        self.routes: dict[tuple[str, str], tuple[APIRoute, Arguments]] = {}
        earlier: list[APIRoute] = []
        for included in routers:
            for route in included.routes:
                if not isinstance(route, APIRoute):
                    continue
                arguments = _direct_arguments(route)
                if arguments is not None and not any(_overlaps(other, route) for other in earlier):
                    for method in route.methods or ():
                        self.routes.setdefault((method, route.path), (route, arguments))
                earlier.append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, arguments = found
        scope["route"] = route  # for the access log and metrics, as Starlette sets them
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        scope.setdefault("router", self.router)
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(**await arguments(request, {}))
            if not isinstance(response, Response):
                raise TypeError(f"{route.path}: a direct route must return a Response, not {type(response)}")
        except Exception as error:
            response = await error_response(self.handlers, request, error)
        await response(scope, receive, send)


def _overlaps(earlier: APIRoute, route: APIRoute) -> bool:
    """Whether FastAPI could pick ``earlier`` for a request meant for ``route``."""
    return (
        bool((earlier.methods or set()) & (route.methods or set())) and earlier.path_regex.match(route.path) is not None
    )


def _direct_arguments(route: APIRoute) -> Arguments | None:
    """How to call ``route``'s endpoint without FastAPI, or ``None`` when it needs FastAPI."""
    if "{" in route.path or route.response_model is not None or not _takes_only_request(route.dependant):
        return None
    return _arguments_of(route.dependant)


def _takes_only_request(dependant: Dependant) -> bool:
    return (
        inspect.iscoroutinefunction(dependant.call)
        and not (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
        )
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
        and all(sub.name and _takes_only_request(sub) for sub in dependant.dependencies)
    )


def _arguments_of(dependant: Dependant) -> Arguments:
    """The keyword arguments of ``dependant.call`` for a request: the request itself under its
    parameter's name, and each dependency's value (from ``cache`` when it was already resolved
    for this request and may be reused)."""
    request_name = dependant.request_param_name
    # ``_takes_only_request`` let through only dependencies with a name and a coroutine function.
    subs = [
        (str(sub.name), cast(Callable[..., Awaitable[Any]], sub.call), sub.use_cache, _arguments_of(sub))
        for sub in dependant.dependencies
    ]

    async def arguments(request: Request, cache: dict[Callable[..., Any], Any]) -> dict[str, Any]:
        values: dict[str, Any] = {request_name: request} if request_name else {}
        for name, call, use_cache, sub_arguments in subs:
            if use_cache and call in cache:
                value = cache[call]
            else:
                value = await call(**await sub_arguments(request, cache))
                if use_cache:
                    cache[call] = value
            values[name] = value
        return values

    return arguments
