"""Pieces of the authorization-code flow shared by the authorize endpoint and the login page:
the signed ``req`` that carries an authorize request through the hosted pages, and finishing
an authorization by redirecting back with a code."""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import RedirectResponse

from tenantry.adapters.security.keys import InvalidToken, KeyStore
from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.auth.grants import IssueCode, issue_code
from tenantry.core.auth.model import AuthSession, token_hash
from tenantry.core.clients.model import Client, ClientType
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User
from tenantry.protocols.oauth2.authorize import AuthorizeRequest, redirect_with

REQ_SECONDS = 1800
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SESSION_COOKIE = "tenantry_session"


def interactive_client(services: Services, application: Application, client_id: str | None) -> Client | None:
    """A client that may use the browser flow (not machine-to-machine), or ``None``."""
    if not client_id or len(client_id) > 64:
        return None
    client = services.clients.get(application.id, client_id)
    if client is None or client.type is ClientType.MACHINE_TO_MACHINE:
        return None
    return client


def encode_req(keys: KeyStore, tenant: Tenant, request: AuthorizeRequest) -> str:
    claims = {"typ": "authorize", "tnt": tenant.id, "p": request.as_params(), "exp": int(time.time()) + REQ_SECONDS}
    return keys.seal(claims)


def decode_req(keys: KeyStore, tenant: Tenant, req: str | None) -> dict[str, list[str]] | None:
    """The authorize parameters in a ``req`` we signed for this tenant, or ``None``."""
    if not req or len(req) > 8000:
        return None
    try:
        claims: dict[str, Any] = keys.unseal(req)
    except InvalidToken:
        return None
    if claims.get("typ") != "authorize" or claims.get("tnt") != tenant.id or claims.get("exp", 0) < time.time():
        return None
    params = claims.get("p")
    if not isinstance(params, dict):
        return None
    return {str(k): [str(v)] for k, v in params.items()}


def callback_params(tenant: Tenant, custom_domain: str | None) -> dict[str, str | None]:
    """What every redirect back to the client carries, success or error (the SDKs need
    ``tenant_name``; the older SDK ``tenant_domain``; ``tenant_custom_domain`` when the login
    happened on the tenant's own domain)."""
    return {
        "tenant_name": tenant.domain_name,
        "tenant_domain": tenant.domain_name,
        "tenant_custom_domain": custom_domain,
    }


def finish_authorization(
    services: Services,
    application: Application,
    tenant: Tenant,
    request: AuthorizeRequest,
    session: AuthSession,
    user: User,
    custom_domain: str | None = None,
    session_token: str | None = None,
) -> RedirectResponse:
    """Redirect back to the client with a code. ``session_token``: ``session`` was just made by
    this sign-in and is stored with the code, in one write transaction."""
    code = issue_code(
        services.core,
        IssueCode(
            tenant=tenant,
            user=user,
            client_id=request.client_id,
            session_id=session.id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time_epoch=int(session.auth_time.timestamp()),
            new_session=(session, token_hash(session_token)) if session_token else None,
        ),
    )
    location = redirect_with(
        request.redirect_to, {"code": code, "state": request.state, **callback_params(tenant, custom_domain)}
    )
    return RedirectResponse(location, status_code=302, headers=NO_STORE)


def error_redirect(
    redirect_to: str, error: str, description: str, state: str | None, tenant: Tenant, custom_domain: str | None
) -> RedirectResponse:
    location = redirect_with(
        redirect_to,
        {"error": error, "error_description": description, "state": state, **callback_params(tenant, custom_domain)},
    )
    return RedirectResponse(location, status_code=302, headers=NO_STORE)


def set_session_cookie(response: RedirectResponse | Any, token: str, max_age: int) -> None:
    """Host-only (no Domain attribute): the cookie belongs to this tenant host alone."""
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=True, samesite="lax", path="/")
