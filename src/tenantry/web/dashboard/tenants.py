"""Tenants: list and create (application administrators), edit, policy overrides and delete."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.context import CoreContext
from tenantry.core.errors import TenantryError
from tenantry.core.ports import ListSpec, Page
from tenantry.core.tenants.model import Tenant
from tenantry.core.tenants.service import (
    CreateTenant,
    create_tenant,
    get_tenant,
    list_tenants,
    request_tenant_deletion,
    update_tenant,
)
from tenantry.web.dashboard.common import (
    PAGE_SIZE,
    app_admin_only,
    call,
    dashboard_router,
    int_param,
    notice,
)
from tenantry.web.dashboard.policies import kind_of, policy_forms, save_policy, title_of
from tenantry.web.dashboard.rendering import (
    FormDep,
    Signed,
    SignedDep,
    error_text,
    redirect,
    render,
)
from tenantry.web.deps import CoreDep

router = dashboard_router()


@router.get("/tenants", response_model=None)
def tenants(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    per = int_param(request.query_params.get("per"), PAGE_SIZE, 1, 100)
    page_no = int_param(request.query_params.get("page"), 1, 1, 100_000)
    page: Page[Tenant] = list_tenants(
        core, signed.principal, signed.application.id, ListSpec(start_index=(page_no - 1) * per + 1, count=per)
    )
    pages = max((page.total + per - 1) // per, 1)
    context = {"page": page, "page_no": page_no, "pages": pages, "base": {}, "notice": notice(request), "values": {}}
    return render(request, "tenants.html", context, signed=signed)


@router.post("/tenants", response_model=None)
def add_tenant(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
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


def _tenant_page(
    request: Request, core: CoreContext, signed: Signed, tenant_id: str, status: int = 200, **extra: Any
) -> Response:
    tenant: Tenant = call(get_tenant, core, signed.principal, tenant_id)
    context = {
        "section": "tenants" if signed.app_view else "tenant",
        "tenant": tenant,
        "deleting": tenant.status.value == "DELETE_IN_PROGRESS",
        "forms": policy_forms(core, signed, tenant.id),
        "action_base": f"/dashboard/tenants/{tenant.id}/policies",
        "tenant_level": True,
        "notice": notice(request),
        "values": {},
        **extra,
    }
    return render(request, "tenant.html", context, status, signed)


@router.get("/tenants/{tenant_id}", response_model=None)
def tenant_page(request: Request, tenant_id: str, signed: SignedDep, core: CoreDep) -> Response:
    return _tenant_page(request, core, signed, tenant_id)


@router.post("/tenants/{tenant_id}/settings", response_model=None)
def save_settings(request: Request, tenant_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    changes = {
        "displayName": form.get("displayName").strip(),
        "logoUrl": form.get("logoUrl").strip() or None,
        "signupEnabled": form.get("signupEnabled") == "on",
    }
    call(get_tenant, core, signed.principal, tenant_id)  # out of reach: 404 before anything else
    try:
        call(update_tenant, core, signed.principal, tenant_id, changes)
    except TenantryError as error:
        values = {**changes, "logoUrl": changes["logoUrl"] or ""}
        return _tenant_page(request, core, signed, tenant_id, 400, values=values, errors=error_text(error))
    return redirect(f"/dashboard/tenants/{tenant_id}?done=tenant-saved")


@router.post("/tenants/{tenant_id}/policies/{slug}", response_model=None)
def save_override(
    request: Request, tenant_id: str, slug: str, signed: SignedDep, core: CoreDep, form: FormDep
) -> Response:
    call(get_tenant, core, signed.principal, tenant_id)
    kind = kind_of(slug)
    try:
        call(save_policy, core, signed, kind, tenant_id, form)
    except TenantryError as error:
        errors = [f"{title_of(kind)}: {e}" for e in error_text(error)]
        return _tenant_page(request, core, signed, tenant_id, 400, errors=errors)
    return redirect(f"/dashboard/tenants/{tenant_id}?done=policy#policy-{slug}")


@router.get("/tenants/{tenant_id}/delete", response_model=None)
def confirm_tenant_delete(request: Request, tenant_id: str, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    tenant: Tenant = call(get_tenant, core, signed.principal, tenant_id)
    return render(request, "confirm_tenant_delete.html", {"section": "tenants", "tenant": tenant}, signed=signed)


@router.post("/tenants/{tenant_id}/delete", response_model=None)
def delete_tenant(request: Request, tenant_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    tenant: Tenant = call(get_tenant, core, signed.principal, tenant_id)
    if form.get("confirm") != tenant.domain_name:
        context = {"section": "tenants", "tenant": tenant, "error": "Type the tenant's domain name to confirm."}
        return render(request, "confirm_tenant_delete.html", context, 400, signed)
    call(request_tenant_deletion, core, signed.principal, tenant_id)
    return redirect("/dashboard/tenants?done=tenant-deleting")
