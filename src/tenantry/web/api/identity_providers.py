"""``/api/v1/identity-providers``, a tenant's and the application's providers, the tenant
resolution endpoints (overrides, redirect URLs, test connection) and the override toggles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from tenantry.core.errors import NotFound
from tenantry.core.identity_providers import overrides
from tenantry.core.identity_providers import service as idps
from tenantry.core.identity_providers.access import MANAGE
from tenantry.core.identity_providers.model import IdentityProviderType, ProtocolType
from tenantry.core.identity_providers.urls import scim_base_url
from tenantry.core.provisioning import service as provisioning
from tenantry.protocols.query import parse_fields, select_fields
from tenantry.web.api.identity_provider_json import IDP_ATTRIBUTES, page_of, provider_json, redirect_urls
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.schemas import Body
from tenantry.web.deps import ApplicationDep, CoreDep, PrincipalDep
from tenantry.web.identity_provider_checks import import_saml_metadata, test_connection
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["identity providers"])
ProviderList = Annotated[ListParams, Depends(list_params(IDP_ATTRIBUTES))]
FieldsParam = Annotated[str | None, Query(description="comma-separated field paths")]


class ProviderBody(Body):
    """Types are checked by the use case, so every problem comes back with its wire field name."""

    ownerType: Any = None
    ownerId: Any = None
    type: Any = None
    name: Any = None
    displayName: Any = None
    domainName: Any = None
    status: Any = None
    jitProvisioningEnabled: Any = None
    emailDomains: Any = None
    roleMappings: Any = None
    protocol: Any = None

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class OverrideToggleBody(Body):
    ownerType: Any = None
    ownerId: str
    status: Any = "ENABLED"


class RedirectUrlsBody(Body):
    identityProviderTypes: list[str]


class TestConnectionBody(Body):
    identityProviderType: str | None = None
    identityProviderId: str | None = None


def _is_saml(provider_type: Any, protocol: Mapping[str, Any]) -> bool:
    return provider_type == IdentityProviderType.SAML2.value or protocol.get("type") == ProtocolType.SAML2.value


async def _with_metadata(fields: dict[str, Any], provider_type: Any) -> dict[str, Any]:
    protocol = fields.get("protocol")
    if isinstance(protocol, dict) and _is_saml(provider_type, protocol):
        fields["protocol"] = await import_saml_metadata(protocol)
    return fields


def _flag(raw: str | None) -> bool:
    return (raw or "").lower() == "true"


def _values(request: Request, name: str) -> list[str]:
    """A list query parameter, repeated and/or comma-separated."""
    return [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]


@router.post("/identity-providers", response_model=None)
async def upsert_provider(
    body: ProviderBody,
    request: Request,
    response: Response,
    core: CoreDep,
    actor: PrincipalDep,
    application: ApplicationDep,
) -> dict[str, Any]:
    fields = body.fields()
    idps.require_may_configure(actor, fields)  # before fetching any metadata on the caller's behalf
    fields = await _with_metadata(fields, fields.get("type"))
    view, created = await run_in_thread(
        idps.upsert_identity_provider, core, actor, fields, upsert=_flag(request.query_params.get("upsert"))
    )
    response.status_code = 201 if created else 200
    return provider_json(view.provider, application, view.tenant)


@router.get("/identity-providers/{provider_id}")
def get_provider(
    provider_id: str, core: CoreDep, actor: PrincipalDep, application: ApplicationDep, fields: FieldsParam = None
) -> dict[str, Any]:
    view = idps.get_identity_provider(core, actor, provider_id)
    return select_fields(provider_json(view.provider, application, view.tenant), parse_fields(fields))


@router.patch("/identity-providers/{provider_id}")
async def patch_provider(
    provider_id: str, body: ProviderBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    changes = body.fields()
    current = await run_in_thread(idps.get_identity_provider, core, actor, provider_id, MANAGE)
    protocol = changes.get("protocol")
    if isinstance(protocol, dict) and current.provider.protocol_type is ProtocolType.SAML2:
        changes = await _with_metadata(changes, IdentityProviderType.SAML2.value)
    view = await run_in_thread(idps.update_identity_provider, core, actor, provider_id, changes)
    return provider_json(view.provider, application, view.tenant)


@router.delete("/identity-providers/{provider_id}", status_code=204)
def delete_provider(provider_id: str, core: CoreDep, actor: PrincipalDep) -> Response:
    idps.delete_identity_provider(core, actor, provider_id)
    return Response(status_code=204)


class DirectoryTokenBody(Body):
    tenantId: str


@router.post("/identity-providers/{provider_id}/directory-token", status_code=201)
def issue_directory_token(
    provider_id: str, body: DirectoryTokenBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    """A SCIM 2.0 token for the tenant's directory to provision this provider's users (shown once;
    it replaces the pair's earlier token)."""
    issued = provisioning.issue_directory_token(core, actor, provider_id, body.tenantId)
    return {
        "tenantId": issued.tenant.id,
        "identityProviderId": issued.provider.id,
        "scimBaseUrl": scim_base_url(application, issued.tenant),
        "token": issued.token,
    }


@router.get("/identity-providers/{provider_id}/directory-token")
def directory_token_status(
    provider_id: str,
    core: CoreDep,
    actor: PrincipalDep,
    application: ApplicationDep,
    tenant_id: Annotated[str, Query(alias="tenantId")],
) -> dict[str, Any]:
    """Whether the tenant's directory is connected through this provider (the token itself is
    never shown again): 200 with when it was issued, 404 when there is no token."""
    status = provisioning.directory_token_status(core, actor, provider_id, tenant_id)
    if status.issued_at is None:
        raise NotFound("directory_token", provider_id)
    return {
        "tenantId": status.tenant.id,
        "identityProviderId": status.provider.id,
        "scimBaseUrl": scim_base_url(application, status.tenant),
        "issuedAt": status.issued_at.isoformat().replace("+00:00", "Z"),
    }


@router.delete("/identity-providers/{provider_id}/directory-token", status_code=204)
def revoke_directory_token(
    provider_id: str, core: CoreDep, actor: PrincipalDep, tenant_id: Annotated[str, Query(alias="tenantId")]
) -> Response:
    provisioning.revoke_directory_token(core, actor, provider_id, tenant_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/identity-providers")
def tenant_providers(
    tenant_id: str, params: ProviderList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    tenant, providers = idps.list_tenant_identity_providers(core, actor, tenant_id)
    return envelope(page_of(providers, params.spec), params, lambda p: provider_json(p, application, tenant))


@router.get("/applications/{application_id}/identity-providers")
def application_providers(
    application_id: str, params: ProviderList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    providers = idps.list_application_identity_providers(core, actor, application_id)
    return envelope(page_of(providers, params.spec), params, lambda p: provider_json(p, application, None))


@router.post("/tenants/{tenant_id}/identity-providers/resolve-overrides")
def resolve_overrides(
    tenant_id: str, request: Request, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    tenant, resolved = overrides.resolve_overrides(
        core, actor, tenant_id, types=_values(request, "types"), names=_values(request, "names")
    )
    return {
        "items": [{"item": provider_json(r.provider, application, tenant), "isDefault": r.is_default} for r in resolved]
    }


@router.post("/tenants/{tenant_id}/identity-providers/resolve-redirect-urls")
def resolve_redirect_urls(
    tenant_id: str, body: RedirectUrlsBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    types = list(dict.fromkeys(body.identityProviderTypes))
    tenant, resolved = overrides.resolve_overrides(core, actor, tenant_id, types=types)
    items = []
    for provider_type in types:
        urls = []
        for r in resolved:
            if r.provider.type.value != provider_type or not r.provider.is_external:
                continue
            found = redirect_urls(application, tenant, r.provider)
            assert r.provider.protocol_type is not None
            urls.append(
                {
                    "protocolType": r.provider.protocol_type.value,
                    "redirectUrl": found.get("redirectUrl") or found["acsUrl"],
                    "redirectDomainName": found.get("redirectDomainName") or found["spDomainName"],
                }
            )
        items.append({"identityProviderType": provider_type, "redirectUrls": urls})
    return {"items": items}


@router.post("/tenants/{tenant_id}/identity-providers/test-connection")
async def test_provider_connection(
    tenant_id: str, body: TestConnectionBody, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    _, provider = await run_in_thread(
        overrides.connection_target,
        core,
        actor,
        tenant_id,
        provider_type=body.identityProviderType,
        provider_id=body.identityProviderId,
    )
    report = await test_connection(provider)
    return {
        "ok": report.ok,
        "identityProviderId": provider.id,
        "identityProviderType": provider.type.value,
        "protocolType": report.protocol_type,
        "checks": report.checks,
    }


@router.post("/identity-provider-override-toggles", response_model=None)
def upsert_override_toggle(
    body: OverrideToggleBody, request: Request, response: Response, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    toggle, created = overrides.set_override_toggle(
        core, actor, body.ownerType, body.ownerId, body.status, upsert=_flag(request.query_params.get("upsert"))
    )
    response.status_code = 201 if created else 200
    return {"ownerType": toggle.owner_type.value, "ownerId": toggle.owner_id, "status": toggle.status.value}
