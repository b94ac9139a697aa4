"""Validating a SAML 2.0 Response delivered by the HTTP-POST binding (SAML Core 2.0 §3.3.3, Profiles §4.1.4).

Two independent layers must both accept:
1. our own checks (below), which read every value from the very element whose signature was verified, use
   ``now`` and ``clock_skew_seconds``, and are strict where the toolkit is lenient (exact Destination and
   Recipient, a mandatory AudienceRestriction, one Assertion anywhere in the document, unique IDs, SHA-2 only,
   InResponseTo required to match in SP-initiated flows and absent in IdP-initiated ones);
2. python3-saml in strict mode (schema validation, its own signature and condition checks). It judges time by
   the system clock (with its own 300 s drift), so a ``now`` far from the real time makes it refuse.

Comments are dropped at parse time, so a comment inside the NameID (``alice@example.com<!---->.evil.com``)
yields the full signed text ``alice@example.com.evil.com``, never a truncated identity.
Replay protection (remembering ``assertion_id`` until ``not_on_or_after``) is the caller's job."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

from tenantry.protocols.saml.model import CM_BEARER, STATUS_SUCCESS, SamlAssertion, SamlError, SamlIdp, SamlSp
from tenantry.protocols.saml.signatures import register_unique_ids, verify_own_signature
from tenantry.protocols.saml.toolkit import toolkit_validate
from tenantry.protocols.saml.xml import Element, children, full_text, one_child, optional_child, parse_xml, qname

MAX_RESPONSE_BYTES = 256 * 1024
_WHITESPACE = re.compile(rb"\s+")


def decode_response(saml_response_b64: str) -> bytes:
    if len(saml_response_b64) > MAX_RESPONSE_BYTES * 4 // 3 + 4096:
        raise SamlError("SAMLResponse too large")
    try:
        raw = base64.b64decode(_WHITESPACE.sub(b"", saml_response_b64.encode("ascii")), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as error:
        raise SamlError("SAMLResponse is not base64") from error
    if len(raw) > MAX_RESPONSE_BYTES:
        raise SamlError("SAMLResponse too large")
    if not raw:
        raise SamlError("SAMLResponse is empty")
    return raw


def parse_time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise SamlError(f"{what} is not a valid time") from error
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _Checker:
    def __init__(self, sp: SamlSp, idp: SamlIdp, expected_request_id: str | None, now: datetime) -> None:
        self.sp = sp
        self.idp = idp
        self.expected_request_id = expected_request_id
        self.now = now
        self.skew = timedelta(seconds=sp.clock_skew_seconds)

    def not_before(self, value: str | None, what: str) -> None:
        moment = parse_time(value, what)
        if moment is not None and moment > self.now + self.skew:
            raise SamlError(f"{what} is in the future")

    def not_on_or_after(self, value: str | None, what: str) -> datetime | None:
        moment = parse_time(value, what)
        if moment is not None and moment <= self.now - self.skew:
            raise SamlError(f"{what} has passed")
        return moment

    def issuer(self, parent: Element, *, required: bool) -> None:
        node = optional_child(parent, "saml", "Issuer", "Issuer")
        if node is None:
            if required:
                raise SamlError("assertion has no Issuer")
            return
        if full_text(node, "Issuer") != self.idp.entity_id:
            raise SamlError("issuer mismatch")

    def in_response_to(self, values: list[str | None]) -> None:
        present = [v for v in values if v is not None]
        if self.expected_request_id is None:
            if present:
                raise SamlError("unsolicited response carries InResponseTo")
        elif not present or any(v != self.expected_request_id for v in present):
            raise SamlError("InResponseTo does not match the pending request")

    def subject_confirmation(self, confirmation: Element, response_irt: str | None) -> datetime:
        """The SubjectConfirmationData's NotOnOrAfter, if this bearer confirmation holds (Profiles §4.1.4.2)."""
        data = one_child(confirmation, "saml", "SubjectConfirmationData", "SubjectConfirmationData")
        if data.get("Recipient") != self.sp.acs_url:
            raise SamlError("recipient mismatch")
        expires = self.not_on_or_after(data.get("NotOnOrAfter"), "subject confirmation NotOnOrAfter")
        if expires is None:
            raise SamlError("subject confirmation has no NotOnOrAfter")
        self.not_before(data.get("NotBefore"), "subject confirmation NotBefore")
        self.in_response_to([response_irt, data.get("InResponseTo")])
        return expires

    def subject(self, assertion: Element, response_irt: str | None) -> tuple[str, str | None, datetime]:
        subject = one_child(assertion, "saml", "Subject", "Subject")
        if children(subject, "saml", "EncryptedID"):
            raise SamlError("encrypted NameIDs are not supported")
        name_id_node = one_child(subject, "saml", "NameID", "NameID")
        name_id = full_text(name_id_node, "NameID")
        if not name_id:
            raise SamlError("NameID is empty")
        bearer = [c for c in children(subject, "saml", "SubjectConfirmation") if c.get("Method") == CM_BEARER]
        if not bearer:
            raise SamlError("no bearer subject confirmation")
        errors: list[SamlError] = []
        for confirmation in bearer:
            try:
                expires = self.subject_confirmation(confirmation, response_irt)
            except SamlError as error:
                errors.append(error)
                continue
            return name_id, name_id_node.get("Format"), expires
        raise errors[0]

    def conditions(self, assertion: Element) -> datetime | None:
        conditions = one_child(assertion, "saml", "Conditions", "Conditions")
        self.not_before(conditions.get("NotBefore"), "assertion NotBefore")
        expires = self.not_on_or_after(conditions.get("NotOnOrAfter"), "assertion NotOnOrAfter")
        restrictions = children(conditions, "saml", "AudienceRestriction")
        if not restrictions:
            raise SamlError("assertion has no AudienceRestriction")
        for restriction in restrictions:  # each restriction must admit us (Core §2.5.1.4)
            audiences = [full_text(a, "Audience") for a in children(restriction, "saml", "Audience")]
            if self.sp.entity_id not in audiences:
                raise SamlError("audience mismatch")
        return expires

    def session_index(self, assertion: Element) -> str | None:
        statement = one_child(assertion, "saml", "AuthnStatement", "AuthnStatement")
        self.not_on_or_after(statement.get("SessionNotOnOrAfter"), "SessionNotOnOrAfter")
        index = statement.get("SessionIndex")
        return None if index is None else str(index)


