"""The application resource and policies (application level and tenant overrides)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from tenantry.core.applications.service import get_application, update_application
from tenantry.core.errors import NotFound
from tenantry.core.policies.model import PolicyKind
from tenantry.core.policies.service import read_policy, set_policy
from tenantry.web.api.representations import application_json
from tenantry.web.api.schemas import UpdateApplicationBody
from tenantry.web.deps import CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["applications", "policies"])
POLICY_PATHS = {
    "signup-policies": PolicyKind.SIGNUP,
    "user-schemas": PolicyKind.USER_SCHEMA,
    "password-policies": PolicyKind.PASSWORD,
    "email-policies": PolicyKind.EMAIL,
    "role-assignment-policies": PolicyKind.ROLE_ASSIGNMENT,
    "sso-login-policies": PolicyKind.SSO_LOGIN,
}


def _kind(name: str) -> PolicyKind:
    if name not in POLICY_PATHS:
        raise NotFound("policy", name[:50])
    return POLICY_PATHS[name]


@router.get("/applications/{application_id}")
def read_application(application_id: str, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return application_json(get_application(core, actor, application_id))


@router.patch("/applications/{application_id}")
def patch_application(
    application_id: str, body: UpdateApplicationBody, request: Request, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    updated = update_application(core, actor, application_id, changes)
    request.app.state.applications.forget()  # other nodes see the change within the cache's 30 s
    return application_json(updated)


@router.get("/applications/{application_id}/{policy}")
def read_application_policy(application_id: str, policy: str, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    return read_policy(core, actor, _kind(policy), None)


@router.put("/applications/{application_id}/{policy}")
def put_application_policy(
    application_id: str, policy: str, core: CoreDep, actor: PrincipalDep, body: dict[str, Any] = Body()
) -> dict[str, Any]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    return set_policy(core, actor, _kind(policy), None, body)


@router.put("/tenants/{tenant_id}/{policy}")
def put_tenant_policy(
    tenant_id: str, policy: str, core: CoreDep, actor: PrincipalDep, body: dict[str, Any] = Body()
) -> dict[str, Any]:
    return set_policy(core, actor, _kind(policy), tenant_id, body)


@router.post("/tenants/{tenant_id}/{policy}/resolve-overrides")
def resolve_tenant_policy(tenant_id: str, policy: str, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return read_policy(core, actor, _kind(policy), tenant_id)
