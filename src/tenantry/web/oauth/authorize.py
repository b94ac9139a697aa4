"""``GET /api/v1/oauth2/authorize`` on tenant hosts, and ``GET /api/v1/logout``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.auth.sessions import current_session, end_session
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.sso.service import providers_for_login
from tenantry.core.tenants.model import Tenant
from tenantry.protocols.oauth2.authorize import (
    AuthorizeError,
    UnsafeAuthorizeError,
    parse_authorize_request,
    substitute_tenant,
)
from tenantry.web.deps import ServicesDep, TenantTargetDep
from tenantry.web.oauth.flow import (
    NO_STORE,
    SESSION_COOKIE,
    encode_req,
    error_redirect,
    finish_authorization,
    interactive_client,
)
from tenantry.web.pages.login import sso_start_path
from tenantry.web.pages.rendering import error_page
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["oauth2"])


@router.get("/api/v1/oauth2/authorize", response_model=None)
def authorize(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    application, tenant = target.application, target.tenant
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    client_ids = params.get("client_id") or []
    client = interactive_client(services, application, client_ids[0] if len(client_ids) == 1 else None)
    try:
        auth_request = parse_authorize_request(params, client.redirect_uris if client else None, tenant.domain_name)
    except UnsafeAuthorizeError as error:
        return error_page(request, "This sign-in link is not valid", error.description)
    except AuthorizeError as error:
        return error_redirect(
            error.redirect_to, error.error, error.description, error.state, tenant, target.custom_domain
        )
    found = (
        None
        if auth_request.prompt == "login"
        else current_session(services.core, tenant, request.cookies.get(SESSION_COOKIE))
    )
    if found is not None:
        session, user = found
        return finish_authorization(services, application, tenant, auth_request, session, user, target.custom_domain)
    if auth_request.prompt == "none":
        return error_redirect(
            auth_request.redirect_to,
            "login_required",
            "The user is not signed in",
            auth_request.state,
            tenant,
            target.custom_domain,
        )
    query = {"req": encode_req(services.keys, tenant, auth_request)}
    hint = request.query_params.get("idp_hint")
    if hint and (provider := _hinted_provider(services, tenant, hint)) is not None:
        # idp_hint goes straight to that identity provider, skipping the login page.
        return RedirectResponse(
            sso_start_path(provider.id, req=query["req"], login_hint=auth_request.login_hint),
            status_code=302,
            headers=NO_STORE,
        )
    if auth_request.login_hint:
        query["login_hint"] = auth_request.login_hint
    return RedirectResponse(f"/login?{urlencode(query)}", status_code=302, headers=NO_STORE)


def _hinted_provider(services: Services, tenant: Tenant, hint: str) -> IdentityProvider | None:
    """The tenant's enabled external provider named (or identified) by ``idp_hint``; an unknown
    hint is ignored and the login page shows every choice."""
    wanted = hint.strip().lower()[:100]
    for provider in providers_for_login(services.core, tenant):
        if wanted in (provider.name.lower(), provider.id.lower()):
            return provider
    return None


def _same_origin(url: str, candidates: list[str]) -> bool:
    target = urlsplit(url)
    if target.scheme not in ("https", "http") or not target.netloc:
        return False
    return any((p.scheme, p.netloc) == (target.scheme, target.netloc) for p in map(urlsplit, candidates))


@router.get("/api/v1/logout", response_model=None)
def logout(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    """End the auth session (and its refresh tokens), then redirect: to ``redirect_url`` when it
    is on an origin the client registered (never an open redirect), else the client's login
    URL, else the application's login page."""
    application, tenant = target.application, target.tenant
    end_session(services.core, tenant, request.cookies.get(SESSION_COOKIE))
    client = interactive_client(services, application, request.query_params.get("client_id"))
    registered = [substitute_tenant(u, tenant.domain_name) for u in (client.redirect_uris if client else [])]
    login_url = substitute_tenant(client.login_url, tenant.domain_name) if client and client.login_url else None
    redirect_url = request.query_params.get("redirect_url")
    state = request.query_params.get("state")
    if redirect_url and client and _same_origin(redirect_url, [*registered, *([login_url] if login_url else [])]):
        location = redirect_url
    elif login_url:
        location = login_url
    else:
        location = application.resolved_login_url
    if state and len(state) <= 512:
        location += ("&" if "?" in location else "?") + urlencode({"state": state})
    response = RedirectResponse(location, status_code=302, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response
