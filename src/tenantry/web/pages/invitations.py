"""Hosted invitation acceptance on the tenant host: ``/accept-invite`` (new users) and
``/accept-existing-invite`` (existing users taking over their account)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.auth.sessions import start_session
from tenantry.core.errors import ConstraintViolations, InvalidState
from tenantry.core.invitations import service as invitations
from tenantry.core.invitations.model import InvitationKind, InvitationType
from tenantry.core.sso.service import providers_for_login
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User
from tenantry.web.deps import ServicesDep, TenantTargetDep
from tenantry.web.oauth.flow import NO_STORE, set_session_cookie
from tenantry.web.pages.login import read_form, sso_start_path
from tenantry.web.pages.rendering import CsrfFailure, check_csrf, error_page, page
from tenantry.web.pages.signup import FIELD_LABELS, VIOLATION_TEXT, landing_url, schema_fields
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["hosted pages"], include_in_schema=False)
PATHS = {InvitationKind.NEW_USER: "/accept-invite", InvitationKind.EXISTING_USER: "/accept-existing-invite"}


def _form_page(
    request: Request,
    services: Services,
    application: Application,
    opened: invitations.OpenInvitation,
    code: str,
    *,
    values: dict[str, str] | None = None,
    violations: dict[str, list[str]] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    existing = opened.invitation.kind is InvitationKind.EXISTING_USER
    user = opened.user
    return page(
        request,
        "accept_invite.html",
        {
            "brand_name": opened.tenant.display_name,
            "logo_url": opened.tenant.logo_url,
            "existing": existing,
            "action": PATHS[opened.invitation.kind],
            "code": code,
            "email": opened.invitation.email,
            "inviter": opened.inviter,
            "ask_email": opened.invitation.invitation_type is InvitationType.LINK,
            "ask_password": not existing or (user is not None and user.identity_provider_type == "WRISTBAND"),
            "profile_fields": [] if existing else schema_fields(services, application, opened.tenant),
            "values": values or {},
            "violations": violations or {},
            "error": error,
            # A new user may accept by signing in at one of the tenant's identity providers instead.
            "sso_providers": []
            if existing
            else [
                {"name": p.name, "label": p.display_name, "href": sso_start_path(p.id, invitation=code)}
                for p in providers_for_login(services.core, opened.tenant)
            ],
        },
        status_code,
    )


def _welcome(request: Request, services: Services, application: Application, tenant: Tenant, user: User) -> Response:
    token, _ = start_session(services.core, tenant, user)
    target = landing_url(services, application, tenant, None)
    response: Response
    if target:
        response = RedirectResponse(target, 302, headers=NO_STORE)
    else:
        context = {
            "brand_name": tenant.display_name,
            "logo_url": tenant.logo_url,
            "title": "Welcome",
            "message": f"Your account {user.email} is ready.",
        }
        response = page(request, "message.html", context)
    set_session_cookie(response, token, services.settings.session_absolute_seconds)
    return response


def _show(request: Request, services: Services, target: TenantTargetDep, kind: InvitationKind) -> Response:
    code = request.query_params.get("code", "")
    try:
        opened = invitations.open_invitation(services.core, target.application, code, kind)
    except InvalidState as error:
        return error_page(request, "This invitation cannot be used", error.message)
    if opened.tenant.id != target.tenant.id:
        return error_page(request, "This invitation cannot be used", "It belongs to another organization.")
    return _form_page(request, services, target.application, opened, code)


@router.get("/accept-invite", response_model=None)
def accept_invite_page(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    return _show(request, services, target, InvitationKind.NEW_USER)


@router.get("/accept-existing-invite", response_model=None)
def accept_existing_invite_page(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    return _show(request, services, target, InvitationKind.EXISTING_USER)


def _accept(
    request: Request, services: Services, target: TenantTargetDep, kind: InvitationKind, form: dict[str, str]
) -> Response:
    application = target.application
    code = form.get("code") or ""
    try:
        opened = invitations.open_invitation(services.core, application, code, kind)
        if opened.tenant.id != target.tenant.id:
            raise invitations.InvitationUnusable()
    except InvalidState as error:
        return error_page(request, "This invitation cannot be used", error.message)
    values = {k: v for k, v in form.items() if k not in ("password", "csrf_token", "code")}
    try:
        if kind is InvitationKind.NEW_USER:
            profile = {name: (form.get(name) or "").strip() or None for name in FIELD_LABELS if name in form}
            accepted = invitations.accept_new_user_invite(
                services.core,
                application,
                opened,
                invitations.AcceptForm(password=form.get("password"), email=form.get("email"), profile=profile),
            )
        else:
            password = form.get("password") or None
            accepted = invitations.accept_existing_user_invite(services.core, application, opened, password)
    except ConstraintViolations as error:
        messages = {k: [VIOLATION_TEXT.get(v.code, v.code) for v in vs] for k, vs in error.violations.items()}
        return _form_page(
            request,
            services,
            application,
            opened,
            code,
            values=values,
            violations=messages,
            error=error.message,
            status_code=400,
        )
    except InvalidState as error:
        return error_page(request, "This invitation cannot be used", error.message)
    if not accepted.signed_in:
        context = {
            "brand_name": accepted.tenant.display_name,
            "logo_url": accepted.tenant.logo_url,
            "message": "We sent you an email. Follow its link to activate your account.",
            "code_id": None,
        }
        return page(request, "check_email.html", context)
    return _welcome(request, services, application, accepted.tenant, accepted.user)


async def _submit(request: Request, services: Services, target: TenantTargetDep, kind: InvitationKind) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, form)
    except CsrfFailure as error:
        return error_page(request, "Please try again", error.message, 403)
    return await run_in_thread(_accept, request, services, target, kind, form)


@router.post("/accept-invite", response_model=None)
async def accept_invite_submit(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    return await _submit(request, services, target, InvitationKind.NEW_USER)


@router.post("/accept-existing-invite", response_model=None)
async def accept_existing_invite_submit(request: Request, services: ServicesDep, target: TenantTargetDep) -> Response:
    return await _submit(request, services, target, InvitationKind.EXISTING_USER)
