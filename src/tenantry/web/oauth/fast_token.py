"""The token endpoint's fast path: ``POST /api/v1/oauth2/token`` answered in front of FastAPI's
router. Routing and dependency solving were a third of a client-credentials token's CPU.

- ``client_credentials`` is answered from memory when the client is cached and its secret is
  right: no database, no thread; signing is the only real work.
- ``authorization_code`` and ``refresh_token`` (every login, every refresh) run the route's own
  ``grant_response`` in the thread pool; their errors are answered by the application's exception
  handlers, as the route's are.

Anything else — another grant, an uncached client or a wrong secret for client credentials, a
body that is not a form it can read, repeated parameters — goes to the route with the body
replayed, so those answers come from the one place that maps errors."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.protocols.oauth2.client_auth import parse_client_credentials
from tenantry.protocols.oauth2.errors import OAuth2Error
from tenantry.web.fast_paths import ErrorHandler, error_response, posted_to, read_body, render_json, send_json
from tenantry.web.hosts import ApplicationResolver
from tenantry.web.oauth.token import check_client, client_credentials_response, grant_response, parse_token_form
from tenantry.web.threads import run_in_thread

PATH = "/api/v1/oauth2/token"
MAX_FAST_BODY = 4096
ROUTE = SimpleNamespace(path=PATH)
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
USER_GRANTS = ("authorization_code", "refresh_token")


class TokenFastPath:
    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        resolver: ApplicationResolver,
        handlers: Mapping[Any, ErrorHandler],
    ) -> None:
        self.app = app
        self.services = services
        self.resolver = resolver
        self.handlers = handlers

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
        form = _form(body)
        authorization = headers.authorization or None
        grant_type = form.get("grant_type") if form is not None else None
        if form is not None and grant_type == "client_credentials":
            answer = self._client_credentials(application, authorization, form)
        elif form is not None and grant_type in USER_GRANTS:
            scope["route"] = ROUTE  # for the access log and metrics
            clients = self.services.clients
            try:
                document = await run_in_thread(grant_response, self.services, clients, application, authorization, form)
            except Exception as error:
                response = await error_response(self.handlers, Request(scope, replay), error)
                await response(scope, replay, send)
                return
            answer = render_json(document)
        else:
            answer = None
        if answer is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = ROUTE
        await send_json(send, 200, answer, NO_STORE)

    def _client_credentials(
        self, application: Application, authorization: str | None, form: dict[str, str]
    ) -> bytes | None:
        """The token from memory; ``None`` when the client is not cached or anything is wrong (the
        route then says what)."""
        try:
            credentials = parse_client_credentials(authorization, form)
            found, client = self.services.clients.cached(application.id, credentials.client_id)
            if not found:
                return None
            checked = check_client(client, credentials.client_secret)
            return render_json(client_credentials_response(self.services, application, checked))
        except OAuth2Error:
            return None


def _form(body: bytes) -> dict[str, str] | None:
    """The form as the route reads it, or ``None`` for one the route must refuse itself."""
    try:
        return parse_token_form(body)
    except OAuth2Error:
        return None
