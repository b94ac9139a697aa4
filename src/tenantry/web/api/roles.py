"""Roles of tenants and the roles users hold."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from tenantry.adapters.sql.listing import ROLE_LISTING
from tenantry.core.roles import service as roles
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import role_json
from tenantry.web.api.schemas import CreateRoleBody, RoleIdsBody, UserIdsBody
from tenantry.web.deps import CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["roles"])
RoleList = Annotated[ListParams, Depends(list_params(ROLE_LISTING.attributes))]


@router.get("/tenants/{tenant_id}/roles")
def tenant_roles(
    tenant_id: str,
    params: RoleList,
    core: CoreDep,
    actor: PrincipalDep,
    include_application_roles: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    page = roles.list_tenant_roles(core, actor, tenant_id, include_application_roles, params.spec)
    return envelope(page, params, role_json)


@router.post("/tenants/{tenant_id}/roles", status_code=201)
def create_tenant_role(tenant_id: str, body: CreateRoleBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    cmd = roles.CreateTenantRole(tenant_id, body.name, body.displayName, body.description, body.permissions)
    return role_json(roles.create_tenant_role(core, actor, cmd))


@router.delete("/roles/{role_id}", status_code=204)
def delete_role(role_id: str, core: CoreDep, actor: PrincipalDep) -> Response:
    roles.delete_role(core, actor, role_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/assign-roles")
def assign_roles(user_id: str, body: RoleIdsBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    roles.assign_roles(core, actor, user_id, body.roleIds, replace=False)
    return {"userId": user_id, "roleIds": body.roleIds}


@router.post("/users/{user_id}/unassign-roles")
def unassign_roles(user_id: str, body: RoleIdsBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    roles.unassign_roles(core, actor, user_id, body.roleIds)
    return {"userId": user_id, "roleIds": body.roleIds}


@router.put("/users/{user_id}/roles")
def set_user_roles(user_id: str, body: RoleIdsBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    roles.assign_roles(core, actor, user_id, body.roleIds, replace=True)
    return {"userId": user_id, "roleIds": body.roleIds}


@router.get("/users/{user_id}/roles")
def user_roles(user_id: str, params: RoleList, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return envelope(roles.user_roles(core, actor, user_id, params.spec), params, role_json)


@router.post("/users/resolve-assigned-roles")
def resolve_assigned_roles(body: UserIdsBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    found, failures = roles.resolve_assigned_roles(core, actor, body.userIds)
    return {
        "items": [{"userId": f.user_id, "roles": [role_json(r) for r in f.roles]} for f in found],
        "failures": [{"code": f.code, "message": f.message, "index": f.index, "userId": f.user_id} for f in failures],
    }
