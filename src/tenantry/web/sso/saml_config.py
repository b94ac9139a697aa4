"""The two SAML parties of one tenant's sign-in: Tenantry's SP (per tenant host and provider) and
the configured IdP."""

from __future__ import annotations

from tenantry.adapters.security.saml_credentials import SpCredentials
from tenantry.core.identity_providers.settings import SamlSettings
from tenantry.core.identity_providers.urls import SsoUrls
from tenantry.protocols.saml.model import SamlIdp, SamlSp


def saml_parties(settings: SamlSettings, urls: SsoUrls, credentials: SpCredentials) -> tuple[SamlSp, SamlIdp]:
    sp = SamlSp(
        entity_id=urls.sp_entity_id,
        acs_url=urls.acs_url,
        want_assertions_signed=settings.want_assertions_signed,
        want_response_signed=settings.want_response_signed,
        sign_authn_requests=settings.sign_authn_requests,
        cert_pem=credentials.cert_pem,
        key_pem=credentials.key_pem,
    )
    idp = SamlIdp(
        entity_id=settings.idp_entity_id, sso_url=settings.idp_sso_url, signing_certs=settings.idp_signing_certs
    )
    return sp, idp
