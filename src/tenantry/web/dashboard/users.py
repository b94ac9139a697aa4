"""The Users pages: the table (search, filters, sort, paging on the API's query engine), Add user,
and the user page with its actions."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.adapters.sql.listing import AUDIT_LISTING, INVITATION_LISTING, USER_LISTING
from tenantry.core.activation.service import request_activation
from tenantry.core.audit.model import AuditEvent
from tenantry.core.audit.service import list_events
from tenantry.core.auth.revocation import revoke_user_sessions
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidRequest, NotFound, TenantryError, Violation
from tenantry.core.identity_providers.model import BUILT_IN_NAME, IdentityProviderType
from tenantry.core.invitations.model import Invitation, InvitationKind
from tenantry.core.invitations.service import (
    invite_existing_user,
    list_invitations,
)
from tenantry.core.policies.model import PolicyKind
from tenantry.core.policies.service import read_policy
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import Role
from tenantry.core.roles.service import assign_roles, user_roles
from tenantry.core.sso.service import providers_for_login
from tenantry.core.tenants.service import get_tenant
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
from tenantry.web.dashboard.common import (
    PAGE_SIZE,
    call,
    dashboard_router,
    grantable_roles,
    int_param,
    is_htmx,
    notice,
    quote,
    tenants_in_reach,
)
from tenantry.web.dashboard.rendering import (
    DashboardError,
    Form,
    FormDep,
    Signed,
    SignedDep,
    error_text,
    not_found,
    redirect,
    render,
)
from tenantry.web.deps import CoreDep

USER_SORTS = {
    "email": "email",
    "givenName": "given name",
    "familyName": "family name",
    "status": "status",
    "creationTime": "created",
}

# Past this many matches the Users page shows an estimate, labelled "about" (PostgreSQL): an exact
# count of a million users costs more than the page (docs/performance.md).
EXACT_TOTAL_UP_TO = 10_000

router = dashboard_router()


def user_query(search: str, status: str, provider_type: str = "") -> str | None:
    """The dashboard's search box, status and identity-provider filters as an API ``query`` expression."""
    parts: list[str] = []
    if search:
        q = quote(search)
        parts.append(f"(email sw {q} or username sw {q} or givenName sw {q} or familyName sw {q})")
    if status in UserStatus.__members__:
        parts.append(f"status eq {quote(status)}")
    if provider_type in IdentityProviderType.__members__:
        parts.append(f"identityProviderType eq {quote(provider_type)}")
    return " and ".join(parts) or None


