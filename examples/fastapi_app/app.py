"""A small B2B app built with the unmodified ``wristband-fastapi-auth`` SDK, pointed at Tenantry.

Run it against `make run`'s demo (values from `.tenantry/demo.json`):

    export SSL_CERT_FILE=.tenantry/tls/ca.pem
    export VANITY_DOMAIN=localhost:8443 CLIENT_ID=... CLIENT_SECRET=... SESSION_SECRET=$(openssl rand -hex 32)
    uvicorn --factory examples.fastapi_app.app:create_app --port 9443 \
        --ssl-certfile .tenantry/tls/cert.pem --ssl-keyfile .tenantry/tls/key.pem

Routes: ``/auth/login`` (starts the login), ``/auth/callback``, ``/auth/logout``, ``/me`` (needs a
session), ``/api/hello`` (needs a Tenantry access token as Bearer), ``/`` (public).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from wristband.fastapi_auth import (
    AuthConfig,
    CallbackResultType,
    JWTAuthResult,
    LogoutConfig,
    Session,
    SessionMiddleware,
    WristbandAuth,
    get_session,
)


def create_app() -> FastAPI:
    vanity = os.environ["VANITY_DOMAIN"]
    auth = WristbandAuth(
        AuthConfig(
            client_id=os.environ["CLIENT_ID"],
            client_secret=os.environ["CLIENT_SECRET"],
            wristband_application_vanity_domain=vanity,
            scopes=["openid", "offline_access", "email", "profile", "roles"],
        )
    )
    app = FastAPI(title="Example app on Tenantry")
    app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_SECRET"])
    require_session = auth.create_session_auth_dependency()
    require_jwt = auth.create_jwt_auth_dependency()

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return '<h1>Example app</h1><a id="login" href="/auth/login">Sign in</a>'

    @app.get("/auth/login")
    async def login(request: Request) -> Response:
        return await auth.login(request)

    @app.get("/auth/callback")
    async def callback(request: Request) -> Response:
        result = await auth.callback(request)
        if result.type == CallbackResultType.REDIRECT_REQUIRED:
            return await auth.create_callback_response(request, result.redirect_url)
        session = get_session(request)
        session.from_callback(result.callback_data)
        return await auth.create_callback_response(request, result.callback_data.return_url or "/me")

    @app.get("/auth/logout")
    async def logout(request: Request) -> Response:
        session = get_session(request)
        config = LogoutConfig(refresh_token=session.refresh_token, tenant_name=session.tenant_name)
        session.clear()
        return await auth.logout(request, config)

    @app.get("/me")
    async def me(session: Session = Depends(require_session)) -> dict[str, Any]:
        return {
            "userId": session.user_id,
            "tenantId": session.tenant_id,
            "tenantName": session.tenant_name,
            "identityProviderName": session.identity_provider_name,
            "accessToken": session.access_token,
        }

    @app.get("/api/hello")
    async def hello(auth_result: JWTAuthResult = Depends(require_jwt)) -> dict[str, Any]:
        return {"hello": auth_result.payload.sub, "tenant": auth_result.payload.get("tnt_id")}

    @app.get("/signed-out", response_class=RedirectResponse)
    async def signed_out() -> str:
        return "/"

    return app
