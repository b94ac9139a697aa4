"""``/dashboard``: sign-in, users, new-user invitations and tenants for dashboard administrators.

Every action goes through the core use cases with the administrator's Principal, so a tenant
administrator reaches only their tenant, exactly as an API caller with the same grants would.
Search, filters and sorting are turned into the API's query-language expressions and run on
the same SQL listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from tenantry.adapters.sql.listing import INVITATION_LISTING, USER_LISTING
from tenantry.core.activation.service import request_activation
from tenantry.core.admins.service import (
    authenticate_admin,
    end_admin_session,
    resolve_admin_session,
    start_admin_session,
)
from tenantry.core.auth.login import InvalidCredentials
from tenantry.core.context import CoreContext
from tenantry.core.errors import InvalidRequest, NotFound, TenantryError
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.invitations.model import InvitationKind, InvitationStatus, InvitationType
from tenantry.core.invitations.service import (
    InviteNewUser,
    cancel_invitation,
    invite_existing_user,
    invite_new_user,
    list_invitations,
)
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import Role
from tenantry.core.roles.service import assign_roles, list_tenant_roles, user_roles
from tenantry.core.tenants.model import Tenant
from tenantry.core.tenants.service import CreateTenant, create_tenant, get_tenant, list_tenants
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.service import (
    CreateUser,
    create_user,
    delete_user,
    get_user,
    list_application_users,
    list_tenant_users,
    update_user,
)
from tenantry.protocols.query import parse_query, parse_sort
from tenantry.protocols.query.parser import QueryError
from tenantry.web.dashboard.rendering import (
    ADMIN_COOKIE,
    DashboardError,
    FormDep,
    Signed,
    SignedDep,
    SignInRequired,
    error_text,
    not_found,
    redirect,
    render,
)
from tenantry.web.deps import ApplicationDep, CoreDep
from tenantry.web.ratelimit import RateLimits, client_ip

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 25
SESSION_SECONDS = 12 * 3600
USER_SORTS = {
    "email": "email",
    "givenName": "given name",
    "familyName": "family name",
    "status": "status",
    "creationTime": "created",
}
NOTICES = {
    "created": "User created.",
    "invited": "Invitation email sent.",
    "activation": "Activation email sent.",
    "saved": "Changes saved.",
    "deleted": "User deleted.",
    "canceled": "Invitation canceled.",
    "tenant": "Tenant created.",
}


def install(app: FastAPI) -> None:
    """Mount the dashboard: its router and the handlers of its HTML errors."""

    async def on_dashboard_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DashboardError)
        return render(request, "error.html", {"title": error.title, "message": error.message}, error.status)

    async def on_sign_in(request: Request, error: Exception) -> Response:
        return redirect("/dashboard/login")

    app.add_exception_handler(DashboardError, on_dashboard_error)
    app.add_exception_handler(SignInRequired, on_sign_in)
    app.include_router(router)


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(raw or default), low), high)
    except ValueError:
        return default


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A core call whose NotFound means 'not yours or not there': the dashboard's 404."""
    try:
        return fn(*args, **kwargs)
    except NotFound:
        raise not_found() from None


def _tenants(core: CoreContext, signed: Signed) -> list[Tenant]:
    if signed.app_view:
        page: Page[Tenant] = list_tenants(core, signed.principal, signed.application.id, ListSpec(count=200))
        return page.items
    assert signed.admin.tenant_id is not None
    return [_call(get_tenant, core, signed.principal, signed.admin.tenant_id)]


def _tenant_roles(core: CoreContext, signed: Signed, tenant_id: str) -> list[Role]:
    """The roles this administrator may hand to a user of ``tenant_id`` (nobody grants beyond their reach)."""
    page: Page[Role] = list_tenant_roles(core, signed.principal, tenant_id, True, ListSpec(count=100))
    return [r for r in page.items if all(signed.principal.can_grant(g, tenant_id) for g in r.grants)]


# ----------------------------------------------------------------------------------------- sign-in


