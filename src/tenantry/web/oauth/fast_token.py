"""The client-credentials fast path: ``POST /api/v1/oauth2/token`` answered in front of FastAPI's
router when everything it needs is in memory (the application of the host, the client, a valid
secret). Routing and dependency solving were a third of such a token's CPU; signing is the only
real work. Anything else — another grant, an unknown or uncached client, a wrong secret, a
malformed request — is handed to the regular route with the body replayed, so every answer
other than the successful one comes from the one place that maps errors."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.bootstrap import Services
from tenantry.core.clients.model import ClientType
from tenantry.protocols.oauth2.client_auth import parse_client_credentials
from tenantry.protocols.oauth2.errors import OAuth2Error
from tenantry.web.fast_paths import posted_to, read_body, send_json
from tenantry.web.hosts import ApplicationResolver
from tenantry.web.oauth.token import client_credentials_response

PATH = "/api/v1/oauth2/token"
MAX_FAST_BODY = 4096
ROUTE = SimpleNamespace(path=PATH)
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class TokenFastPath:
    def __init__(self, app: ASGIApp, services: Services, resolver: ApplicationResolver) -> None:
        self.app = app
        self.services = services
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = posted_to(scope, PATH)
        application = self.resolver.cached(headers.host) if headers and headers.host else None
        if (
            headers is None
            or application is None
            or not headers.body_within(MAX_FAST_BODY)
            or headers.media_type() != "application/x-www-form-urlencoded"
        ):
            await self.app(scope, receive, send)
            return
        body, replay = await read_body(receive)
        answer = self._answer(application, headers.authorization or None, body)
        if answer is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = ROUTE  # for the access log and metrics
        await send_json(send, 200, answer, NO_STORE)

    def _answer(self, application: Any, authorization: str | None, body: bytes) -> bytes | None:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        form = dict(pairs)
        if len(form) != len(pairs) or form.get("grant_type") != "client_credentials":
            return None
        try:
            credentials = parse_client_credentials(authorization, form)
        except OAuth2Error:
            return None
        found, client = self.services.clients.cached(application.id, credentials.client_id)
        if (
            not found
            or client is None
            or client.type is not ClientType.MACHINE_TO_MACHINE
            or credentials.client_secret is None
            or not client.verify_secret(credentials.client_secret)
        ):
            return None
        return json.dumps(client_credentials_response(self.services, application, client)).encode()
