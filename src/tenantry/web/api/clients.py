"""OAuth2 clients and the application resource."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from tenantry.adapters.sql.listing import CLIENT_LISTING
from tenantry.core.clients import service as clients
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import client_json
from tenantry.web.api.schemas import CreateClientBody
from tenantry.web.deps import CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["clients"])
ClientList = Annotated[ListParams, Depends(list_params(CLIENT_LISTING.attributes))]


@router.post("/clients", status_code=201)
def create_client(body: CreateClientBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    created = clients.create_client(
        core,
        actor,
        clients.CreateClient(
            name=body.name,
            type=body.type,
            tenant_id=body.tenantId,
            redirect_uris=body.redirectUris,
            login_url=body.loginUrl,
            role_ids=body.roleIds,
        ),
    )
    doc = client_json(created.client)
    if created.secret is not None:
        doc["clientSecret"] = created.secret
    return doc


@router.get("/clients/{client_id}")
def get_client(client_id: str, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return client_json(clients.get_client(core, actor, client_id))


@router.delete("/clients/{client_id}", status_code=204)
def delete_client(client_id: str, request: Request, core: CoreDep, actor: PrincipalDep) -> Response:
    clients.delete_client(core, actor, client_id)
    request.app.state.bearer.forget(client_id)
    request.app.state.clients.forget(client_id)
    return Response(status_code=204)


@router.get("/applications/{application_id}/clients")
def application_clients(application_id: str, params: ClientList, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return envelope(clients.list_clients(core, actor, application_id, params.spec), params, client_json)