@router.get("/static/dashboard.css", response_model=None)
def stylesheet() -> Response:
    return FileResponse(STATIC / "dashboard.css", media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("", response_model=None)
@router.get("/", response_model=None)
def home(signed: SignedDep) -> Response:
    return redirect("/dashboard/users")


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
        limited = render(
            request,
            "login.html",
            {
                "brand": application.display_name,
                "email": email,
                "error": "Too many attempts. Please wait a minute and try again.",
            },
            429,
        )
        limited.headers["Retry-After"] = "60"
        return limited
    try:
        admin = await run_in_threadpool(authenticate_admin, core, application.id, email, form.get("password"))
    except InvalidCredentials:
        context = {"brand": application.display_name, "email": email, "error": "Invalid email or password."}
        return render(request, "login.html", context, 401)
    token = await run_in_threadpool(start_admin_session, core, admin)
    response = redirect("/dashboard/users")
    response.set_cookie(
        ADMIN_COOKIE, token, max_age=SESSION_SECONDS, path="/dashboard", secure=True, httponly=True, samesite="strict"
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, application: ApplicationDep, core: CoreDep, form: FormDep) -> Response:
    end_admin_session(core, application.id, request.cookies.get(ADMIN_COOKIE))
    response = redirect("/dashboard/login")
    response.delete_cookie(ADMIN_COOKIE, path="/dashboard", secure=True, httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------------------------------- users


def user_query(search: str, status: str) -> str | None:
    """The dashboard's search box and status filter as an API ``query`` expression."""
    parts: list[str] = []
    if search:
        q = _quote(search)
        parts.append(f"(email sw {q} or username sw {q} or givenName sw {q} or familyName sw {q})")
    if status in UserStatus.__members__:
        parts.append(f"status eq {_quote(status)}")
    return " and ".join(parts) or None


@router.get("/users", response_model=None)
def users(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    params = request.query_params
    search = params.get("q", "").strip()[:100]
    status = params.get("status", "")
    sort = params.get("sort", "email")
    sort = sort if sort in USER_SORTS else "email"
    direction = "desc" if params.get("dir") == "desc" else "asc"
    per = _int(params.get("per"), PAGE_SIZE, 1, 100)
    page_no = _int(params.get("page"), 1, 1, 100_000)
    tenants = _tenants(core, signed)
    tenant_id = params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    context: dict[str, Any] = {
        "search": search,
        "status": status,
        "sort": sort,
        "dir": direction,
        "per": per,
        "tenant": tenant_id if signed.app_view else "",
        "tenants": tenants,
        "tenant_names": {t.id: t.display_name for t in tenants},
        "statuses": list(UserStatus),
        "sorts": USER_SORTS,
        "notice": _notice(request),
    }
    try:
        text = user_query(search, status)
        spec = ListSpec(
            filter=parse_query(text, USER_LISTING.attributes) if text else None,
            sort=parse_sort(f"{sort}:{direction}", USER_LISTING.attributes),
            start_index=(page_no - 1) * per + 1,
            count=per,
        )
    except QueryError as error:
        return render(request, "users.html", {**context, "error": str(error), "page": None}, 400, signed)
    if tenant_id:
        page: Page[User] = _call(list_tenant_users, core, signed.principal, tenant_id, spec)
    else:
        page = list_application_users(core, signed.principal, signed.application.id, spec)
    pages = max((page.total + per - 1) // per, 1)
    base = {k: v for k, v in params.items() if k != "page"}
    return render(
        request,
        "users.html",
        {**context, "page": page, "page_no": page_no, "pages": pages, "base": base},
        signed=signed,
    )


def _add_user_context(core: CoreContext, signed: Signed, tenant_id: str) -> dict[str, Any]:
    tenants = _tenants(core, signed)
    roles = _tenant_roles(core, signed, tenant_id) if tenant_id else []
    tenant = next((t for t in tenants if t.id == tenant_id), None)
    return {"tenants": tenants, "tenant": tenant, "roles": roles}


@router.get("/users/new", response_model=None)
def add_user_page(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    tenant_id = request.query_params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    context = _add_user_context(core, signed, tenant_id)
    if tenant_id and context["tenant"] is None:
        raise not_found()
    return render(request, "add_user.html", {**context, "values": {}, "chosen": []}, signed=signed)


@router.post("/users/new", response_model=None)
def add_user(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    context = _add_user_context(core, signed, tenant_id)
    if context["tenant"] is None:
        raise not_found()
    chosen = form.getlist("roles")
    profile = {k: form.get(k).strip() or None for k in ("givenName", "familyName")}
    try:
        if set(chosen) - {r.id for r in context["roles"]}:
            raise InvalidRequest("Choose roles from the list")
        user = create_user(
            core,
            signed.principal,
            CreateUser(
                tenant_id=tenant_id,
                identity_provider_name=BUILT_IN_NAME,
                email=form.get("email").strip(),
                profile=profile,
            ),
        )
    except TenantryError as error:
        values = {"email": form.get("email"), **{k: form.get(k) for k in profile}, "invite": form.get("invite")}
        return render(
            request,
            "add_user.html",
            {**context, "values": values, "chosen": chosen, "errors": error_text(error)},
            400,
            signed,
        )
    done = "created"
    try:
        if chosen:
            assign_roles(core, signed.principal, user.id, chosen, replace=False)
        if form.get("invite") == "on":
            invite_existing_user(core, signed.principal, user.id)
            done = "invited"
    except TenantryError as error:
        raise DashboardError(400, "User created, but…", " ".join(error_text(error))) from None
    return redirect(f"/dashboard/users/{user.id}?done={done}")


def _user_page(request: Request, core: CoreContext, signed: Signed, user: User, **extra: Any) -> Response:
    tenant = _call(get_tenant, core, signed.principal, user.tenant_id)
    assigned: Page[Role] = user_roles(core, signed.principal, user.id, ListSpec(count=100))
    context = {
        "user": user,
        "tenant": tenant,
        "assigned": {r.id for r in assigned.items},
        "roles": _tenant_roles(core, signed, user.tenant_id),
        "notice": _notice(request),
        "pending": user.status in (UserStatus.PENDING_INVITE_ACTIVATION, UserStatus.PENDING_SIGNUP_ACTIVATION),
        **extra,
    }
    return render(request, "user.html", context, 400 if extra.get("errors") else 200, signed)


@router.get("/users/{user_id}", response_model=None)
def user_page(request: Request, user_id: str, signed: SignedDep, core: CoreDep) -> Response:
    user: User = _call(get_user, core, signed.principal, user_id)
    return _user_page(request, core, signed, user)


@router.get("/users/{user_id}/delete", response_model=None)
def confirm_delete(request: Request, user_id: str, signed: SignedDep, core: CoreDep) -> Response:
    user: User = _call(get_user, core, signed.principal, user_id)
    return render(request, "confirm_delete.html", {"user": user}, signed=signed)


@router.post("/users/{user_id}/{action}", response_model=None)
def user_action(
    request: Request, user_id: str, action: str, signed: SignedDep, core: CoreDep, form: FormDep
) -> Response:
    actor = signed.principal
    user: User = _call(get_user, core, actor, user_id)
    done = "saved"
    try:
        match action:
            case "profile":
                changes = {k: form.get(k).strip() or None for k in ("givenName", "familyName")}
                _call(update_user, core, actor, user_id, changes)
            case "status":
                wanted = form.get("status")
                if wanted not in (UserStatus.ACTIVE, UserStatus.INACTIVE):
                    raise InvalidRequest("Choose active or inactive")
                _call(update_user, core, actor, user_id, {"status": wanted})
            case "verify":
                _call(update_user, core, actor, user_id, {"emailVerified": True})
            case "invite":
                _call(invite_existing_user, core, actor, user_id)
                done = "invited"
            case "activation":
                tenant = _call(get_tenant, core, actor, user.tenant_id)
                request_activation(core, signed.application, tenant, user)
                done = "activation"
            case "roles":
                _call(assign_roles, core, actor, user_id, form.getlist("roles"), replace=True)
            case "delete":
                if form.get("confirm") != user.email:
                    return render(
                        request,
                        "confirm_delete.html",
                        {"user": user, "error": "Type the user's email to confirm."},
                        400,
                        signed,
                    )
                _call(delete_user, core, actor, user_id)
                return redirect("/dashboard/users?done=deleted")
            case _:
                raise not_found()
    except DashboardError:
        raise
    except TenantryError as error:
        fresh: User = _call(get_user, core, actor, user_id)
        return _user_page(request, core, signed, fresh, errors=error_text(error))
    return redirect(f"/dashboard/users/{user_id}?done={done}")


# ------------------------------------------------------------------------------------- invitations


@router.get("/invitations", response_model=None)
def invitations(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    params = request.query_params
    status = params.get("status", "")
    per = _int(params.get("per"), PAGE_SIZE, 1, 100)
    page_no = _int(params.get("page"), 1, 1, 100_000)
    tenants = _tenants(core, signed)
    tenant_id = params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    text = f"status eq {_quote(status)}" if status in InvitationStatus.__members__ else None
    spec = ListSpec(
        filter=parse_query(text, INVITATION_LISTING.attributes) if text else None,
        sort=parse_sort("creationTime:desc", INVITATION_LISTING.attributes),
        start_index=(page_no - 1) * per + 1,
        count=per,
    )
    page = _call(
        list_invitations,
        core,
        signed.principal,
        InvitationKind.NEW_USER,
        spec,
        tenant_id=tenant_id or None,
        application_id=signed.application.id,
    )
    pages = max((page.total + per - 1) // per, 1)
    base = {k: v for k, v in params.items() if k != "page"}
    context = {
        "page": page,
        "status": status,
        "statuses": list(InvitationStatus),
        "tenant": tenant_id if signed.app_view else "",
        "tenants": tenants,
        "tenant_names": {t.id: t.display_name for t in tenants},
        "page_no": page_no,
        "pages": pages,
        "base": base,
        "notice": _notice(request),
        "now": core.clock.now(),
    }
    return render(request, "invitations.html", context, signed=signed)


@router.get("/invitations/new", response_model=None)
def invite_page(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    tenant_id = request.query_params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    context = _add_user_context(core, signed, tenant_id)
    if tenant_id and context["tenant"] is None:
        raise not_found()
    email = request.query_params.get("email", "")[:200]
    return render(request, "invite.html", {**context, "values": {"email": email}, "chosen": []}, signed=signed)


@router.post("/invitations/new", response_model=None)
def invite(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    context = _add_user_context(core, signed, tenant_id)
    if context["tenant"] is None:
        raise not_found()
    kind = InvitationType.LINK if form.get("type") == "LINK" else InvitationType.EMAIL
    chosen = form.getlist("roles")
    email = form.get("email").strip() or None
    try:
        invited = invite_new_user(
            core,
            signed.principal,
            InviteNewUser(tenant_id=tenant_id, email=email, invitation_type=kind, roles_to_assign=chosen),
        )
    except TenantryError as error:
        values = {"email": form.get("email"), "type": kind.value}
        context = {**context, "values": values, "chosen": chosen, "errors": error_text(error)}
        return render(request, "invite.html", context, 400, signed)
    return render(request, "invited.html", {"invitation": invited.invitation, "url": invited.invite_url}, signed=signed)


@router.post("/invitations/{invitation_id}/cancel", response_model=None)
def cancel(invitation_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    try:
        _call(cancel_invitation, core, signed.principal, invitation_id, InvitationKind.NEW_USER)
    except TenantryError as error:
        raise DashboardError(400, "Cannot cancel", " ".join(error_text(error))) from None
    return redirect("/dashboard/invitations?done=canceled")


# ----------------------------------------------------------------------------------------- tenants


def _app_admin(signed: Signed) -> None:
    if not signed.app_view:
        raise not_found()


@router.get("/tenants", response_model=None)
def tenants(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    _app_admin(signed)
    per = _int(request.query_params.get("per"), PAGE_SIZE, 1, 100)
    page_no = _int(request.query_params.get("page"), 1, 1, 100_000)
    page: Page[Tenant] = list_tenants(
        core, signed.principal, signed.application.id, ListSpec(start_index=(page_no - 1) * per + 1, count=per)
    )
    pages = max((page.total + per - 1) // per, 1)
    context = {"page": page, "page_no": page_no, "pages": pages, "base": {}, "notice": _notice(request), "values": {}}
    return render(request, "tenants.html", context, signed=signed)


@router.post("/tenants", response_model=None)
def add_tenant(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    _app_admin(signed)
    try:
        create_tenant(
            core,
            signed.principal,
            CreateTenant(domain_name=form.get("domainName").strip(), display_name=form.get("displayName").strip()),
        )
    except TenantryError as error:
        page: Page[Tenant] = list_tenants(core, signed.principal, signed.application.id, ListSpec(count=PAGE_SIZE))
        values = {"domainName": form.get("domainName"), "displayName": form.get("displayName")}
        context = {
            "page": page,
            "page_no": 1,
            "pages": max((page.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            "base": {},
            "values": values,
            "errors": error_text(error),
        }
        return render(request, "tenants.html", context, 400, signed)
    return redirect("/dashboard/tenants?done=tenant")