def read_attributes(assertion: Element) -> dict[str, list[str]]:
    attributes: dict[str, list[str]] = {}
    for statement in children(assertion, "saml", "AttributeStatement"):
        if children(statement, "saml", "EncryptedAttribute"):
            raise SamlError("encrypted attributes are not supported")
        for attribute in children(statement, "saml", "Attribute"):
            name = attribute.get("Name")
            if not name:
                raise SamlError("attribute without Name")
            values = attributes.setdefault(str(name), [])
            for value in children(attribute, "saml", "AttributeValue"):
                if len(value) == 0:  # complex (element) values are not representable as text: skipped
                    values.append(str(value.text or "").strip())
    return attributes


def check_response(
    sp: SamlSp, idp: SamlIdp, root: Element, *, expected_request_id: str | None, now: datetime
) -> SamlAssertion:
    """Our own layer: every value is read from the verified Response/Assertion element itself."""
    if root.tag != qname("samlp", "Response"):
        raise SamlError("not a SAML Response")
    if root.get("Version") != "2.0" or not root.get("ID"):
        raise SamlError("response Version or ID invalid")
    status_code = one_child(one_child(root, "samlp", "Status", "Status"), "samlp", "StatusCode", "StatusCode")
    if status_code.get("Value") != STATUS_SUCCESS:
        raise SamlError("status is not Success")
    if any(True for _ in root.iter(qname("saml", "EncryptedAssertion"))):
        raise SamlError("encrypted assertions are not supported")
    if sum(1 for _ in root.iter(qname("saml", "Assertion"))) != 1:
        raise SamlError("expected exactly one assertion")
    assertion = one_child(root, "saml", "Assertion", "assertion directly in the Response")
    register_unique_ids(root)
    response_signed = verify_own_signature(root, idp.signing_certs)
    assertion_signed = verify_own_signature(assertion, idp.signing_certs)
    if sp.want_response_signed and not response_signed:
        raise SamlError("response is not signed")
    if sp.want_assertions_signed and not assertion_signed:
        raise SamlError("assertion is not signed")
    if not (response_signed or assertion_signed):
        raise SamlError("neither response nor assertion is signed")
    destination = root.get("Destination")
    if (destination is not None or response_signed) and destination != sp.acs_url:
        raise SamlError("destination mismatch")
    checker = _Checker(sp, idp, expected_request_id, now)
    checker.issuer(root, required=False)
    checker.issuer(assertion, required=True)
    if assertion.get("Version") != "2.0" or not assertion.get("ID"):
        raise SamlError("assertion Version or ID invalid")
    checker.not_before(assertion.get("IssueInstant"), "assertion IssueInstant")
    response_irt = root.get("InResponseTo")
    name_id, name_id_format, confirmation_expires = checker.subject(assertion, response_irt)
    conditions_expire = checker.conditions(assertion)
    session_index = checker.session_index(assertion)
    expiries = [t for t in (confirmation_expires, conditions_expire) if t is not None]
    return SamlAssertion(
        name_id=name_id,
        name_id_format=None if name_id_format is None else str(name_id_format),
        attributes=read_attributes(assertion),
        assertion_id=str(assertion.get("ID")),
        issuer=idp.entity_id,
        session_index=session_index,
        not_on_or_after=min(expiries),
        in_response_to=expected_request_id,
    )


def validate_response(
    sp: SamlSp, idp: SamlIdp, saml_response_b64: str, *, expected_request_id: str | None, now: datetime | None = None
) -> SamlAssertion:
    """The assertion of a valid Response, else SamlError. ``expected_request_id`` is the ID of the pending
    AuthnRequest, or None for an IdP-initiated response (which then must not claim to answer any request)."""
    raw = decode_response(saml_response_b64)
    root = parse_xml(raw)
    moment = datetime.now(UTC) if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))
    assertion = check_response(sp, idp, root, expected_request_id=expected_request_id, now=moment)
    toolkit_validate(sp, idp, base64.b64encode(raw).decode("ascii"), expected_request_id)
    return assertion
