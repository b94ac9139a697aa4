"""Discovery: the JWKS, the OpenID configuration (vanity and tenant hosts) and the SDK
auto-configuration endpoint."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tenantry.core.clients.authentication import authenticate_client
from tenantry.core.errors import NotFound, Unauthenticated
from tenantry.protocols.oauth2.authorize import SUPPORTED_SCOPES
from tenantry.web.deps import ApplicationDep, ServicesDep, TargetDep
from tenantry.web.oauth.flow import interactive_client
from tenantry.web.oauth.token import SUPPORTED_GRANTS
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["oauth2"])


@router.get("/api/v1/oauth2/jwks")
def jwks(services: ServicesDep, application: ApplicationDep) -> JSONResponse:
    return JSONResponse(services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/openid-configuration")
def openid_configuration(target: TargetDep) -> dict[str, Any]:
    """The issuer is the application's; the authorization and logout endpoints are on the
    tenant host when asked there (the SDKs build them themselves)."""
    issuer = target.application.issuer
    front = f"https://{target.application.tenant_host(target.tenant.domain_name)}" if target.tenant else issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{front}/api/v1/oauth2/authorize",
        "token_endpoint": f"{issuer}/api/v1/oauth2/token",
        "userinfo_endpoint": f"{issuer}/api/v1/oauth2/userinfo",
        "revocation_endpoint": f"{issuer}/api/v1/oauth2/revoke",
        "end_session_endpoint": f"{front}/api/v1/logout",
        "jwks_uri": f"{issuer}/api/v1/oauth2/jwks",
        "grant_types_supported": list(SUPPORTED_GRANTS),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": sorted(SUPPORTED_SCOPES),
        "prompt_values_supported": ["login", "none"],
        "claims_supported": [
            "sub",
            "tnt_id",
            "app_id",
            "idp_name",
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "picture",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "roles",
        ],
    }


@router.get("/api/v1/clients/{client_id}/sdk-configuration")
def sdk_configuration(
    client_id: str, request: Request, services: ServicesDep, application: ApplicationDep
) -> dict[str, Any]:
    """What the SDKs auto-configure from. No credentials are needed (fastapi-auth sends none);
    when Basic credentials are sent (django-auth) they must be right."""
    authorization = request.headers.get("authorization")
    if authorization and authorization[:6].lower() == "basic ":
        try:
            ident, _, secret = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
        except ValueError as error:
            raise Unauthenticated("Malformed Basic credentials") from error
        if ident != client_id:
            raise Unauthenticated("Basic credentials are for another client")
        authenticate_client(services.core, application.id, ident, secret)
    client = interactive_client(services, application, client_id)
    if client is None:
        raise NotFound("client", client_id[:64])
    login_url = client.login_url or application.resolved_login_url
    uses_subdomains = "{tenant_" in login_url
    suffix = None
    if uses_subdomains:
        host = urlsplit(login_url.replace("{tenant_name}", "t").replace("{tenant_domain}", "t")).hostname or ""
        suffix = host.split(".", 1)[1] if "." in host else None
    return {
        "loginUrl": login_url,
        "redirectUri": client.redirect_uris[0] if len(client.redirect_uris) == 1 else None,
        "isApplicationCustomDomainActive": application.custom_domain_active,
        "customApplicationLoginPageUrl": None,
        "loginUrlTenantDomainSuffix": suffix,
    }
