"""``/login``: on a tenant host the tenant's sign-in form; on the vanity domain the
application-level login, i.e. tenant discovery."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.auth.discovery import send_discovery_email
from tenantry.core.auth.login import InvalidCredentials, authenticate_password
from tenantry.core.auth.sessions import new_session, start_session, store_session
from tenantry.core.sso.service import provider_for_email
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User
from tenantry.protocols.oauth2.authorize import (
    AuthorizeError,
    UnsafeAuthorizeError,
    parse_authorize_request,
    substitute_tenant,
)
from tenantry.web.deps import ServicesDep, TargetDep
from tenantry.web.oauth.flow import (
    NO_STORE,
    decode_req,
    error_redirect,
    finish_authorization,
    interactive_client,
    set_session_cookie,
)
from tenantry.web.pages.rendering import CsrfFailure, check_csrf, error_page, page, too_many_requests
from tenantry.web.ratelimit import RateLimits, client_ip
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["hosted pages"], include_in_schema=False)
MAX_FORM_BYTES = 16_384


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """A url-encoded form with each field once; anything else is an empty form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    raw = await request.body()
    if len(raw) > max_bytes:
        return {}
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=30)
    except (UnicodeDecodeError, ValueError):
        return {}
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _branding(application: Application, tenant: Tenant | None) -> dict[str, object]:
    if tenant is None:
        return {"brand_name": application.display_name, "logo_url": None}
    return {"brand_name": tenant.display_name, "logo_url": tenant.logo_url}


def tenant_login_url(services: Services, application: Application, tenant: Tenant, client_id: str | None) -> str:
    """Where a user of ``tenant`` starts signing in: the client's login URL for that tenant
    (placeholder substituted, or ``?tenant_name=``), else the tenant's hosted login page."""
    client = interactive_client(services, application, client_id)
    if client is not None and client.login_url:
        if "{tenant_" in client.login_url:
            return substitute_tenant(client.login_url, tenant.domain_name)
        separator = "&" if "?" in client.login_url else "?"
        return f"{client.login_url}{separator}{urlencode({'tenant_name': tenant.domain_name})}"
    return f"https://{application.tenant_host(tenant.domain_name)}/login"


@router.get("/login", response_model=None)
def login_page(request: Request, services: ServicesDep, target: TargetDep) -> Response:
    application, tenant = target.application, target.tenant
    client_id = request.query_params.get("client_id")
    if tenant is None:
        return page(
            request,
            "discovery.html",
            {
                **_branding(application, None),
                "client_id": client_id,
                "tenant_domain": "",
                "sent": False,
                "signup_enabled": application.signup_enabled,
            },
        )
    req = request.query_params.get("req")
    if req is not None and decode_req(services.keys, tenant, req) is None:
        return error_page(request, "This sign-in link has expired", "Go back to the application and sign in again.")
    context = {
        **_branding(application, tenant),
        "req": req,
        "client_id": client_id,
        "identifier": request.query_params.get("login_hint", "")[:200],
        "signup_enabled": tenant.signup_enabled,
        **_sso_choices(services, tenant, req, client_id),
    }
    return page(request, "login.html", context)


def _sso_choices(services: Services, tenant: Tenant, req: str | None, client_id: str | None) -> dict[str, object]:
    """The "Continue with …" buttons of the tenant's enabled external providers, and whether a
    work-email field may route to one of them by domain."""
    providers = services.login_providers.get(tenant)
    return {
        "sso_providers": [
            {"name": p.name, "label": p.display_name, "href": sso_start_path(p.id, req=req, client_id=client_id)}
            for p in providers
        ],
        "sso_by_email": any(p.email_domains for p in providers),
    }


