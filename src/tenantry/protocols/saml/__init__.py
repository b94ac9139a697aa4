"""SAML 2.0 service provider: IdP metadata, AuthnRequests, SP metadata and Response validation."""

from tenantry.protocols.saml.metadata import parse_idp_metadata, sp_metadata_xml
from tenantry.protocols.saml.model import SamlAssertion, SamlError, SamlIdp, SamlSp
from tenantry.protocols.saml.requests import build_authn_request
from tenantry.protocols.saml.responses import validate_response

__all__ = [
    "SamlAssertion",
    "SamlError",
    "SamlIdp",
    "SamlSp",
    "build_authn_request",
    "parse_idp_metadata",
    "sp_metadata_xml",
    "validate_response",
]
