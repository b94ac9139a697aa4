"""Typed views of an external provider's ``protocol`` JSON, validated field by field.

The wire shape follows Wristband's IdP ``protocol`` object (``type``, ``clientId``,
``clientSecret``, ``scopes`` for OIDC; ``idpEntityId``, ``idpSsoUrl``, ``idpSigningCerts``,
``idpMetadataUrl``, ``allowIdpInitiatedSso`` for SAML2), extended with what an RP / SP needs:
``issuer`` and ``claimMapping`` (OIDC), ``attributeMapping``, ``signAuthnRequests``,
``wantAssertionsSigned``, ``wantResponseSigned`` (SAML2). Values that only the server derives
(``redirectUrl``, ``spEntityId``, ``acsUrl``) are never read from input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tenantry.core.errors import ConstraintViolations, Violation
from tenantry.core.identity_providers.model import IdentityProvider, IdentityProviderType, ProtocolType

# The user fields an IdP value may be mapped onto (SAML attribute / OIDC claim names).
MAPPABLE_FIELDS: tuple[str, ...] = (
    "id",
    "email",
    "emailVerified",
    "givenName",
    "familyName",
    "fullName",
    "phoneNumber",
    "birthdate",
    "groups",
)
DEFAULT_OIDC_CLAIMS: Mapping[str, str] = {
    "id": "sub",
    "email": "email",
    "emailVerified": "email_verified",
    "givenName": "given_name",
    "familyName": "family_name",
    "fullName": "name",
    "phoneNumber": "phone_number",
    "birthdate": "birthdate",
    "groups": "groups",
}
DEFAULT_SAML_ATTRIBUTES: Mapping[str, str] = {
    "email": "email",
    "givenName": "firstName",
    "familyName": "lastName",
    "groups": "groups",
}
PRESET_ISSUERS: Mapping[IdentityProviderType, str] = {
    IdentityProviderType.GOOGLE_WORKSPACE: "https://accounts.google.com",
}
DEFAULT_SCOPES: tuple[str, ...] = ("openid", "email", "profile")
MAX_CERTS = 5
MAX_CERT_LENGTH = 10_000


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    claim_mapping: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SamlSettings:
    idp_entity_id: str
    idp_sso_url: str
    idp_signing_certs: tuple[str, ...]
    idp_metadata_url: str | None
    allow_idp_initiated_sso: bool
    sign_authn_requests: bool
    want_assertions_signed: bool
    want_response_signed: bool
    attribute_mapping: Mapping[str, str]


def is_acceptable_url(value: object) -> bool:
    """An absolute https URL, or http on a loopback host (local IdPs in development and tests)."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


class _Reader:
    """Collects every violation of one ``protocol`` object before raising them together."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.violations: dict[str, list[Violation]] = {}

    def fail(self, name: str, code: str, **attributes: str) -> None:
        self.violations.setdefault(f"protocol.{name}", []).append(Violation(code, attributes))

    def text(self, name: str, *, required: bool, max_length: int = 500, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required and default is None:
                self.fail(name, "not_blank")
            return default
        if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
            self.fail(name, "invalid_value")
            return default
        return value.strip()

    def url(self, name: str, *, required: bool, default: str | None = None) -> str | None:
        value = self.text(name, required=required, max_length=2000, default=default)
        if value is not None and not is_acceptable_url(value):
            self.fail(name, "invalid_url")
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, "invalid_value")
            return default
        return value

    def strings(self, name: str, *, max_items: int, max_length: int) -> tuple[str, ...] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(isinstance(v, str) and v.strip() and len(v) <= max_length for v in value)
        ):
            self.fail(name, "invalid_value")
            return None
        return tuple(v.strip() for v in value)

    def mapping(self, name: str, defaults: Mapping[str, str]) -> Mapping[str, str]:
        value = self.data.get(name)
        if value is None:
            return dict(defaults)
        if not isinstance(value, dict):
            self.fail(name, "invalid_value")
            return dict(defaults)
        merged = dict(defaults)
        for key, source in value.items():
            if key not in MAPPABLE_FIELDS:
                self.fail(f"{name}.{key}", "unknown_field")
            elif source is None or source == "":
                merged.pop(key, None)
            elif not isinstance(source, str) or len(source) > 500:
                self.fail(f"{name}.{key}", "invalid_value")
            else:
                merged[key] = source
        return merged

    def raise_if_invalid(self) -> None:
        if self.violations:
            raise ConstraintViolations(self.violations)


def oidc_settings(provider_type: IdentityProviderType, protocol: Mapping[str, Any]) -> OidcSettings:
    reader = _Reader(protocol)
    issuer = reader.url("issuer", required=True, default=PRESET_ISSUERS.get(provider_type))
    client_id = reader.text("clientId", required=True, max_length=500)
    client_secret = reader.text("clientSecret", required=True, max_length=2000)
    scopes = reader.strings("scopes", max_items=20, max_length=100)
    if scopes is not None and "openid" not in scopes:
        reader.fail("scopes", "openid_required")
    claim_mapping = reader.mapping("claimMapping", DEFAULT_OIDC_CLAIMS)
    reader.raise_if_invalid()
    assert issuer is not None and client_id is not None and client_secret is not None
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes or DEFAULT_SCOPES,
        claim_mapping=claim_mapping,
    )


def saml_settings(protocol: Mapping[str, Any]) -> SamlSettings:
    reader = _Reader(protocol)
    entity_id = reader.text("idpEntityId", required=True, max_length=1000)
    sso_url = reader.url("idpSsoUrl", required=True)
    certs = reader.strings("idpSigningCerts", max_items=MAX_CERTS, max_length=MAX_CERT_LENGTH)
    if not certs:
        reader.fail("idpSigningCerts", "not_empty")
    elif not all("BEGIN CERTIFICATE" in cert for cert in certs):
        reader.fail("idpSigningCerts", "invalid_certificate")
    metadata_url = reader.url("idpMetadataUrl", required=False)
    settings = SamlSettings(
        idp_entity_id=entity_id or "",
        idp_sso_url=sso_url or "",
        idp_signing_certs=certs or (),
        idp_metadata_url=metadata_url,
        allow_idp_initiated_sso=reader.flag("allowIdpInitiatedSso", False),
        sign_authn_requests=reader.flag("signAuthnRequests", False),
        want_assertions_signed=reader.flag("wantAssertionsSigned", True),
        want_response_signed=reader.flag("wantResponseSigned", False),
        attribute_mapping=reader.mapping("attributeMapping", DEFAULT_SAML_ATTRIBUTES),
    )
    if not settings.want_assertions_signed and not settings.want_response_signed:
        reader.fail("wantAssertionsSigned", "a_signature_is_required")
    reader.raise_if_invalid()
    return settings


def provider_oidc_settings(provider: IdentityProvider) -> OidcSettings:
    if provider.protocol_type is not ProtocolType.OIDC:
        raise ValueError(f"{provider.name} is not an OIDC provider")
    return oidc_settings(provider.type, provider.protocol)


def provider_saml_settings(provider: IdentityProvider) -> SamlSettings:
    if provider.protocol_type is not ProtocolType.SAML2:
        raise ValueError(f"{provider.name} is not a SAML provider")
    return saml_settings(provider.protocol)
