"""OAuth2 clients (application administrators): list, create (the secret is shown once), delete."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.clients.model import Client, ClientType
from tenantry.core.clients.service import CreateClient, create_client, delete_client, list_clients
from tenantry.core.context import CoreContext
from tenantry.core.errors import InvalidRequest, TenantryError
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import Role
from tenantry.core.roles.service import list_application_roles
from tenantry.web.dashboard.common import Paging, app_admin_only, call, dashboard_router, notice, tenants_in_reach
from tenantry.web.dashboard.rendering import FormDep, Signed, SignedDep, error_text, redirect, render
from tenantry.web.deps import CoreDep

router = dashboard_router()


def client_roles(core: CoreContext, signed: Signed) -> list[Role]:
    """Application roles this administrator may give a client (nobody grants beyond their reach)."""
    page: Page[Role] = list_application_roles(core, signed.principal, ListSpec(count=100))
    return [r for r in page.items if all(signed.principal.can_grant(g, None) for g in r.grants)]


def _page(request: Request, core: CoreContext, signed: Signed, status: int = 200, **extra: Any) -> Response:
    paging = Paging.of(request)
    page: Page[Client] = list_clients(
        core, signed.principal, signed.application.id, ListSpec(start_index=paging.start_index, count=paging.per)
    )
    tenants = tenants_in_reach(core, signed)
    context = {
        "section": "clients",
        "roles": client_roles(core, signed),
        "chosen": [],
        **paging.context(page, request.query_params),
        "tenants": tenants,
        "tenant_names": {t.id: t.display_name for t in tenants},
        "types": list(ClientType),
        "notice": notice(request),
        "values": {},
        **extra,
    }
    return render(request, "clients.html", context, status, signed)


@router.get("/clients", response_model=None)
def clients(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    return _page(request, core, signed)


@router.post("/clients", response_model=None)
def create(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    values = {k: form.get(k) for k in ("name", "type", "tenant", "redirectUris", "loginUrl")}
    chosen = form.getlist("roles")
    try:
        if values["type"] not in ClientType.__members__:
            raise InvalidRequest("Choose a client type")
        if set(chosen) - {r.id for r in client_roles(core, signed)}:
            raise InvalidRequest("Choose roles from the list")
        created = create_client(
            core,
            signed.principal,
            CreateClient(
                name=values["name"].strip(),
                type=ClientType(values["type"]),
                tenant_id=values["tenant"] or None,
                redirect_uris=[u.strip() for u in values["redirectUris"].splitlines() if u.strip()],
                login_url=values["loginUrl"].strip() or None,
                role_ids=chosen,
            ),
        )
    except TenantryError as error:
        return _page(request, core, signed, 400, values=values, chosen=chosen, errors=error_text(error))
    context = {"section": "clients", "client": created.client, "secret": created.secret}
    return render(request, "client_created.html", context, signed=signed)


@router.post("/clients/{client_id}/delete", response_model=None)
def delete(request: Request, client_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    call(delete_client, core, signed.principal, client_id)
    request.app.state.bearer.forget(client_id)
    request.app.state.clients.forget(client_id)
    return redirect("/dashboard/clients?done=client-deleted")
