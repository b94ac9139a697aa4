"""The network side of configuring an external identity provider, shared by the API and the
dashboard: importing SAML IdP metadata (pasted XML or a URL) into the ``protocol`` fields, and
testing a provider's configuration ("test connection").

Only what the configuration names is fetched: an https URL (http only on a loopback host), with
a short timeout and a size cap, without following redirects. Results carry short reasons, never
the fetched content."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from tenantry.bootstrap import sso_http_client
from tenantry.core.errors import ConstraintViolations
from tenantry.core.identity_providers.model import IdentityProvider, ProtocolType
from tenantry.core.identity_providers.settings import (
    is_acceptable_url,
    provider_oidc_settings,
    provider_saml_settings,
)
from tenantry.protocols import saml
from tenantry.protocols.oidc.jwks_cache import JwksCache
from tenantry.protocols.oidc.relying_party import OidcError, OidcRelyingParty
from tenantry.protocols.oidc.rp_model import http_error
from tenantry.protocols.saml.model import SamlError

METADATA_TIMEOUT_SECONDS = 5.0
MAX_METADATA_BYTES = 1024 * 1024


class MetadataUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def fetch_metadata(url: str) -> bytes:
    """The document at ``url`` (https, or http on loopback), at most 1 MB, within 5 seconds."""
    if not is_acceptable_url(url):
        raise MetadataUnavailable("the metadata URL must use https")
    import httpx  # here, not with the module (see ``http_error``)

    try:
        async with (
            httpx.AsyncClient(timeout=METADATA_TIMEOUT_SECONDS, follow_redirects=False) as http,
            http.stream("GET", url, headers={"Accept": "application/samlmetadata+xml, application/xml"}) as response,
        ):
            if response.status_code != 200:
                raise MetadataUnavailable(f"the metadata URL answered {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_METADATA_BYTES:
                    raise MetadataUnavailable("the metadata document is larger than 1 MB")
                chunks.append(chunk)
            return b"".join(chunks)
    except http_error():
        raise MetadataUnavailable("the metadata URL could not be reached") from None


def _needs_metadata(protocol: Mapping[str, Any]) -> bool:
    if protocol.get("idpMetadataXml"):
        return True
    return bool(protocol.get("idpMetadataUrl")) and not any(
        protocol.get(k) for k in ("idpEntityId", "idpSsoUrl", "idpSigningCerts")
    )


async def import_saml_metadata(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """``protocol`` with ``idpEntityId``, ``idpSsoUrl`` and ``idpSigningCerts`` filled from the
    IdP's metadata when it carries ``idpMetadataXml`` (or only an ``idpMetadataUrl``). The XML
    itself is not kept. A document that cannot be used is a ``protocol.idpMetadata…`` violation.
    Our signing and validation policy never comes from the metadata."""
    result = {k: v for k, v in protocol.items() if k != "idpMetadataXml"}
    if not _needs_metadata(protocol):
        return result
    xml = protocol.get("idpMetadataXml")
    field_name = "protocol.idpMetadataXml" if xml else "protocol.idpMetadataUrl"
    try:
        if xml:
            if not isinstance(xml, str):
                raise MetadataUnavailable("the metadata must be an XML string")
            data: bytes | str = xml
        else:
            url = protocol.get("idpMetadataUrl")
            if not isinstance(url, str):
                raise MetadataUnavailable("the metadata URL must be a string")
            data = await fetch_metadata(url)
        idp = saml.parse_idp_metadata(data)
    except (MetadataUnavailable, SamlError) as error:
        raise ConstraintViolations.single(
            field_name, "invalid_metadata", f"The IdP metadata cannot be used: {error.reason}", reason=error.reason
        ) from None
    result.update({"idpEntityId": idp.entity_id, "idpSsoUrl": idp.sso_url, "idpSigningCerts": list(idp.signing_certs)})
    return result


# -------------------------------------------------------------------------------- test connection


@dataclass(slots=True)
class ConnectionReport:
    ok: bool
    protocol_type: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, ok: bool, **details: Any) -> bool:
        self.checks.append({"name": name, "ok": ok, **details})
        if not ok:
            self.ok = False
        return ok


async def _test_oidc(provider: IdentityProvider, report: ConnectionReport) -> None:
    settings = provider_oidc_settings(provider)
    async with sso_http_client() as http:
        try:
            endpoints = await OidcRelyingParty(lambda: http).discover(settings.issuer)
        except OidcError as error:
            report.check("discovery", False, reason=error.reason, issuer=settings.issuer)
            return
        report.check(
            "discovery",
            True,
            issuer=endpoints.issuer,
            authorizationEndpoint=endpoints.authorization_endpoint,
            tokenEndpoint=endpoints.token_endpoint,
        )
        try:
            keys = await JwksCache(lambda: http, clock=time.time, ttl_seconds=0, refresh_interval_seconds=0).keys(
                endpoints.jwks_uri
            )
        except OidcError as error:
            report.check("jwks", False, reason=error.reason, jwksUri=endpoints.jwks_uri)
            return
        if keys:
            report.check("jwks", True, jwksUri=endpoints.jwks_uri, keys=len(keys))
        else:
            report.check("jwks", False, jwksUri=endpoints.jwks_uri, reason="no usable signing keys")


def _test_saml(provider: IdentityProvider, report: ConnectionReport, now: datetime) -> None:
    settings = provider_saml_settings(provider)
    report.check("entityId", bool(settings.idp_entity_id), entityId=settings.idp_entity_id)
    secure = is_acceptable_url(settings.idp_sso_url)
    report.check("ssoUrl", secure, ssoUrl=settings.idp_sso_url, **({} if secure else {"reason": "not https"}))
    valid = 0
    for index, pem in enumerate(settings.idp_signing_certs):
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            report.check(f"certificate[{index}]", False, reason="unreadable certificate")
            continue
        expired = cert.not_valid_after_utc <= now
        valid += 0 if expired else 1
        report.checks.append(
            {
                "name": f"certificate[{index}]",
                "ok": not expired,
                "subject": cert.subject.rfc4514_string()[:300],
                "notValidAfter": cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
                **({"reason": "expired"} if expired else {}),
            }
        )
    if not valid:
        report.ok = False


async def test_connection(provider: IdentityProvider, now: datetime | None = None) -> ConnectionReport:
    """OIDC: discovery (with the issuer check) and a JWKS fetch. SAML: the entity id, that the SSO
    URL is https (or loopback), and that the signing certificates parse and have not expired."""
    protocol_type = provider.protocol_type
    report = ConnectionReport(True, protocol_type.value if protocol_type else "")
    try:
        if protocol_type is ProtocolType.OIDC:
            await _test_oidc(provider, report)
        elif protocol_type is ProtocolType.SAML2:
            _test_saml(provider, report, now or datetime.now(UTC))
    except ConstraintViolations:
        report.check("configuration", False, reason="the stored configuration is incomplete")
    return report
