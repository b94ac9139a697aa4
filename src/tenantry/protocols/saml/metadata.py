"""SAML 2.0 metadata (SAML Metadata 2.0): reading an IdP's EntityDescriptor, writing our SP's.

Importing IdP metadata never turns checks off: it yields only the entity id, the SSO endpoint and the signing
certificates; our signing and validation policy comes from ``SamlSp``, never from the metadata."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tenantry.protocols.saml.model import BINDING_POST, BINDING_REDIRECT, SamlError, SamlIdp, SamlSp
from tenantry.protocols.saml.toolkit import settings_for
from tenantry.protocols.saml.xml import Element, children, parse_xml, qname

MAX_METADATA_BYTES = 1024 * 1024
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _sso_location(url: str | None) -> str:
    try:
        parts = urlsplit(url or "")
        host = parts.hostname
    except ValueError as error:
        raise SamlError("SSO URL is not a valid URL") from error
    if not host or not url:
        raise SamlError("SSO URL is not a valid URL")
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return url
    raise SamlError("SSO URL must use https")


def _idp_descriptor(root: Element) -> tuple[Element, Element]:
    if root.tag == qname("md", "EntityDescriptor"):
        entities = [root]
    elif root.tag == qname("md", "EntitiesDescriptor"):
        entities = list(root.iter(qname("md", "EntityDescriptor")))
    else:
        raise SamlError("not SAML metadata")
    found = [(e, d) for e in entities for d in children(e, "md", "IDPSSODescriptor")]
    if len(found) != 1:
        raise SamlError("metadata must describe exactly one identity provider")
    entity, descriptor = found[0]
    if SAML2_PROTOCOL not in str(descriptor.get("protocolSupportEnumeration", "")).split():
        raise SamlError("identity provider does not support SAML 2.0")
    return entity, descriptor


def _signing_certs(descriptor: Element) -> tuple[str, ...]:
    certs: list[str] = []
    for key_descriptor in children(descriptor, "md", "KeyDescriptor"):
        if key_descriptor.get("use") not in (None, "signing"):
            continue
        for node in key_descriptor.iter(qname("ds", "X509Certificate")):
            text = "".join(str(node.text or "").split())
            try:
                cert = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError) as error:
                raise SamlError("metadata holds an unreadable certificate") from error
            pem = cert.public_bytes(Encoding.PEM).decode("ascii")
            if pem not in certs:
                certs.append(pem)
    if not certs:
        raise SamlError("metadata has no signing certificate")
    return tuple(certs)


def parse_idp_metadata(xml: str | bytes, *, now: datetime | None = None) -> SamlIdp:
    """The IdP's entity id, SSO endpoint (HTTP-Redirect preferred, else HTTP-POST) and signing certificates."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(data) > MAX_METADATA_BYTES:
        raise SamlError("metadata too large")
    entity, descriptor = _idp_descriptor(parse_xml(data))
    valid_until = entity.get("validUntil")
    if valid_until is not None:
        try:
            moment = datetime.fromisoformat(str(valid_until).strip())
        except ValueError as error:
            raise SamlError("metadata validUntil invalid") from error
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment <= (now or datetime.now(UTC)):
            raise SamlError("metadata has expired")
    entity_id = entity.get("entityID")
    if not entity_id:
        raise SamlError("metadata has no entityID")
    services = children(descriptor, "md", "SingleSignOnService")
    for binding in (BINDING_REDIRECT, BINDING_POST):
        location = next((s.get("Location") for s in services if s.get("Binding") == binding), None)
        if location is not None:
            return SamlIdp(
                entity_id=str(entity_id),
                sso_url=_sso_location(str(location)),
                signing_certs=_signing_certs(descriptor),
                sso_binding=binding,
            )
    raise SamlError("metadata has no HTTP-Redirect or HTTP-POST SSO endpoint")


def sp_metadata_xml(sp: SamlSp) -> str:
    """Our SP's EntityDescriptor: entity id, ACS (HTTP-POST), signing policy and certificate when configured."""
    settings = settings_for(sp, None)
    metadata = settings.get_sp_metadata()
    errors = settings.validate_metadata(metadata)
    if errors:
        raise SamlError("SP metadata invalid")
    return metadata.decode("utf-8") if isinstance(metadata, bytes) else str(metadata)
