"""New-user invitations: the list with its status filter, the invite form (EMAIL or LINK), cancel."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from tenantry.adapters.sql.listing import INVITATION_LISTING
from tenantry.core.errors import InvalidRequest, TenantryError
from tenantry.core.invitations.model import InvitationKind, InvitationStatus, InvitationType
from tenantry.core.invitations.service import (
    InviteNewUser,
    cancel_invitation,
    invite_new_user,
    list_invitations,
)
from tenantry.core.ports import ListSpec
from tenantry.protocols.query import parse_query, parse_sort
from tenantry.web.dashboard.common import (
    PAGE_SIZE,
    call,
    dashboard_router,
    int_param,
    is_htmx,
    notice,
    quote,
    tenants_in_reach,
)
from tenantry.web.dashboard.rendering import (
    DashboardError,
    FormDep,
    SignedDep,
    error_text,
    not_found,
    redirect,
    render,
)
from tenantry.web.dashboard.users import add_user_context
from tenantry.web.deps import CoreDep

router = dashboard_router()
# ------------------------------------------------------------------------------------- invitations


@router.get("/invitations", response_model=None)
def invitations(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    params = request.query_params
    status = params.get("status", "")
    per = int_param(params.get("per"), PAGE_SIZE, 1, 100)
    page_no = int_param(params.get("page"), 1, 1, 100_000)
    tenants = tenants_in_reach(core, signed)
    tenant_id = params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    text = f"status eq {quote(status)}" if status in InvitationStatus.__members__ else None
    spec = ListSpec(
        filter=parse_query(text, INVITATION_LISTING.attributes) if text else None,
        sort=parse_sort("creationTime:desc", INVITATION_LISTING.attributes),
        start_index=(page_no - 1) * per + 1,
        count=per,
    )
    page = call(
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
        "notice": notice(request),
        "now": core.clock.now(),
    }
    return render(request, "invitations.html", context, signed=signed)


@router.get("/invitations/new", response_model=None)
def invite_page(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    tenant_id = request.query_params.get("tenant", "") if signed.app_view else signed.admin.tenant_id or ""
    context = add_user_context(core, signed, tenant_id)
    if tenant_id and context["tenant"] is None:
        raise not_found()
    email = request.query_params.get("email", "")[:200]
    return render(request, "invite.html", {**context, "values": {"email": email}, "chosen": []}, signed=signed)


@router.post("/invitations/new", response_model=None)
def invite(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    context = add_user_context(core, signed, tenant_id)
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
def cancel(request: Request, invitation_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    try:
        canceled = call(cancel_invitation, core, signed.principal, invitation_id, InvitationKind.NEW_USER)
    except TenantryError as error:
        raise DashboardError(400, "Cannot cancel", " ".join(error_text(error))) from None
    if is_htmx(request):
        tenants = tenants_in_reach(core, signed)
        context = {"i": canceled, "now": core.clock.now(), "tenant_names": {t.id: t.display_name for t in tenants}}
        return render(request, "_invitation_row.html", context, signed=signed)
    return redirect("/dashboard/invitations?done=canceled")


@router.post("/invitations/{invitation_id}/resend", response_model=None)
def resend(request: Request, invitation_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    """Send a new invitation email to the same address with the same roles (the old one is replaced)."""
    spec = ListSpec(filter=parse_query(f"id eq {quote(invitation_id)}", INVITATION_LISTING.attributes), count=1)
    found = call(
        list_invitations,
        core,
        signed.principal,
        InvitationKind.NEW_USER,
        spec,
        tenant_id=None,
        application_id=signed.application.id,
    )
    if not found.items:
        raise not_found()
    old = found.items[0]
    try:
        if old.email is None or old.invitation_type is not InvitationType.EMAIL:
            raise InvalidRequest("Only email invitations can be resent; create a new link instead")
        invite_new_user(
            core,
            signed.principal,
            InviteNewUser(
                tenant_id=old.tenant_id,
                email=old.email,
                invitation_type=InvitationType.EMAIL,
                roles_to_assign=list(old.roles_to_assign),
            ),
        )
    except TenantryError as error:
        raise DashboardError(400, "Cannot resend", " ".join(error_text(error))) from None
    return redirect("/dashboard/invitations?done=resent")
