"""The OAuth 2.0 token endpoint, the JWKS and the discovery document on the vanity domain."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.clients.authentication import authenticate_client
from tenantry.core.clients.model import ClientType
from tenantry.core.errors import Unauthenticated
from tenantry.protocols.oauth2.client_auth import parse_client_credentials
from tenantry.protocols.oauth2.errors import (
    InvalidClientError,
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from tenantry.protocols.oauth2.tokens import IssuedToken, client_credentials_claims
from tenantry.web.deps import ApplicationDep, ServicesDep

router = APIRouter(tags=["oauth2"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SUPPORTED_GRANTS = ("client_credentials",)


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("The token request must be application/x-www-form-urlencoded")
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequestError("Malformed form body") from error
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise InvalidRequestError(f"Parameter [{key}] is repeated")
        form[key] = value
    return form


def _client_credentials(
    services: Services, application: Application, authorization: str | None, form: dict[str, str]
) -> IssuedToken:
    credentials = parse_client_credentials(authorization, form)
    if credentials.client_secret is None:
        raise InvalidClientError("Client authentication is required")
    try:
        client = authenticate_client(services.core, application.id, credentials.client_id, credentials.client_secret)
    except Unauthenticated as error:
        raise InvalidClientError("Client authentication failed") from error
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
    return IssuedToken(services.keys.sign(claims), lifetime)


@router.post("/api/v1/oauth2/token")
async def token(request: Request, services: ServicesDep, application: ApplicationDep) -> JSONResponse:
    form = await _form(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    if grant_type not in SUPPORTED_GRANTS:
        raise UnsupportedGrantTypeError(f"Unsupported grant_type [{grant_type[:50]}]")
    issued = await run_in_threadpool(
        _client_credentials, services, application, request.headers.get("authorization"), form
    )
    return JSONResponse(issued.as_response(), headers=NO_STORE)


@router.get("/api/v1/oauth2/jwks")
def jwks(services: ServicesDep, application: ApplicationDep) -> JSONResponse:
    return JSONResponse(services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/openid-configuration")
def openid_configuration(application: ApplicationDep) -> dict[str, Any]:
    issuer = application.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/api/v1/oauth2/token",
        "jwks_uri": f"{issuer}/api/v1/oauth2/jwks",
        "grant_types_supported": list(SUPPORTED_GRANTS),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    }
