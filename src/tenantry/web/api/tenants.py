"""``/api/v1/tenants`` and the application's tenant listing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from tenantry.adapters.sql.listing import TENANT_LISTING
from tenantry.core.errors import ConstraintViolations, Violation
from tenantry.core.tenants import service as tenants
from tenantry.protocols.query import parse_fields, select_fields
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import application_json, tenant_json
from tenantry.web.api.schemas import CreateTenantBody, UpdateTenantBody
from tenantry.web.deps import ApplicationDep, CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["tenants"])
TenantList = Annotated[ListParams, Depends(list_params(TENANT_LISTING.attributes))]
FieldsParam = Annotated[str | None, Query(description="comma-separated field paths")]


@router.post("/tenants", status_code=201)
def create_tenant(
    body: CreateTenantBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    if body.applicationId is not None and body.applicationId != application.id:
        raise ConstraintViolations({"applicationId": [Violation("invalid_value")]}, "Unknown application")
    tenant = tenants.create_tenant(
        core,
        actor,
        tenants.CreateTenant(
            domain_name=body.domainName,
            display_name=body.displayName,
            type=body.type,
            description=body.description,
            logo_url=body.logoUrl,
            custom_domain=body.customDomain,
            signup_enabled=body.signupEnabled,
            public_metadata=body.publicMetadata or {},
            restricted_metadata=body.restrictedMetadata or {},
        ),
    )
    return tenant_json(tenant, application)


@router.get("/tenants/{tenant_id}")
def get_tenant(
    tenant_id: str,
    core: CoreDep,
    actor: PrincipalDep,
    application: ApplicationDep,
    fields: FieldsParam = None,
    application_fields: FieldsParam = None,
) -> dict[str, Any]:
    doc = select_fields(tenant_json(tenants.get_tenant(core, actor, tenant_id), application), parse_fields(fields))
    if application_fields is not None:
        from tenantry.core.applications.service import get_application

        app = get_application(core, actor, application.id)
        doc["application"] = select_fields(application_json(app), parse_fields(application_fields))
    return doc


@router.patch("/tenants/{tenant_id}")
def patch_tenant(
    tenant_id: str, body: UpdateTenantBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return tenant_json(tenants.update_tenant(core, actor, tenant_id, changes), application)


@router.delete("/tenants/{tenant_id}", status_code=202, response_class=Response)  # accepted, no body
def delete_tenant(tenant_id: str, core: CoreDep, actor: PrincipalDep) -> Response:
    tenants.request_tenant_deletion(core, actor, tenant_id)
    return Response(status_code=202)


@router.get("/applications/{application_id}/tenants")
def application_tenants(
    application_id: str, params: TenantList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    page = tenants.list_tenants(core, actor, application_id, params.spec)
    return envelope(page, params, lambda t: tenant_json(t, application))
