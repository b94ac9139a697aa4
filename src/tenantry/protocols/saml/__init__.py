"""SAML 2.0 service provider: IdP metadata, AuthnRequests, SP metadata and Response validation.

The names load their modules on first use (PEP 562): lxml, xmlsec and python3-saml cost about
12 MB per process, and most deployments never see a SAML request."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantry.protocols.saml.metadata import parse_idp_metadata as parse_idp_metadata
    from tenantry.protocols.saml.metadata import sp_metadata_xml as sp_metadata_xml
    from tenantry.protocols.saml.model import SamlAssertion as SamlAssertion
    from tenantry.protocols.saml.model import SamlError as SamlError
    from tenantry.protocols.saml.model import SamlIdp as SamlIdp
    from tenantry.protocols.saml.model import SamlSp as SamlSp
    from tenantry.protocols.saml.requests import build_authn_request as build_authn_request
    from tenantry.protocols.saml.responses import validate_response as validate_response

_HOMES = {
    "SamlAssertion": "model",
    "SamlError": "model",
    "SamlIdp": "model",
    "SamlSp": "model",
    "build_authn_request": "requests",
    "parse_idp_metadata": "metadata",
    "sp_metadata_xml": "metadata",
    "validate_response": "responses",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
