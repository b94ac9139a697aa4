"""Create User's fast path: ``POST /api/v1/users`` in front of FastAPI's router.

Bulk provisioning scripts call Create User thousands of times in a row; FastAPI's routing,
dependency solving and response rendering were about a third of the server's CPU per user. The
fast path takes the request when the host's application and the caller are in memory (the bearer
token already verified, the principal cached) and the body is JSON it can read; it parses and
validates it as the route does (``json.loads``, then ``CreateUserBody``), runs the same
``created_user`` in the thread pool and answers 201. A body the model refuses, an unknown caller
or anything unusual goes to the regular route with the body replayed; an error from the use case
is answered by the application's own exception handlers, as the route's would be.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.bootstrap import Services
from tenantry.core.access import Principal
from tenantry.core.applications.model import Application
from tenantry.core.errors import Unauthenticated
from tenantry.web.api.schemas import CreateUserBody
from tenantry.web.api.users import created_user
from tenantry.web.auth import BearerAuthenticator
from tenantry.web.fast_paths import ErrorHandler, Headers, error_response, posted_to, read_body, render_json, send_json
from tenantry.web.hosts import ApplicationResolver
from tenantry.web.threads import run_in_thread

PATH = "/api/v1/users"
MAX_FAST_BODY = 16_384
ROUTE = SimpleNamespace(path=PATH)


class CreateUserFastPath:
    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        resolver: ApplicationResolver,
        bearer: BearerAuthenticator,
        handlers: Mapping[Any, ErrorHandler],
    ) -> None:
        self.app = app
        self.core = services.core
        self.resolver = resolver
        self.bearer = bearer
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = posted_to(scope, PATH)
        application = self.resolver.cached(headers.host) if headers and headers.host else None
        actor = self._cached_actor(headers, application) if headers and application else None
        if (
            headers is None
            or actor is None
            or not headers.body_within(MAX_FAST_BODY)
            or headers.media_type() != "application/json"
        ):
            await self.app(scope, receive, send)
            return
        raw, replay = await read_body(receive)
        body = _parsed(raw)
        if body is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = ROUTE  # for the access log and metrics
        try:
            document = await run_in_thread(created_user, self.core, actor, body)
        except Exception as error:
            response = await error_response(self.handlers, Request(scope, replay), error)
            await response(scope, replay, send)
            return
        await send_json(send, 201, render_json(document))

    def _cached_actor(self, headers: Headers, application: Application) -> Principal | None:
        try:
            return self.bearer.authenticate_cached(headers.authorization, application)
        except Unauthenticated:  # a known token that is not good here: the route says why
            return None


def _parsed(raw: bytes) -> CreateUserBody | None:
    """The body as the route reads it, or ``None`` for anything the route must answer itself."""
    try:
        return CreateUserBody.model_validate(json.loads(raw))
    except (ValueError, RecursionError, ValidationError):  # not UTF-8, not JSON, too deep, or refused
        return None
