"""Dashboard administrators (application administrators only): list, create, delete."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.admins.management import add_admin, delete_admin, list_admins
from tenantry.core.admins.model import Admin
from tenantry.core.admins.service import CreateAdmin
from tenantry.core.admins.totp import parse_state
from tenantry.core.context import CoreContext
from tenantry.core.errors import TenantryError
from tenantry.core.ports import Page
from tenantry.web.dashboard.common import Paging, app_admin_only, call, dashboard_router, notice, tenants_in_reach
from tenantry.web.dashboard.rendering import FormDep, Signed, SignedDep, error_text, redirect, render
from tenantry.web.deps import CoreDep

router = dashboard_router()


def _page(request: Request, core: CoreContext, signed: Signed, status: int = 200, **extra: Any) -> Response:
    paging = Paging.of(request)
    page: Page[Admin] = list_admins(core, signed.principal, paging.start_index, paging.per)
    tenants = tenants_in_reach(core, signed)
    context = {
        "section": "admins",
        **paging.context(page, request.query_params),
        "tenants": tenants,
        "tenant_names": {t.id: t.display_name for t in tenants},
        "totp": {a.id: bool((s := parse_state(a.totp_secret)) and s.active) for a in page.items},
        "notice": notice(request),
        "values": {},
        **extra,
    }
    return render(request, "admins.html", context, status, signed)


@router.get("/admins", response_model=None)
def admins(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    return _page(request, core, signed)


@router.post("/admins", response_model=None)
def create(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    tenant_id = form.get("tenant") or None
    try:
        add_admin(core, signed.principal, CreateAdmin(form.get("email").strip(), form.get("password"), tenant_id))
    except TenantryError as error:
        values = {"email": form.get("email"), "tenant": tenant_id or ""}
        return _page(request, core, signed, 400, values=values, errors=error_text(error))
    return redirect("/dashboard/admins?done=admin")


@router.post("/admins/{admin_id}/delete", response_model=None)
def delete(request: Request, admin_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    try:
        call(delete_admin, core, signed.principal, admin_id)
    except TenantryError as error:
        return _page(request, core, signed, 400, errors=error_text(error))
    return redirect("/dashboard/admins?done=admin-deleted")
