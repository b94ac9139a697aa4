"""Values of the SAML 2.0 service provider: the IdP and SP configuration and what a valid Response asserts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"


class SamlError(Exception):
    """A refusal of SAML input. ``reason`` is short, safe text: it never echoes values from the document."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SamlIdp:
    entity_id: str
    sso_url: str
    signing_certs: tuple[str, ...]  # PEM
    sso_binding: str = BINDING_REDIRECT


@dataclass(frozen=True)
class SamlSp:
    entity_id: str
    acs_url: str
    want_assertions_signed: bool = True
    want_response_signed: bool = False
    sign_authn_requests: bool = False
    cert_pem: str | None = None
    key_pem: str | None = None
    clock_skew_seconds: int = 120


@dataclass(frozen=True)
class SamlAssertion:
    name_id: str
    name_id_format: str | None
    attributes: dict[str, list[str]]
    assertion_id: str
    issuer: str
    session_index: str | None
    not_on_or_after: datetime | None
    in_response_to: str | None
