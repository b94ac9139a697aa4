"""Identity providers as Wristband's JSON document, and their listing (a tenant has a handful of
providers, so ``query``, ``sort_by`` and paging run in memory on the visible set)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tenantry.core.applications.model import Application
from tenantry.core.identity_providers.model import IdentityProvider, ProtocolType
from tenantry.core.identity_providers.urls import sso_urls
from tenantry.core.identity_providers.validation import SECRET_KEYS
from tenantry.core.ports import ListSpec, Page
from tenantry.core.tenants.model import Tenant
from tenantry.protocols.query import AttributeSpec, BoolOp, Expr
from tenantry.protocols.query.parser import SortKey
from tenantry.web.api.representations import metadata_json

_EQ = frozenset({"eq", "ne", "in", "nin"})
IDP_ATTRIBUTES: dict[str, AttributeSpec] = {
    s.name: s
    for s in (
        AttributeSpec("id", operators=_EQ),
        AttributeSpec("name"),
        AttributeSpec("displayName"),
        AttributeSpec("type", operators=_EQ),
        AttributeSpec("status", operators=_EQ),
        AttributeSpec("ownerType", operators=_EQ),
        AttributeSpec("jitProvisioningEnabled", type="boolean"),
    )
}


def redirect_urls(application: Application, tenant: Tenant, provider: IdentityProvider) -> dict[str, str]:
    """Where the IdP sends the browser back for this tenant (OIDC redirect URI, SAML ACS and SP ids)."""
    urls = sso_urls(application, tenant, provider)
    if provider.protocol_type is ProtocolType.SAML2:
        return {
            "spEntityId": urls.sp_entity_id,
            "acsUrl": urls.acs_url,
            "spMetadataUrl": urls.sp_metadata_url,
            "spDomainName": urls.domain,
        }
    return {"redirectUrl": urls.redirect_url, "redirectDomainName": urls.domain}


def provider_json(provider: IdentityProvider, application: Application, tenant: Tenant | None) -> dict[str, Any]:
    """``tenant``: the tenant whose SSO URLs to show (the owner, or the tenant listing an
    application provider); the client secret is never part of the document."""
    protocol = {k: v for k, v in provider.protocol.items() if k not in SECRET_KEYS and k != "domainName"}
    if provider.is_external and tenant is not None:
        protocol.update(redirect_urls(application, tenant, provider))
    return {
        "id": provider.id,
        "applicationId": provider.application_id,
        "ownerType": provider.owner_type.value,
        "ownerId": provider.owner_id,
        "type": provider.type.value,
        "name": provider.name,
        "displayName": provider.display_name,
        "domainName": provider.protocol.get("domainName"),
        "isExternal": provider.is_external,
        "jitProvisioningEnabled": provider.jit_provisioning_enabled,
        "status": provider.status.value,
        "protocol": protocol,
        "emailDomains": list(provider.email_domains),
        "roleMappings": [{"group": m.group, "roleIds": list(m.role_ids)} for m in provider.role_mappings],
        "metadata": metadata_json(provider.metadata),
    }


def _value(provider: IdentityProvider, attribute: str) -> str | bool:
    values: dict[str, str | bool] = {
        "id": provider.id,
        "name": provider.name,
        "displayName": provider.display_name,
        "type": provider.type.value,
        "status": provider.status.value,
        "ownerType": provider.owner_type.value,
        "jitProvisioningEnabled": provider.jit_provisioning_enabled,
    }
    return values[attribute]


def _holds(expr: Expr, provider: IdentityProvider) -> bool:
    if isinstance(expr, BoolOp):
        results = (_holds(e, provider) for e in expr.operands)
        return all(results) if expr.op == "and" else any(results)
    actual = _value(provider, expr.attribute)
    wanted = expr.value
    match expr.op:
        case "eq":
            return actual == wanted
        case "ne":
            return actual != wanted
        case "in":
            return isinstance(wanted, tuple) and actual in wanted
        case "nin":
            return isinstance(wanted, tuple) and actual not in wanted
        case "sw":
            return isinstance(actual, str) and isinstance(wanted, str) and actual.startswith(wanted)
    if not isinstance(actual, str) or not isinstance(wanted, str):
        return False
    return {"lt": actual < wanted, "le": actual <= wanted, "gt": actual > wanted, "ge": actual >= wanted}[expr.op]


def page_of(providers: Sequence[IdentityProvider], spec: ListSpec) -> Page[IdentityProvider]:
    chosen = [p for p in providers if spec.filter is None or _holds(spec.filter, p)]  # type: ignore[arg-type]
    for key in reversed(spec.sort):
        assert isinstance(key, SortKey)
        attribute = key.attribute

        def sort_key(p: IdentityProvider, attribute: str = attribute) -> str:
            return str(_value(p, attribute)).lower()

        chosen.sort(key=sort_key, reverse=key.descending)
    start = spec.start_index - 1
    return Page(total=len(chosen), start_index=spec.start_index, items=chosen[start : start + spec.count])