@router.get("/users", response_model=None)
def users(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    params = request.query_params
    search = params.get("q", "").strip()[:100]
    status = params.get("status", "")
    provider_type = params.get("idp", "")
    sort = params.get("sort", "email")
    sort = sort if sort in USER_SORTS else "email"
    direction = "desc" if params.get("dir") == "desc" else "asc"
    per = int_param(params.get("per"), PAGE_SIZE, 1, 100)
    page_no = int_param(params.get("page"), 1, 1, 100_000)
    tenants = tenants_in_reach(core, signed)
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
        "idp": provider_type,
        "idp_types": list(IdentityProviderType),
        "sorts": USER_SORTS,
        "notice": notice(request),
        "htmx_target": "#results-panel",
        "partial": is_htmx(request),
    }
    template = "_users_results.html" if context["partial"] else "users.html"
    try:
        text = user_query(search, status, provider_type)
        spec = ListSpec(
            filter=parse_query(text, USER_LISTING.attributes) if text else None,
            sort=parse_sort(f"{sort}:{direction}", USER_LISTING.attributes),
            start_index=(page_no - 1) * per + 1,
            count=per,
            exact_total_up_to=EXACT_TOTAL_UP_TO,
        )
    except QueryError as error:
        return render(request, template, {**context, "error": str(error), "page": None}, 400, signed)
    if tenant_id:
        page: Page[User] = call(list_tenant_users, core, signed.principal, tenant_id, spec)
    else:
        page = list_application_users(core, signed.principal, signed.application.id, spec)
    pages = max((page.total + per - 1) // per, 1)
    base = {k: v for k, v in params.items() if k != "page"}
    return render(
        request,
        template,
        {**context, "page": page, "page_no": page_no, "pages": pages, "base": base},
        signed=signed,
    )


PROFILE_LABELS = {
    "givenName": "Given name",
    "familyName": "Family name",
    "fullName": "Full name",
    "username": "Username",
    "phoneNumber": "Phone number (E.164, e.g. +14155550100)",
    "birthdate": "Birth date (YYYY-MM-DD)",
}


def required_fields(core: CoreContext, signed: Signed, tenant_id: str) -> list[str]:
    """The profile fields the tenant's user schema requires."""
    schema = call(read_policy, core, signed.principal, PolicyKind.USER_SCHEMA, tenant_id)
    return [name for name in schema.get("requiredFields", []) if name in PROFILE_LABELS]


def profile_from(form: Form, required: list[str]) -> dict[str, str | None]:
    """The profile fields of a posted form (blank is unset); a required one left blank is refused."""
    profile = {name: form.get(name).strip() or None for name in PROFILE_LABELS}
    if missing := [name for name in required if profile[name] is None]:
        raise ConstraintViolations(
            {name: [Violation("required")] for name in missing}, "The tenant's user schema requires these fields"
        )
    return profile


def add_user_context(core: CoreContext, signed: Signed, tenant_id: str) -> dict[str, Any]:
    tenants = tenants_in_reach(core, signed)
    roles = grantable_roles(core, signed, tenant_id) if tenant_id else []
    # The chosen tenant is read by id: the picker lists only the first tenants of a large application.
    tenant = next((t for t in tenants if t.id == tenant_id), None)
    if tenant is None and tenant_id:
        try:
            tenant = get_tenant(core, signed.principal, tenant_id)
        except NotFound:
            tenant = None
        if tenant is not None and not tenant.is_usable:
            tenant = None
    required = required_fields(core, signed, tenant.id) if tenant else []
    # The built-in provider, then the tenant's enterprise providers (an SSO user is provisioned
    # with the external id the IdP will assert: its OIDC ``sub`` or SAML NameID).
    providers = [(BUILT_IN_NAME, "Password (built-in)")] + (
        [(p.name, p.display_name) for p in providers_for_login(core, tenant)] if tenant else []
    )
    return {
        "tenants": tenants,
        "tenant": tenant,
        "roles": roles,
        "fields": PROFILE_LABELS,
        "required": required,
        "providers": providers,
    }


@router.get("/users/new", response_model=None)
def add_user_page(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    tenant_id = request.query_params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    context = add_user_context(core, signed, tenant_id)
    if tenant_id and context["tenant"] is None:
        raise not_found()
    return render(request, "add_user.html", {**context, "values": {}, "chosen": []}, signed=signed)


@router.post("/users/new", response_model=None)
def add_user(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    context = add_user_context(core, signed, tenant_id)
    if context["tenant"] is None:
        raise not_found()
    chosen = form.getlist("roles")
    provider = form.get("identityProvider") or BUILT_IN_NAME
    external_id = form.get("externalId").strip()
    try:
        profile = profile_from(form, context["required"])
        if set(chosen) - {r.id for r in context["roles"]}:
            raise InvalidRequest("Choose roles from the list")
        if provider not in {name for name, _ in context["providers"]}:
            raise InvalidRequest("Choose an identity provider from the list")
        user = create_user(
            core,
            signed.principal,
            CreateUser(
                tenant_id=tenant_id,
                identity_provider_name=provider,
                email=form.get("email").strip(),
                profile={**profile, **({"externalId": external_id} if external_id else {})},
            ),
        )
    except TenantryError as error:
        values = {
            "email": form.get("email"),
            **{k: form.get(k) for k in PROFILE_LABELS},
            "invite": form.get("invite"),
            "identityProvider": provider,
            "externalId": external_id,
        }
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


HISTORY = 20


def invitation_history(core: CoreContext, signed: Signed, user: User) -> list[Invitation]:
    """The user's existing-user invitations and the new-user invitations sent to their email, newest first."""
    newest = parse_sort("creationTime:desc", INVITATION_LISTING.attributes)
    found: list[Invitation] = []
    for kind, text in (
        (InvitationKind.EXISTING_USER, f"userId eq {quote(user.id)}"),
        (InvitationKind.NEW_USER, f"email eq {quote(user.email)}"),
    ):
        spec = ListSpec(filter=parse_query(text, INVITATION_LISTING.attributes), sort=newest, count=HISTORY)
        page: Page[Invitation] = list_invitations(
            core, signed.principal, kind, spec, tenant_id=user.tenant_id, application_id=signed.application.id
        )
        found.extend(page.items)
    return sorted(found, key=lambda i: i.metadata.creation_time, reverse=True)[:HISTORY]


def audit_history(core: CoreContext, signed: Signed, user: User) -> Page[AuditEvent]:
    spec = ListSpec(
        filter=parse_query(f"targetId eq {quote(user.id)}", AUDIT_LISTING.attributes),
        sort=parse_sort("creationTime:desc", AUDIT_LISTING.attributes),
        count=HISTORY,
    )
    page: Page[AuditEvent] = list_events(core, signed.principal, signed.application.id, spec)
    return page


def _user_page(request: Request, core: CoreContext, signed: Signed, user: User, **extra: Any) -> Response:
    tenant = call(get_tenant, core, signed.principal, user.tenant_id)
    assigned: Page[Role] = user_roles(core, signed.principal, user.id, ListSpec(count=100))
    context = {
        "invitations": invitation_history(core, signed, user),
        "events": audit_history(core, signed, user),
        "now": core.clock.now(),
        "user": user,
        "tenant": tenant,
        "assigned": {r.id for r in assigned.items},
        "roles": grantable_roles(core, signed, user.tenant_id),
        "fields": PROFILE_LABELS,
        "required": required_fields(core, signed, user.tenant_id),
        "notice": notice(request),
        "pending": user.status in (UserStatus.PENDING_INVITE_ACTIVATION, UserStatus.PENDING_SIGNUP_ACTIVATION),
        **extra,
    }
    return render(request, "user.html", context, 400 if extra.get("errors") else 200, signed)


@router.get("/users/{user_id}", response_model=None)
def user_page(request: Request, user_id: str, signed: SignedDep, core: CoreDep) -> Response:
    user: User = call(get_user, core, signed.principal, user_id)
    return _user_page(request, core, signed, user)


@router.get("/users/{user_id}/delete", response_model=None)
def confirm_delete(request: Request, user_id: str, signed: SignedDep, core: CoreDep) -> Response:
    user: User = call(get_user, core, signed.principal, user_id)
    return render(request, "confirm_delete.html", {"user": user}, signed=signed)


@router.post("/users/{user_id}/{action}", response_model=None)
def user_action(
    request: Request, user_id: str, action: str, signed: SignedDep, core: CoreDep, form: FormDep
) -> Response:
    actor = signed.principal
    user: User = call(get_user, core, actor, user_id)
    done = "saved"
    try:
        match action:
            case "profile":
                changes = profile_from(form, required_fields(core, signed, user.tenant_id))
                call(update_user, core, actor, user_id, changes)
            case "status":
                wanted = form.get("status")
                if wanted not in (UserStatus.ACTIVE, UserStatus.INACTIVE):
                    raise InvalidRequest("Choose active or inactive")
                call(update_user, core, actor, user_id, {"status": wanted})
            case "verify":
                call(update_user, core, actor, user_id, {"emailVerified": True})
            case "invite":
                call(invite_existing_user, core, actor, user_id)
                done = "invited"
            case "sessions":
                call(revoke_user_sessions, core, actor, user_id)
                done = "revoked"
            case "activation":
                tenant = call(get_tenant, core, actor, user.tenant_id)
                request_activation(core, signed.application, tenant, user)
                done = "activation"
            case "roles":
                call(assign_roles, core, actor, user_id, form.getlist("roles"), replace=True)
            case "delete":
                if form.get("confirm") != user.email:
                    return render(
                        request,
                        "confirm_delete.html",
                        {"user": user, "error": "Type the user's email to confirm."},
                        400,
                        signed,
                    )
                call(delete_user, core, actor, user_id)
                return redirect("/dashboard/users?done=deleted")
            case _:
                raise not_found()
    except DashboardError:
        raise
    except TenantryError as error:
        fresh: User = call(get_user, core, actor, user_id)
        return _user_page(request, core, signed, fresh, errors=error_text(error))
    return redirect(f"/dashboard/users/{user_id}?done={done}")
