"""Hosted signup (application and tenant level), activation by link or code, email
verification, forgot / reset password, and the session handoff to tenant hosts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.access import TenantScope
from tenantry.core.activation import service as activation
from tenantry.core.applications.model import Application
from tenantry.core.auth.sessions import issue_handoff, redeem_handoff, start_session
from tenantry.core.clients.model import ClientType
from tenantry.core.errors import ConstraintViolations, InvalidState
from tenantry.core.policies.model import PolicyKind, SignupPolicy, UserSchemaPolicy
from tenantry.core.policies.service import resolved
from tenantry.core.ports import ListSpec
from tenantry.core.signup.service import SignupDisabled, SignupForm, signup_to_tenant, signup_with_new_tenant
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User
from tenantry.protocols.oauth2.authorize import substitute_tenant
from tenantry.web.deps import ServicesDep, TargetDep, TenantTargetDep
from tenantry.web.oauth.flow import NO_STORE, set_session_cookie
from tenantry.web.pages.login import read_form, tenant_login_url
from tenantry.web.pages.rendering import CsrfFailure, check_csrf, error_page, page, too_many_requests
from tenantry.web.ratelimit import RateLimits, client_ip
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["hosted pages"], include_in_schema=False)
FIELD_LABELS = {
    "givenName": ("First name", "text"),
    "familyName": ("Last name", "text"),
    "fullName": ("Full name", "text"),
    "username": ("Username", "text"),
    "phoneNumber": ("Phone number (+15551234567)", "tel"),
    "birthdate": ("Date of birth", "date"),
}
VIOLATION_TEXT = {
    "required": "This field is required.",
    "not_unique": "This is already taken.",
    "invalid_format": "This does not look right.",
    "too_long": "This is too long.",
    "too_short": "This is too short.",
    "too_common": "This password is too common.",
    "matches_email": "The password must not be your email.",
}


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.limits
    return limits


def _branding(application: Application, tenant: Tenant | None) -> dict[str, Any]:
    if tenant is None:
        return {"brand_name": application.display_name, "logo_url": None}
    return {"brand_name": tenant.display_name, "logo_url": tenant.logo_url}


def schema_fields(services: Services, application: Application, tenant: Tenant | None) -> list[tuple[str, str, str]]:
    with services.core.uow(application.id) as uow:
        schema: UserSchemaPolicy = resolved(uow, PolicyKind.USER_SCHEMA, tenant.id if tenant else None)
    return [(name, *FIELD_LABELS[name]) for name in schema.required_fields if name in FIELD_LABELS]


def _signup_page(
    request: Request,
    services: Services,
    application: Application,
    tenant: Tenant | None,
    values: dict[str, str],
    violations: dict[str, list[str]] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "signup.html",
        {
            **_branding(application, tenant),
            "app_level": tenant is None,
            "client_id": values.get("client_id"),
            "values": values,
            "violations": violations or {},
            "error": error,
            "profile_fields": schema_fields(services, application, tenant),
        },
        status_code,
    )


def landing_url(services: Services, application: Application, tenant: Tenant, client_id: str | None) -> str | None:
    """Where a newly active user goes (after signup, activation or an invitation): the signup
    policy's redirect URL, else the named client's login URL, else the application's login URL,
    else the login URL of the application's single browser client — the app then finds the
    session and signs the user in. ``None``: no app to go to (a page says so)."""
    with services.core.uow(application.id) as uow:
        policy: SignupPolicy = resolved(uow, PolicyKind.SIGNUP, tenant.id)
        clients = uow.clients.page(ListSpec(count=50), TenantScope(all_tenants=True)).items if not client_id else []
    if policy.custom_redirect_url:
        return substitute_tenant(policy.custom_redirect_url, tenant.domain_name)
    if client_id:
        return tenant_login_url(services, application, tenant, client_id)
    if application.login_url:
        return substitute_tenant(application.login_url, tenant.domain_name)
    browser = [c.id for c in clients if c.type is not ClientType.MACHINE_TO_MACHINE and c.login_url]
    return tenant_login_url(services, application, tenant, browser[0]) if len(browser) == 1 else None


def _signed_in_response(
    request: Request, services: Services, application: Application, tenant: Tenant, user: User, client_id: str | None
) -> Response:
    """Start the session on this (tenant) host and send the user on."""
    token, _ = start_session(services.core, tenant, user)
    target = landing_url(services, application, tenant, client_id)
    response: Response
    if target:
        response = RedirectResponse(target, 302, headers=NO_STORE)
    else:
        response = page(
            request,
            "message.html",
            {
                **_branding(application, tenant),
                "title": "Your account is ready",
                "message": f"Signed in as {user.email}.",
            },
        )
    set_session_cookie(response, token, services.settings.session_absolute_seconds)
    return response


@router.get("/signup", response_model=None)
def signup_page(request: Request, services: ServicesDep, target: TargetDep) -> Response:
    application, tenant = target.application, target.tenant
    enabled = application.signup_enabled if tenant is None else tenant.signup_enabled
    if not enabled:
        return error_page(request, "Signup is not available", "Ask your administrator for an invitation.", 403)
    values = {
        "client_id": request.query_params.get("client_id", "")[:64],
        "email": "",
        "tenant_name": "",
        "tenant_display_name": "",
    }
    return _signup_page(request, services, application, tenant, values)


def _do_signup(
    request: Request, services: Services, application: Application, tenant: Tenant | None, form: dict[str, str]
) -> Response:
    profile = {name: (form.get(name) or "").strip() or None for name in FIELD_LABELS if name in form}
    client_id = (form.get("client_id") or "")[:64] or None
    signup = SignupForm(
        email=(form.get("email") or "").strip(),
        password=form.get("password") or "",
        profile=profile,
        tenant_name=form.get("tenant_name"),
        tenant_display_name=form.get("tenant_display_name"),
        client_id=client_id,
    )
    values = {k: v for k, v in form.items() if k not in ("password", "csrf_token")}
    try:
        result = (
            signup_with_new_tenant(services.core, application, signup)
            if tenant is None
            else signup_to_tenant(services.core, application, tenant, signup)
        )
    except SignupDisabled:
        return error_page(request, "Signup is not available", "Ask your administrator for an invitation.", 403)
    except ConstraintViolations as error:
        messages = {k: [VIOLATION_TEXT.get(v.code, v.code) for v in vs] for k, vs in error.violations.items()}
        return _signup_page(request, services, application, tenant, values, messages, error.message, 400)
    if result.signed_in:
        if tenant is not None:
            return _signed_in_response(request, services, application, tenant, result.user, client_id)
        return _handoff(services, application, result.tenant, result.user, client_id)
    code_id = result.code_id if result.awaits_code else None
    message = (
        "We sent you an email with a code. Enter it below to activate your account."
        if code_id
        else "We sent you an email. Follow its link to finish creating your account."
    )
    return page(request, "check_email.html", {**_branding(application, tenant), "message": message, "code_id": code_id})


def _handoff(
    services: Services, application: Application, tenant: Tenant, user: User, client_id: str | None
) -> Response:
    """From the vanity domain to the tenant host, where the session cookie belongs."""
    target = (
        landing_url(services, application, tenant, client_id)
        or f"https://{application.tenant_host(tenant.domain_name)}/login"
    )
    with services.core.uow(application.id, write=True) as uow:
        code = issue_handoff(uow, services.core, tenant, user, target)
        uow.commit()
    host = application.tenant_host(tenant.domain_name)
    return RedirectResponse(f"https://{host}/api/v1/auth-sessions/create?code={code}", 302, headers=NO_STORE)


@router.post("/signup", response_model=None)
async def signup_submit(request: Request, services: ServicesDep, target: TargetDep) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)
    if not _limits(request).allow("signup_ip", client_ip(request)):
        return too_many_requests(request)
    return await run_in_thread(_do_signup, request, services, target.application, target.tenant, form)


@router.get("/api/v1/auth-sessions/create", response_model=None)
def create_auth_session(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    found = redeem_handoff(services.core, target.tenant, request.query_params.get("code", ""))
    if found is None:
        return error_page(request, "This link has expired", "Sign in again to continue.")
    token, _, redirect_to = found
    response = RedirectResponse(redirect_to or "/login", 302, headers=NO_STORE)
    set_session_cookie(response, token, services.settings.session_absolute_seconds)
    return response


@router.get("/activate", response_model=None)
def activate(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    try:
        owner = activation.activate_with_link(services.core, target.application, request.query_params.get("code", ""))
    except InvalidState as error:
        return error_page(request, "This activation link cannot be used", error.message)
    client_id = owner.code.data.get("client_id")
    return _signed_in_response(request, services, target.application, owner.tenant, owner.user, client_id)


@router.post("/activate-code", response_model=None)
async def activate_code(request: Request, services: ServicesDep, target: TargetDep) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)

    if not _limits(request).allow("otp_ip", client_ip(request)):
        return too_many_requests(request)

    def run() -> Response:
        code_id = form.get("code_id") or ""
        try:
            owner = activation.activate_with_otp(services.core, target.application, code_id, form.get("otp") or "")
        except InvalidState as error:
            context = {
                **_branding(target.application, target.tenant),
                "code_id": code_id,
                "error": error.message,
                "message": "Enter the code from the email.",
            }
            return page(request, "check_email.html", context, 400)
        client_id = owner.code.data.get("client_id")
        if target.tenant is not None and target.tenant.id == owner.tenant.id:
            return _signed_in_response(request, services, target.application, owner.tenant, owner.user, client_id)
        return _handoff(services, target.application, owner.tenant, owner.user, client_id)

    return await run_in_thread(run)


@router.get("/verify-email", response_model=None)
def verify_email(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    try:
        owner = activation.verify_email(services.core, target.application, request.query_params.get("code", ""))
    except InvalidState as error:
        return error_page(request, "This verification link cannot be used", error.message)
    context = {
        **_branding(target.application, owner.tenant),
        "title": "Email verified",
        "message": f"{owner.user.email} is verified. Thank you!",
    }
    return page(request, "message.html", context)


@router.get("/forgot-password", response_model=None)
def forgot_password_page(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    return page(request, "forgot_password.html", {**_branding(target.application, target.tenant), "sent": False})


@router.post("/forgot-password", response_model=None)
async def forgot_password_submit(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)
    email = (form.get("email") or "").strip()[:200]
    limits = _limits(request)
    if not limits.allow("forgot_ip", client_ip(request)) or (email and not limits.allow("forgot_email", email)):
        return too_many_requests(request)
    await run_in_thread(activation.request_password_reset, services.core, target.application, target.tenant, email)
    return page(request, "forgot_password.html", {**_branding(target.application, target.tenant), "sent": True})


@router.get("/reset-password", response_model=None)
def reset_password_page(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    code = request.query_params.get("code", "")
    context = {**_branding(target.application, target.tenant), "code": code[:200], "error": None}
    return page(request, "reset_password.html", context)


@router.post("/reset-password", response_model=None)
async def reset_password_submit(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)
    code = form.get("code") or ""
    try:
        await run_in_thread(
            activation.reset_password, services.core, target.application, code, form.get("password") or ""
        )
    except ConstraintViolations as error:
        reasons = [VIOLATION_TEXT.get(v.code, v.code) for vs in error.violations.values() for v in vs]
        context = {**_branding(target.application, target.tenant), "code": code[:200], "error": " ".join(reasons)}
        return page(request, "reset_password.html", context, 400)
    except InvalidState as error:
        return error_page(request, "This reset link cannot be used", error.message)
    context = {
        **_branding(target.application, target.tenant),
        "title": "Password changed",
        "message": "Your password was changed. Sign in with the new one.",
        "link": "/login",
        "link_text": "Sign in",
    }
    return page(request, "message.html", context)
