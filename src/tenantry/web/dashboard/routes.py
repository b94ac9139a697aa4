"""``/dashboard``: mounting the dashboard's page modules, its static files, and sign-in.

Every action goes through the core use cases with the administrator's Principal, so a tenant
administrator reaches only their tenant, exactly as an API caller with the same grants would.
Sign-in is email + password, then a TOTP code when the administrator has switched it on."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from tenantry.core.admins.mfa import SecondStepExpired, verify_second_step
from tenantry.core.admins.model import Admin
from tenantry.core.admins.service import (
    authenticate_admin,
    end_admin_session,
    resolve_admin_session,
    resolve_second_step,
    second_factor_required,
    start_admin_session,
)
from tenantry.core.applications.model import Application
from tenantry.core.auth.login import InvalidCredentials
from tenantry.web.dashboard import (
    account,
    admins,
    audit,
    clients,
    identity_providers,
    invitations,
    keys,
    outbox,
    policies,
    tenants,
    users,
)
from tenantry.web.dashboard.common import dashboard_router
from tenantry.web.dashboard.rendering import (
    ADMIN_COOKIE,
    DashboardError,
    FormDep,
    SignedDep,
    SignInRequired,
    redirect,
    render,
)
from tenantry.web.deps import ApplicationDep, CoreDep
from tenantry.web.ratelimit import RateLimits, client_ip
from tenantry.web.threads import run_in_thread

router = dashboard_router()
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    "htmx-2.0.11.min.js": "text/javascript",
}
SESSION_SECONDS = 12 * 3600
SECOND_STEP_COOKIE = "tenantry_admin_step"
SECOND_STEP_SECONDS = 300
PAGE_MODULES = (
    users,
    invitations,
    tenants,
    policies,
    admins,
    account,
    clients,
    keys,
    outbox,
    audit,
    identity_providers,
)


def install(app: FastAPI) -> None:
    """Mount the dashboard: its routers and the handlers of its HTML errors."""

    async def on_dashboard_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DashboardError)
        return render(request, "error.html", {"title": error.title, "message": error.message}, error.status)

    async def on_sign_in(request: Request, error: Exception) -> Response:
        if request.headers.get("HX-Request") == "true":  # htmx: reload the whole page at the sign-in page
            return Response(status_code=204, headers={"HX-Redirect": "/dashboard/login"})
        return redirect("/dashboard/login")

    app.add_exception_handler(DashboardError, on_dashboard_error)
    app.add_exception_handler(SignInRequired, on_sign_in)
    app.include_router(router)
    for module in PAGE_MODULES:
        app.include_router(module.router)


@router.get("/static/{name}", response_model=None)
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        raise DashboardError(404, "Not found", "This page does not exist, or you cannot see it.")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "max-age=3600"})


@router.get("", response_model=None)
@router.get("/", response_model=None)
def home(signed: SignedDep) -> Response:
    return redirect("/dashboard/users")


def _signed_in_response(token: str) -> Response:
    response = redirect("/dashboard/users")
    response.set_cookie(
        ADMIN_COOKIE, token, max_age=SESSION_SECONDS, path="/dashboard", secure=True, httponly=True, samesite="strict"
    )
    response.delete_cookie(SECOND_STEP_COOKIE, path="/dashboard", secure=True, httponly=True, samesite="strict")
    return response


def _limited(request: Request, application: Application, template: str, context: dict[str, str]) -> Response:
    context = {"brand": application.display_name, **context}
    limited = render(
        request, template, {**context, "error": "Too many attempts. Please wait a minute and try again."}, 429
    )
    limited.headers["Retry-After"] = "60"
    return limited


@router.get("/login", response_model=None)
def login_page(request: Request, application: ApplicationDep, core: CoreDep) -> Response:
    if resolve_admin_session(core, application.id, request.cookies.get(ADMIN_COOKIE)) is not None:
        return redirect("/dashboard/users")
    return render(request, "login.html", {"brand": application.display_name, "email": ""})


@router.post("/login", response_model=None)
async def login_submit(request: Request, application: ApplicationDep, core: CoreDep, form: FormDep) -> Response:
    email = form.get("email").strip()[:200]
    limits: RateLimits = request.app.state.limits
    if not limits.allow("login_ip", client_ip(request)) or not limits.allow(
        "login_identifier", "dashboard", application.id, email.lower()
    ):
        return _limited(request, application, "login.html", {"email": email})
    try:
        admin: Admin = await run_in_thread(authenticate_admin, core, application.id, email, form.get("password"))
    except InvalidCredentials:
        context = {"brand": application.display_name, "email": email, "error": "Invalid email or password."}
        return render(request, "login.html", context, 401)
    if second_factor_required(admin):
        step_token = await run_in_thread(start_admin_session, core, admin, second_step=True)
        response = redirect("/dashboard/login/code")
        response.set_cookie(
            SECOND_STEP_COOKIE,
            step_token,
            max_age=SECOND_STEP_SECONDS,
            path="/dashboard",
            secure=True,
            httponly=True,
            samesite="strict",
        )
        return response
    token = await run_in_thread(start_admin_session, core, admin)
    return _signed_in_response(token)


@router.get("/login/code", response_model=None)
def code_page(request: Request, application: ApplicationDep, core: CoreDep) -> Response:
    if resolve_second_step(core, application.id, request.cookies.get(SECOND_STEP_COOKIE)) is None:
        return redirect("/dashboard/login")
    return render(request, "login_code.html", {"brand": application.display_name})


@router.post("/login/code", response_model=None)
async def code_submit(request: Request, application: ApplicationDep, core: CoreDep, form: FormDep) -> Response:
    step_token = request.cookies.get(SECOND_STEP_COOKIE)
    found = resolve_second_step(core, application.id, step_token)
    if found is None:
        return redirect("/dashboard/login")
    limits: RateLimits = request.app.state.limits
    if not limits.allow("login_ip", client_ip(request)) or not limits.allow(
        "login_identifier", "dashboard-code", application.id, found[1].id
    ):
        return _limited(request, application, "login_code.html", {})
    try:
        admin = await run_in_thread(verify_second_step, core, application.id, step_token, form.get("code"))
    except SecondStepExpired:
        return redirect("/dashboard/login")
    except InvalidCredentials:
        context = {"brand": application.display_name, "error": "That code is not valid. Try the current one."}
        return render(request, "login_code.html", context, 401)
    token = await run_in_thread(start_admin_session, core, admin)
    return _signed_in_response(token)


@router.post("/logout", response_model=None)
def logout(request: Request, application: ApplicationDep, core: CoreDep, form: FormDep) -> Response:
    end_admin_session(core, application.id, request.cookies.get(ADMIN_COOKIE))
    response = redirect("/dashboard/login")
    response.delete_cookie(ADMIN_COOKIE, path="/dashboard", secure=True, httponly=True, samesite="strict")
    return response
