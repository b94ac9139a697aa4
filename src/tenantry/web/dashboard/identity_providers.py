"""Identity providers in the dashboard: a tenant's (or the application's) providers, the built-in
provider's sign-in summary, the tenant override toggle, and creating / editing external OIDC and
SAML 2.0 providers (metadata paste or URL, SP URLs to copy, JIT, email domains, group → role
mappings, test connection, delete with confirmation).

Everything goes through the same use cases as the API with the administrator's Principal: a
tenant administrator reaches only their own tenant's providers (anything else is a 404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from tenantry.core.context import CoreContext
from tenantry.core.errors import TenantryError
from tenantry.core.identity_providers import overrides
from tenantry.core.identity_providers import service as idps
from tenantry.core.identity_providers.access import MANAGE
from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
    ProtocolType,
)
from tenantry.core.identity_providers.settings import (
    DEFAULT_OIDC_CLAIMS,
    DEFAULT_SAML_ATTRIBUTES,
    MAPPABLE_FIELDS,
    PRESET_ISSUERS,
)
from tenantry.core.identity_providers.urls import SsoUrls, scim_base_url, sso_urls
from tenantry.core.provisioning import service as provisioning
from tenantry.core.roles.model import OwnerType, Role
from tenantry.core.tenants.model import Tenant
from tenantry.web.dashboard.common import call, dashboard_router, grantable_roles, tenants_in_reach
from tenantry.web.dashboard.rendering import (
    DashboardError,
    Form,
    Signed,
    SignedDep,
    error_text,
    not_found,
    read_checked_form,
    redirect,
    render,
)
from tenantry.web.deps import CoreDep
from tenantry.web.identity_provider_checks import ConnectionReport, import_saml_metadata, test_connection
from tenantry.web.threads import run_in_thread

router = dashboard_router()
BASE = "/dashboard/identity-providers"
MAX_FORM_BYTES = 1_048_576  # pasted IdP metadata can be large
EMPTY_MAPPING_ROWS = 3
OIDC_TYPES = (
    IdentityProviderType.OIDC,
    IdentityProviderType.OKTA,
    IdentityProviderType.AZURE_AD,
    IdentityProviderType.GOOGLE_WORKSPACE,
)
SAML_TYPES = (
    IdentityProviderType.SAML2,
    IdentityProviderType.OKTA,
    IdentityProviderType.AZURE_AD,
    IdentityProviderType.GOOGLE_WORKSPACE,
)
NOTICES = {
    "created": "Identity provider created.",
    "saved": "Changes saved.",
    "deleted": "Identity provider deleted.",
    "toggle": "Override setting saved.",
    "revoked": "Directory token revoked: the directory can no longer provision users.",
}


async def idp_form(request: Request) -> Form:
    """The posted form, up to 1 MB for pasted metadata, refused (403) without the CSRF token."""
    return await read_checked_form(request, max_bytes=MAX_FORM_BYTES, max_fields=500)


IdpFormDep = Annotated[Form, Depends(idp_form)]


# -------------------------------------------------------------------------------------------- list


def _scope(request: Request, signed: Signed) -> str:
    """The tenant whose providers are shown ("" = the application's own, app administrators only)."""
    if signed.app_view:
        return request.query_params.get("tenant", "")
    return signed.admin.tenant_id or ""


@router.get("/identity-providers", response_model=None)
def providers(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    tenant_id = _scope(request, signed)
    tenants = tenants_in_reach(core, signed) if signed.app_view else []
    tenant: Tenant | None = None
    toggle = None
    if tenant_id:
        tenant, listed = call(idps.list_tenant_identity_providers, core, signed.principal, tenant_id)
        toggle = overrides.override_toggle(core, signed.principal, tenant_id)
    else:
        listed = idps.list_application_identity_providers(core, signed.principal, signed.application.id)
    built_in = next((p for p in listed if not p.is_external), None)
    context = {
        "section": "identity-providers",
        "tenants": tenants,
        "tenant": tenant,
        "providers": [p for p in listed if p.is_external],
        "built_in": built_in,
        "toggle": toggle.value if toggle else None,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render(request, "idp_list.html", context, signed=signed)


@router.post("/identity-providers/override-toggle", response_model=None)
def save_toggle(signed: SignedDep, core: CoreDep, form: IdpFormDep) -> Response:
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    status = IdentityProviderStatus.ENABLED if form.get("status") == "ENABLED" else IdentityProviderStatus.DISABLED
    try:
        call(overrides.set_override_toggle, core, signed.principal, OwnerType.TENANT.value, tenant_id, status.value)
    except TenantryError as error:
        raise DashboardError(400, "Cannot save", " ".join(error_text(error))) from None
    return redirect(f"{BASE}?tenant={tenant_id}&done=toggle")


# -------------------------------------------------------------------------------------- form model


@dataclass(slots=True)
class FormState:
    """What the provider form shows: the values typed (or stored) and the choices offered."""

    kind: str  # "oidc" or "saml"
    values: dict[str, Any]
    mappings: list[tuple[str, list[str]]]
    roles: list[Role]


def _kind_of(provider: IdentityProvider) -> str:
    return "saml" if provider.protocol_type is ProtocolType.SAML2 else "oidc"


def _values_of(provider: IdentityProvider) -> dict[str, Any]:
    protocol = provider.protocol
    kind = _kind_of(provider)
    defaults = DEFAULT_SAML_ATTRIBUTES if kind == "saml" else DEFAULT_OIDC_CLAIMS
    mapping_key = "attributeMapping" if kind == "saml" else "claimMapping"
    stored = protocol.get(mapping_key)
    mapping = {**defaults, **(stored if isinstance(stored, dict) else {})}
    certs = protocol.get("idpSigningCerts")
    scopes = protocol.get("scopes")
    return {
        "type": provider.type.value,
        "name": provider.name,
        "displayName": provider.display_name,
        "domainName": protocol.get("domainName") or "",
        "status": provider.status.value,
        "jit": provider.jit_provisioning_enabled,
        "emailDomains": "\n".join(provider.email_domains),
        "issuer": protocol.get("issuer") or "",
        "clientId": protocol.get("clientId") or "",
        "scopes": " ".join(str(s) for s in scopes) if isinstance(scopes, list) else "",
        "idpEntityId": protocol.get("idpEntityId") or "",
        "idpSsoUrl": protocol.get("idpSsoUrl") or "",
        "idpMetadataUrl": protocol.get("idpMetadataUrl") or "",
        "idpSigningCerts": "\n".join(str(c) for c in certs) if isinstance(certs, list) else "",
        "allowIdpInitiatedSso": protocol.get("allowIdpInitiatedSso") is True,
        "signAuthnRequests": protocol.get("signAuthnRequests") is True,
        "wantAssertionsSigned": protocol.get("wantAssertionsSigned", True) is not False,
        "wantResponseSigned": protocol.get("wantResponseSigned") is True,
        "mapping": {f: str(mapping.get(f) or "") for f in MAPPABLE_FIELDS},
        "hasSecret": bool(protocol.get("clientSecret")),
    }


def _new_values(kind: str) -> dict[str, Any]:
    defaults = DEFAULT_SAML_ATTRIBUTES if kind == "saml" else DEFAULT_OIDC_CLAIMS
    return {
        "type": IdentityProviderType.SAML2.value if kind == "saml" else IdentityProviderType.OIDC.value,
        "status": IdentityProviderStatus.ENABLED.value,
        "jit": True,
        "scopes": "openid email profile",
        "wantAssertionsSigned": True,
        "mapping": {f: str(defaults.get(f) or "") for f in MAPPABLE_FIELDS},
    }


def _values_from(form: Form, kind: str) -> dict[str, Any]:
    text = (
        "type",
        "name",
        "displayName",
        "domainName",
        "status",
        "emailDomains",
        "issuer",
        "clientId",
        "scopes",
        "idpEntityId",
        "idpSsoUrl",
        "idpMetadataUrl",
        "idpMetadataXml",
        "idpSigningCerts",
    )
    values: dict[str, Any] = {k: form.get(k) for k in text}
    for flag in ("jit", "allowIdpInitiatedSso", "signAuthnRequests", "wantAssertionsSigned", "wantResponseSigned"):
        values[flag] = form.get(flag) == "on"
    values["mapping"] = {f: form.get(f"map.{f}").strip() for f in MAPPABLE_FIELDS}
    values["kind"] = kind
    return values


def _mappings_from(form: Form) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    for index in range(int(form.get("mappingRows") or 0) if (form.get("mappingRows") or "0").isdigit() else 0):
        group = form.get(f"group.{index}").strip()
        roles = form.getlist(f"roles.{index}")
        if group or roles:
            rows.append((group, roles))
    return rows[:100]


def _split(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def _certs(text: str) -> list[str]:
    marker = "-----END CERTIFICATE-----"
    return [chunk.strip() + "\n" + marker for chunk in text.split(marker) if chunk.strip()]


def _protocol(values: dict[str, Any], kind: str, *, editing: bool, form: Form) -> dict[str, Any]:
    mapping = {f: values["mapping"][f] for f in MAPPABLE_FIELDS}
    if kind == "saml":
        protocol: dict[str, Any] = {
            "type": ProtocolType.SAML2.value,
            "idpEntityId": values["idpEntityId"].strip() or None,
            "idpSsoUrl": values["idpSsoUrl"].strip() or None,
            "idpMetadataUrl": values["idpMetadataUrl"].strip() or None,
            "idpSigningCerts": _certs(values["idpSigningCerts"]) or None,
            "allowIdpInitiatedSso": values["allowIdpInitiatedSso"],
            "signAuthnRequests": values["signAuthnRequests"],
            "wantAssertionsSigned": values["wantAssertionsSigned"],
            "wantResponseSigned": values["wantResponseSigned"],
            "attributeMapping": mapping,
        }
        if values["idpMetadataXml"].strip():
            protocol["idpMetadataXml"] = values["idpMetadataXml"]
        return protocol
    protocol = {
        "type": ProtocolType.OIDC.value,
        "issuer": values["issuer"].strip() or None,
        "clientId": values["clientId"].strip() or None,
        "scopes": _split(values["scopes"]) or None,
        "claimMapping": mapping,
    }
    secret = form.get("clientSecret")
    if secret or not editing:
        protocol["clientSecret"] = secret or None
    return protocol


def _fields(values: dict[str, Any], mappings: list[tuple[str, list[str]]], protocol: dict[str, Any]) -> dict[str, Any]:
    return {
        "displayName": values["displayName"].strip() or None,
        "domainName": values["domainName"].strip() or None,
        "status": values["status"],
        "jitProvisioningEnabled": values["jit"],
        "emailDomains": _split(values["emailDomains"]),
        "roleMappings": [{"group": g, "roleIds": r} for g, r in mappings],
        "protocol": protocol,
    }


# ------------------------------------------------------------------------------------------- pages


def _roles(core: CoreContext, signed: Signed, tenant_id: str | None) -> list[Role]:
    if tenant_id is None:
        # An application provider maps groups to application roles only (any tenant lists them).
        tenants = tenants_in_reach(core, signed)
        if not tenants:
            return []
        return [r for r in grantable_roles(core, signed, tenants[0].id) if r.tenant_id is None]
    return grantable_roles(core, signed, tenant_id)


def _form_page(
    request: Request,
    core: CoreContext,
    signed: Signed,
    state: FormState,
    *,
    tenant: Tenant | None,
    provider: IdentityProvider | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    urls: SsoUrls | None = None
    if provider is not None and tenant is not None:
        urls = sso_urls(signed.application, tenant, provider)
    context = {
        "section": "identity-providers",
        "kind": state.kind,
        "values": state.values,
        "mappings": state.mappings + [("", [])] * EMPTY_MAPPING_ROWS,
        "roles": state.roles,
        "types": SAML_TYPES if state.kind == "saml" else OIDC_TYPES,
        "statuses": list(IdentityProviderStatus),
        "fields": MAPPABLE_FIELDS,
        "preset_issuers": {k.value: v for k, v in PRESET_ISSUERS.items()},
        "tenant": tenant,
        "provider": provider,
        "urls": urls,
        "notice": NOTICES.get(request.query_params.get("done", "")),
        **extra,
    }
    return render(request, "idp_form.html", context, status, signed)


def _owner_tenant(core: CoreContext, signed: Signed, tenant_id: str) -> Tenant | None:
    if not tenant_id:
        if not signed.app_view:
            raise not_found()
        return None
    tenant = next((t for t in tenants_in_reach(core, signed) if t.id == tenant_id), None)
    if tenant is None:
        raise not_found()
    return tenant


@router.get("/identity-providers/new", response_model=None)
def new_provider(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    kind = "saml" if request.query_params.get("kind") == "saml" else "oidc"
    tenant = _owner_tenant(core, signed, _scope(request, signed))
    state = FormState(kind, _new_values(kind), [], _roles(core, signed, tenant.id if tenant else None))
    return _form_page(request, core, signed, state, tenant=tenant)


@router.post("/identity-providers/new", response_model=None)
async def create_provider(request: Request, signed: SignedDep, core: CoreDep, form: IdpFormDep) -> Response:
    kind = "saml" if form.get("kind") == "saml" else "oidc"
    tenant_id = form.get("tenant") if signed.app_view else signed.admin.tenant_id or ""
    tenant = await run_in_thread(_owner_tenant, core, signed, tenant_id)
    values = _values_from(form, kind)
    mappings = _mappings_from(form)
    fields = _fields(values, mappings, _protocol(values, kind, editing=False, form=form))
    fields.update(
        {
            "ownerType": OwnerType.TENANT.value if tenant else OwnerType.APPLICATION.value,
            "ownerId": tenant.id if tenant else signed.application.id,
            "type": values["type"],
            "name": values["name"].strip(),
        }
    )
    try:
        idps.require_may_configure(signed.principal, fields)
        if kind == "saml":
            fields["protocol"] = await import_saml_metadata(fields["protocol"])
        view, _ = await run_in_thread(idps.upsert_identity_provider, core, signed.principal, fields, upsert=False)
    except TenantryError as error:
        roles = await run_in_thread(_roles, core, signed, tenant.id if tenant else None)
        state = FormState(kind, values, mappings, roles)
        return _form_page(request, core, signed, state, tenant=tenant, status=400, errors=error_text(error))
    return redirect(f"{BASE}/{view.provider.id}?done=created")


def _edit_state(core: CoreContext, signed: Signed, provider: IdentityProvider) -> FormState:
    mappings = [(m.group, list(m.role_ids)) for m in provider.role_mappings]
    return FormState(_kind_of(provider), _values_of(provider), mappings, _roles(core, signed, provider.tenant_id))


def _editable(core: CoreContext, signed: Signed, provider_id: str) -> idps.ProviderView:
    view: idps.ProviderView = call(idps.get_identity_provider, core, signed.principal, provider_id)
    if not view.provider.is_external:
        raise not_found()
    return view


@router.get("/identity-providers/{provider_id}", response_model=None)
def edit_provider(request: Request, provider_id: str, signed: SignedDep, core: CoreDep) -> Response:
    view = _editable(core, signed, provider_id)
    state = _edit_state(core, signed, view.provider)
    scim = _scim_panel(core, signed, view)
    return _form_page(request, core, signed, state, tenant=view.tenant, provider=view.provider, scim=scim)


def _scim_panel(
    core: CoreContext, signed: Signed, view: idps.ProviderView, token: str | None = None
) -> dict[str, Any] | None:
    """The provider page's SCIM panel: a tenant's provider only (an application provider's
    tokens are per tenant: the API issues them)."""
    if view.tenant is None:
        return None
    issued = call(
        provisioning.directory_token_status, core, signed.principal, view.provider.id, view.tenant.id
    ).issued_at
    return {"base_url": scim_base_url(signed.application, view.tenant), "issued_at": issued, "token": token}


@router.post("/identity-providers/{provider_id}/directory-token", response_model=None)
def issue_directory_token(
    request: Request, provider_id: str, signed: SignedDep, core: CoreDep, form: IdpFormDep
) -> Response:
    view = _editable(core, signed, provider_id)
    if view.tenant is None:
        raise not_found()
    issued = call(provisioning.issue_directory_token, core, signed.principal, provider_id, view.tenant.id)
    state = _edit_state(core, signed, view.provider)
    scim = _scim_panel(core, signed, view, issued.token)
    return _form_page(request, core, signed, state, tenant=view.tenant, provider=view.provider, scim=scim)


@router.post("/identity-providers/{provider_id}/directory-token/revoke", response_model=None)
def revoke_directory_token(provider_id: str, signed: SignedDep, core: CoreDep, form: IdpFormDep) -> Response:
    view = _editable(core, signed, provider_id)
    if view.tenant is None:
        raise not_found()
    call(provisioning.revoke_directory_token, core, signed.principal, provider_id, view.tenant.id)
    return redirect(f"{BASE}/{provider_id}?done=revoked")


@router.post("/identity-providers/{provider_id}", response_model=None)
async def save_provider(
    request: Request, provider_id: str, signed: SignedDep, core: CoreDep, form: IdpFormDep
) -> Response:
    view = await run_in_thread(_editable, core, signed, provider_id)
    kind = _kind_of(view.provider)
    values = {**_values_from(form, kind), "type": view.provider.type.value, "name": view.provider.name}
    mappings = _mappings_from(form)
    changes = _fields(values, mappings, _protocol(values, kind, editing=True, form=form))
    try:
        if kind == "saml":
            changes["protocol"] = await import_saml_metadata(changes["protocol"])
        await run_in_thread(idps.update_identity_provider, core, signed.principal, provider_id, changes)
    except TenantryError as error:
        state = FormState(kind, {**values, "hasSecret": _values_of(view.provider)["hasSecret"]}, mappings, [])
        state.roles = await run_in_thread(_roles, core, signed, view.provider.tenant_id)
        return _form_page(
            request,
            core,
            signed,
            state,
            tenant=view.tenant,
            provider=view.provider,
            status=400,
            errors=error_text(error),
        )
    return redirect(f"{BASE}/{provider_id}?done=saved")


@router.post("/identity-providers/{provider_id}/test", response_model=None)
async def test_provider(
    request: Request, provider_id: str, signed: SignedDep, core: CoreDep, form: IdpFormDep
) -> Response:
    view: idps.ProviderView = await run_in_thread(
        call, idps.get_identity_provider, core, signed.principal, provider_id, MANAGE
    )
    if not view.provider.is_external:
        raise not_found()
    report: ConnectionReport = await test_connection(view.provider)
    state = await run_in_thread(_edit_state, core, signed, view.provider)
    return _form_page(request, core, signed, state, tenant=view.tenant, provider=view.provider, report=report)


@router.get("/identity-providers/{provider_id}/delete", response_model=None)
def confirm_delete(request: Request, provider_id: str, signed: SignedDep, core: CoreDep) -> Response:
    view = _editable(core, signed, provider_id)
    context = {"section": "identity-providers", "provider": view.provider}
    return render(request, "idp_delete.html", context, signed=signed)


@router.post("/identity-providers/{provider_id}/delete", response_model=None)
def delete_provider(request: Request, provider_id: str, signed: SignedDep, core: CoreDep, form: IdpFormDep) -> Response:
    view = _editable(core, signed, provider_id)
    context = {"section": "identity-providers", "provider": view.provider}
    if form.get("confirm") != view.provider.name:
        return render(
            request, "idp_delete.html", {**context, "error": "Type the provider's name to confirm."}, 400, signed
        )
    try:
        call(idps.delete_identity_provider, core, signed.principal, provider_id)
    except TenantryError as error:
        return render(request, "idp_delete.html", {**context, "errors": error_text(error)}, 400, signed)
    return redirect(f"{BASE}?tenant={view.provider.tenant_id or ''}&done=deleted")
