"""Where a tenant's SSO endpoints live. They are per tenant host and per provider, so an
application-level provider used by many tenants gets one redirect URL / ACS URL per tenant, and
the IdP's side of the configuration names exactly one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from tenantry.core.applications.model import Application
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.tenants.model import Tenant

SSO_PREFIX = "/sso"
SCIM_PREFIX = "/scim/v2"


@dataclass(frozen=True, slots=True)
class SsoUrls:
    domain: str  # the tenant host the IdP redirects back to
    start_url: str  # GET: starts a sign-in at the provider
    redirect_url: str  # OIDC redirect_uri
    acs_url: str  # SAML Assertion Consumer Service (HTTP-POST)
    sp_entity_id: str  # SAML SP entity id == the SP metadata URL
    sp_metadata_url: str


def sso_urls(application: Application, tenant: Tenant, provider: IdentityProvider) -> SsoUrls:
    domain = application.tenant_host(tenant.domain_name)
    base = f"https://{domain}{SSO_PREFIX}/{provider.id}"
    return SsoUrls(
        domain=domain,
        start_url=f"{base}/start",
        redirect_url=f"{base}/callback",
        acs_url=f"{base}/acs",
        sp_entity_id=f"{base}/metadata",
        sp_metadata_url=f"{base}/metadata",
    )


def scim_base_url(application: Application, tenant: Tenant) -> str:
    """The tenant's SCIM 2.0 endpoint (``docs/scim.md``): on its host, like its SSO endpoints."""
    return f"https://{application.tenant_host(tenant.domain_name)}{SCIM_PREFIX}"