def sso_start_path(provider_id: str, **params: str | None) -> str:
    """The path that starts a sign-in with an external provider."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/sso/{provider_id}/start" + (f"?{query}" if query else "")


@router.post("/login", response_model=None)
async def login_submit(request: Request, services: ServicesDep, target: TargetDep) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)
    limits: RateLimits = request.app.state.limits
    ip = client_ip(request)
    if target.tenant is None:
        email = (form.get("email") or "").strip()
        if not limits.allow("discovery_ip", ip) or (email and not limits.allow("discovery_email", email)):
            return too_many_requests(request)
        return await run_in_thread(_discover, request, services, target.application, form)
    identifier = (form.get("identifier") or "").strip()
    if not limits.allow("login_ip", ip) or not limits.allow("login_identifier", target.tenant.id, identifier):
        return too_many_requests(request)
    return await run_in_thread(
        _tenant_login, request, services, target.application, target.tenant, form, target.custom_domain
    )


def _discover(request: Request, services: Services, application: Application, form: dict[str, str]) -> Response:
    client_id = form.get("client_id") or None
    domain = (form.get("tenant_domain") or "").strip()
    context = {
        **_branding(application, None),
        "client_id": client_id,
        "tenant_domain": domain[:40],
        "sent": False,
        "signup_enabled": application.signup_enabled,
    }
    if form.get("action") == "email":
        send_discovery_email(
            services.core,
            application,
            (form.get("email") or "").strip(),
            lambda t: tenant_login_url(services, application, t, client_id),
        )
        return page(request, "discovery.html", {**context, "sent": True})
    with services.core.uow(application.id) as uow:
        tenant = uow.tenants.get_by_domain_name(domain) if domain else None
    if tenant is None or not tenant.is_usable:
        return page(request, "discovery.html", {**context, "error": "We could not find that organization."}, 400)
    return RedirectResponse(tenant_login_url(services, application, tenant, client_id), 302, headers=NO_STORE)


def _tenant_login(
    request: Request,
    services: Services,
    application: Application,
    tenant: Tenant,
    form: dict[str, str],
    custom_domain: str | None,
) -> Response:
    req = form.get("req") or None
    params = decode_req(services.keys, tenant, req) if req else None
    if req and params is None:
        return error_page(request, "This sign-in link has expired", "Go back to the application and sign in again.")
    identifier = (form.get("identifier") or "").strip()
    if form.get("action") == "sso":
        return _route_by_email(request, services, application, tenant, form, req)
    try:
        user = authenticate_password(services.core, tenant, identifier, form.get("password") or "")
    except InvalidCredentials as error:
        context = {
            **_branding(application, tenant),
            "req": req,
            "client_id": form.get("client_id"),
            "identifier": identifier[:200],
            "error": error.message,
            "signup_enabled": tenant.signup_enabled,
            **_sso_choices(services, tenant, req, form.get("client_id")),
        }
        return page(request, "login.html", context, 401)
    return continue_signed_in(
        request, services, application, tenant, user, params, form.get("client_id"), custom_domain
    )


def _route_by_email(
    request: Request,
    services: Services,
    application: Application,
    tenant: Tenant,
    form: dict[str, str],
    req: str | None,
) -> Response:
    """Home-realm discovery: a work email whose domain belongs to one of the tenant's providers
    goes to that provider, with the email as ``login_hint``."""
    email = (form.get("email") or "").strip()
    provider = provider_for_email(services.core, tenant, email) if len(email) <= 200 else None
    if provider is None:
        context = {
            **_branding(application, tenant),
            "req": req,
            "client_id": form.get("client_id"),
            "identifier": "",
            "sso_email": email[:200],
            "sso_error": "No single sign-on is set up for that email domain. Sign in with your password instead.",
            "signup_enabled": tenant.signup_enabled,
            **_sso_choices(services, tenant, req, form.get("client_id")),
        }
        return page(request, "login.html", context, 400)
    location = sso_start_path(provider.id, req=req, client_id=form.get("client_id"), login_hint=email)
    return RedirectResponse(location, 302, headers=NO_STORE)


def continue_signed_in(
    request: Request,
    services: Services,
    application: Application,
    tenant: Tenant,
    user: User,
    params: dict[str, list[str]] | None,
    client_id: str | None,
    custom_domain: str | None,
    landing: str | None = None,
) -> Response:
    """Start the user's session on this tenant host, then: finish the authorize request the
    sign-in began with (``params``), else go to the client's login URL, else to ``landing``,
    else say the user is signed in."""
    response: Response
    if params is not None:
        token, session = new_session(services.core, tenant, user)
        client_ids = params.get("client_id") or []
        client = interactive_client(services, application, client_ids[0] if client_ids else None)
        try:
            auth_request = parse_authorize_request(params, client.redirect_uris if client else None, tenant.domain_name)
        except UnsafeAuthorizeError as error:
            store_session(services.core, session, token)
            response = error_page(request, "This sign-in link is not valid", error.description)
        except AuthorizeError as error:
            store_session(services.core, session, token)
            response = error_redirect(
                error.redirect_to, error.error, error.description, error.state, tenant, custom_domain
            )
        else:
            response = finish_authorization(
                services, application, tenant, auth_request, session, user, custom_domain, session_token=token
            )
    else:
        token, _ = start_session(services.core, tenant, user)
        if client_id:
            response = RedirectResponse(
                tenant_login_url(services, application, tenant, client_id), 302, headers=NO_STORE
            )
        elif landing:
            response = RedirectResponse(landing, 302, headers=NO_STORE)
        else:
            response = page(request, "signed_in.html", {**_branding(application, tenant), "email": user.email})
    set_session_cookie(response, token, services.settings.session_absolute_seconds)
    return response
