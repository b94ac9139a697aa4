"""``POST /api/v1/oauth2/token`` (client_credentials, authorization_code, refresh_token) and
``POST /api/v1/oauth2/revoke`` (RFC 7009), on the vanity domain."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.auth import grants
from tenantry.core.clients.cache import ClientCache
from tenantry.core.clients.model import Client, ClientType
from tenantry.protocols.oauth2.client_auth import parse_client_credentials
from tenantry.protocols.oauth2.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from tenantry.protocols.oauth2.pkce import s256_matches
from tenantry.protocols.oauth2.tokens import IssuedToken, client_credentials_claims
from tenantry.protocols.oidc.claims import access_token_claims, id_token_claims
from tenantry.web.deps import ApplicationDep, ServicesDep
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["oauth2"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SUPPORTED_GRANTS = ("client_credentials", "authorization_code", "refresh_token")


async def read_token_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("The request must be application/x-www-form-urlencoded")
    return parse_token_form(await request.body())


def parse_token_form(raw: bytes) -> dict[str, str]:
    """The form's parameters; a body that is not one, or repeats a parameter, is an invalid request."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequestError("Malformed form body") from error
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise InvalidRequestError(f"Parameter [{key[:50]}] is repeated")
        form[key] = value
    return form


def check_client(client: Client | None, secret: str | None) -> Client:
    """Confidential clients prove their secret; public clients (SPA, NATIVE) only name
    themselves and rely on PKCE. Unknown clients and wrong secrets fail alike."""
    if client is None:
        raise InvalidClientError("Client authentication failed")
    if secret is None and client.type.is_confidential:
        raise InvalidClientError("Client authentication failed")
    if secret is not None and not client.verify_secret(secret):
        raise InvalidClientError("Client authentication failed")
    return client


def authenticate(
    clients: ClientCache, application: Application, authorization: str | None, form: dict[str, str]
) -> Client:
    credentials = parse_client_credentials(authorization, form)
    return check_client(clients.get(application.id, credentials.client_id), credentials.client_secret)


def client_credentials_response(services: Services, application: Application, client: Client) -> dict[str, Any]:
    if client.type is not ClientType.MACHINE_TO_MACHINE:
        raise UnauthorizedClientError("The client_credentials grant is for machine-to-machine clients")
    lifetime = services.settings.access_token_lifetime
    claims = client_credentials_claims(
        issuer=application.issuer,
        application_id=application.id,
        client_id=client.id,
        tenant_id=client.tenant_id,
        now=int(time.time()),
        lifetime=lifetime,
    )
    return IssuedToken(services.keys.sign(claims), lifetime).as_response()


def _user_tokens(services: Services, application: Application, grant: grants.Grant) -> dict[str, Any]:
    lifetime = services.settings.access_token_lifetime
    now = int(time.time())
    access = services.keys.sign(
        access_token_claims(
            issuer=application.issuer,
            user=grant.user,
            client_id=grant.client_id,
            scope=grant.scope,
            now=now,
            lifetime=lifetime,
            auth_time=grant.auth_time_epoch,
            sid=grant.family_id,
        )
    )
    id_token = services.keys.sign(
        id_token_claims(
            issuer=application.issuer,
            user=grant.user,
            client_id=grant.client_id,
            scope=grant.scope,
            roles=grant.roles,
            now=now,
            lifetime=lifetime,
            auth_time=grant.auth_time_epoch,
            nonce=grant.nonce,
            access_token=access,
        )
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "refresh_token": grant.refresh_token,
        "id_token": id_token,
        "scope": " ".join(grant.scope),
    }


def grant_response(
    services: Services, clients: ClientCache, application: Application, authorization: str | None, form: dict[str, str]
) -> dict[str, Any]:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    if grant_type not in SUPPORTED_GRANTS:
        raise UnsupportedGrantTypeError(f"Unsupported grant_type [{grant_type[:50]}]")
    client = authenticate(clients, application, authorization, form)
    if grant_type == "client_credentials":
        return client_credentials_response(services, application, client)
    if client.type is ClientType.MACHINE_TO_MACHINE:
        raise UnauthorizedClientError(f"Machine-to-machine clients cannot use {grant_type}")
    try:
        if grant_type == "authorization_code":
            code = form.get("code")
            if not code:
                raise InvalidRequestError("code is required")
            verifier = form.get("code_verifier")
            grant = grants.exchange_code(
                services.core,
                client,
                code,
                form.get("redirect_uri"),
                lambda challenge: s256_matches(verifier, challenge),
            )
        else:
            token = form.get("refresh_token")
            if not token:
                raise InvalidRequestError("refresh_token is required")
            grant = grants.refresh(services.core, client, token)
    except grants.InvalidGrant as error:
        raise InvalidGrantError(error.message) from error
    return _user_tokens(services, application, grant)


@router.post("/api/v1/oauth2/token")
async def token(request: Request, services: ServicesDep, application: ApplicationDep) -> JSONResponse:
    """Every grant; the common cases are answered in front of this route (``fast_token.py``)."""
    form = await read_token_form(request)
    clients: ClientCache = request.app.state.clients
    authorization = request.headers.get("authorization")
    body = await run_in_thread(grant_response, services, clients, application, authorization, form)
    return JSONResponse(body, headers=NO_STORE)


@router.post("/api/v1/oauth2/revoke", response_model=None)
async def revoke(request: Request, services: ServicesDep, application: ApplicationDep) -> Response:
    """RFC 7009: 200 whether or not the token was known; access tokens are short-lived JWTs
    and are not revoked individually (their refresh family is)."""
    form = await read_token_form(request)
    token_value = form.get("token")
    if not token_value:
        raise InvalidRequestError("token is required")

    def run() -> None:
        client = authenticate(request.app.state.clients, application, request.headers.get("authorization"), form)
        grants.revoke_refresh_token(services.core, client, token_value)

    await run_in_thread(run)
    return Response(status_code=200, headers=NO_STORE)
