"""SAML 2.0 SP: Response validation (each refusal asserted on the full validator AND on our own layer alone, so
no refusal rests on python3-saml only), IdP metadata, SP metadata and AuthnRequests."""

from __future__ import annotations

import base64
import copy
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from tenantry.protocols.saml import (
    SamlAssertion,
    SamlError,
    SamlIdp,
    SamlSp,
    build_authn_request,
    parse_idp_metadata,
    sp_metadata_xml,
    validate_response,
)
from tenantry.protocols.saml.responses import check_response
from tenantry.protocols.saml.signatures import register_unique_ids, verify_own_signature
from tenantry.protocols.saml.xml import parse_xml
from tests.protocols import saml_forge as forge
from tests.protocols.saml_forge import ACS_URL, IDP_ENTITY_ID, REQUEST_ID, SP_ENTITY_ID, ResponseSpec

IDP_KEYS = forge.make_key_pair("idp")
ATTACKER_KEYS = forge.make_key_pair("attacker")
SP_KEYS = forge.make_key_pair("sp")
SSO_URL = "https://idp.example.com/saml/sso"

IDP = SamlIdp(entity_id=IDP_ENTITY_ID, sso_url=SSO_URL, signing_certs=(IDP_KEYS.cert_pem,))
SP = SamlSp(entity_id=SP_ENTITY_ID, acs_url=ACS_URL)
SP_RESPONSE_SIGNED = SamlSp(
    entity_id=SP_ENTITY_ID, acs_url=ACS_URL, want_assertions_signed=False, want_response_signed=True
)
SP_BOTH_SIGNED = SamlSp(entity_id=SP_ENTITY_ID, acs_url=ACS_URL, want_response_signed=True)


def validate(
    root_or_xml: Any, sp: SamlSp = SP, expected: str | None = REQUEST_ID, now: datetime | None = None
) -> SamlAssertion:
    return validate_response(sp, IDP, forge.encode(root_or_xml), expected_request_id=expected, now=now)


def refused(root_or_xml: Any, sp: SamlSp = SP, expected: str | None = REQUEST_ID, now: datetime | None = None) -> str:
    """Refused by the validator, and by our own layer alone as well; returns our layer's reason."""
    with pytest.raises(SamlError):
        validate(root_or_xml, sp, expected, now)
    data = root_or_xml if isinstance(root_or_xml, bytes) else forge.to_xml(root_or_xml)
    with pytest.raises(SamlError) as caught:
        check_response(sp, IDP, parse_xml(data), expected_request_id=expected, now=now or datetime.now(UTC))
    return caught.value.reason


def signed(spec: ResponseSpec | None = None, **kwargs: bool) -> Any:
    return forge.signed_response(IDP_KEYS, spec, **kwargs)


# -- happy paths -----------------------------------------------------------------------------------------------


def test_assertion_signed() -> None:
    spec = ResponseSpec()
    result = validate(signed(spec))
    assert result == SamlAssertion(
        name_id="alice@example.com",
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        attributes={"email": ["alice@example.com"], "groups": ["admins", "users"]},
        assertion_id=spec.assertion_id,
        issuer=IDP_ENTITY_ID,
        session_index="_session-1",
        not_on_or_after=result.not_on_or_after,
        in_response_to=REQUEST_ID,
    )
    assert result.not_on_or_after is not None and result.not_on_or_after > datetime.now(UTC)


def test_response_signed() -> None:
    assert validate(signed(assertion=False, response=True), SP_RESPONSE_SIGNED).name_id == "alice@example.com"


def test_response_and_assertion_signed() -> None:
    root = signed(assertion=True, response=True)
    assert validate(root, SP_BOTH_SIGNED).name_id == "alice@example.com"
    assert validate(root, SP).name_id == "alice@example.com"


def test_idp_initiated_without_in_response_to() -> None:
    assert validate(signed(ResponseSpec(in_response_to=None)), expected=None).in_response_to is None


def test_rotated_certificate_list() -> None:
    idp = SamlIdp(IDP_ENTITY_ID, SSO_URL, signing_certs=(ATTACKER_KEYS.cert_pem, IDP_KEYS.cert_pem))
    data = forge.encode(signed())
    assert validate_response(SP, idp, data, expected_request_id=REQUEST_ID).name_id == "alice@example.com"


def test_clock_skew_tolerated() -> None:
    spec = ResponseSpec(not_before=datetime.now(UTC) + timedelta(seconds=60))
    assert validate(signed(spec)).name_id == "alice@example.com"


def test_comment_in_name_id_yields_the_full_signed_text() -> None:
    """Documented behaviour: the full text is read (comments are dropped at parse time), never a truncation."""
    root = signed(ResponseSpec(name_id="alice@example.com.evil.com"))
    data = forge.to_xml(root).replace(b"alice@example.com.evil.com<", b"alice@example.com<!---->.evil.com<")
    assert b"<!---->" in data
    assert validate(data).name_id == "alice@example.com.evil.com"


# -- signatures ------------------------------------------------------------------------------------------------


def test_nothing_signed() -> None:
    assert refused(forge.build_response(), SamlSp(SP_ENTITY_ID, ACS_URL, want_assertions_signed=False)) == (
        "neither response nor assertion is signed"
    )


def test_assertion_unsigned_when_assertions_must_be_signed() -> None:
    assert refused(signed(assertion=False, response=True), SP) == "assertion is not signed"


def test_response_unsigned_when_responses_must_be_signed() -> None:
    assert refused(signed(assertion=True, response=False), SP_BOTH_SIGNED) == "response is not signed"


def test_signature_by_another_key() -> None:
    # the attacker's certificate travels in KeyInfo; only the configured certificates may verify
    root = forge.signed_response(ATTACKER_KEYS, ResponseSpec(name_id=forge.VICTIM))
    assert refused(root) == "signature invalid"


def test_response_signature_by_another_key() -> None:
    root = forge.signed_response(ATTACKER_KEYS, assertion=False, response=True)
    assert refused(root, SP_RESPONSE_SIGNED) == "signature invalid"


def test_tampered_name_id() -> None:
    root = signed()
    forge.assertion_of(root).find(f"{{{forge.SAML}}}Subject/{{{forge.SAML}}}NameID").text = forge.VICTIM
    assert refused(root) == "signature invalid"


def test_sha1_signature_refused() -> None:
    root = forge.build_response()
    forge.sign(forge.assertion_of(root), IDP_KEYS, sha1=True)
    assert refused(root) == "signature method not allowed"


@pytest.mark.parametrize("name", sorted(forge.XSW_RESPONSE_LEVEL))
def test_signature_wrapping_response_level(name: str) -> None:
    original = signed(assertion=False, response=True)
    assert validate(original, SP_RESPONSE_SIGNED).name_id == "alice@example.com"
    attacked = forge.XSW_RESPONSE_LEVEL[name](original)
    assert forge.VICTIM.encode() in forge.to_xml(attacked)
    refused(attacked, SP_RESPONSE_SIGNED)


@pytest.mark.parametrize("name", sorted(forge.XSW_ASSERTION_LEVEL))
def test_signature_wrapping_assertion_level(name: str) -> None:
    original = signed()
    assert validate(original).name_id == "alice@example.com"
    attacked = forge.XSW_ASSERTION_LEVEL[name](original)
    assert forge.VICTIM.encode() in forge.to_xml(attacked)
    refused(attacked)


def test_signature_wrapping_refused_even_without_the_assertion_count() -> None:
    """XSW8 keeps one Assertion directly in the Response; the duplicate ID alone already refuses it."""
    attacked = forge.xsw8(signed())
    assert refused(attacked) in {"expected exactly one assertion", "duplicate ID attributes"}


# -- subject, conditions, addressing ----------------------------------------------------------------------------


def test_wrong_audience() -> None:
    assert refused(signed(ResponseSpec(audience="https://other-sp.example.com"))) == "audience mismatch"


def test_missing_audience_restriction() -> None:
    """python3-saml accepts an assertion without any AudienceRestriction; we do not."""
    root = forge.build_response()
    conditions = forge.assertion_of(root).find(f"{{{forge.SAML}}}Conditions")
    conditions.remove(conditions.find(f"{{{forge.SAML}}}AudienceRestriction"))
    forge.sign(forge.assertion_of(root), IDP_KEYS)
    assert refused(root) == "assertion has no AudienceRestriction"


def test_second_audience_restriction_excluding_us() -> None:
    root = forge.build_response()
    conditions = forge.assertion_of(root).find(f"{{{forge.SAML}}}Conditions")
    restriction = etree.SubElement(conditions, f"{{{forge.SAML}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{forge.SAML}}}Audience").text = "https://other-sp.example.com"
    forge.sign(forge.assertion_of(root), IDP_KEYS)
    assert refused(root) == "audience mismatch"


def test_session_not_on_or_after_passed() -> None:
    root = forge.build_response()
    statement = forge.assertion_of(root).find(f"{{{forge.SAML}}}AuthnStatement")
    statement.set("SessionNotOnOrAfter", forge.iso(datetime.now(UTC) - timedelta(hours=1)))
    forge.sign(forge.assertion_of(root), IDP_KEYS)
    assert refused(root) == "SessionNotOnOrAfter has passed"


def test_wrong_recipient() -> None:
    assert refused(signed(ResponseSpec(recipient="https://other-sp.example.com/acs"))) == "recipient mismatch"


def test_wrong_destination() -> None:
    assert refused(signed(ResponseSpec(destination="https://other-sp.example.com/acs"))) == "destination mismatch"


def test_destination_that_merely_starts_with_the_acs_url() -> None:
    assert refused(signed(ResponseSpec(destination=ACS_URL + "-evil"))) == "destination mismatch"


def test_signed_response_without_destination() -> None:
    root = signed(ResponseSpec(destination=None), assertion=False, response=True)
    assert refused(root, SP_RESPONSE_SIGNED) == "destination mismatch"


def test_assertion_issuer_mismatch() -> None:
    assert refused(signed(ResponseSpec(issuer="https://evil-idp.example.com"))) == "issuer mismatch"


def test_response_issuer_mismatch() -> None:
    assert refused(signed(ResponseSpec(response_issuer="https://evil-idp.example.com"))) == "issuer mismatch"


def test_expired() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    spec = ResponseSpec(issue_instant=past, not_before=past, not_on_or_after=past + timedelta(minutes=5))
    assert refused(signed(spec)).endswith("NotOnOrAfter has passed")


def test_not_yet_valid() -> None:
    spec = ResponseSpec(not_before=datetime.now(UTC) + timedelta(hours=1))
    assert refused(signed(spec)) == "assertion NotBefore is in the future"


def test_now_parameter_moves_our_clock() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    assert refused(signed(), now=later).endswith("NotOnOrAfter has passed")


def test_in_response_to_of_another_request() -> None:
    assert refused(signed(ResponseSpec(in_response_to="_another-request"))) == (
        "InResponseTo does not match the pending request"
    )


def test_unsolicited_response_when_a_request_is_pending() -> None:
    assert refused(signed(ResponseSpec(in_response_to=None))) == "InResponseTo does not match the pending request"


def test_idp_initiated_response_that_answers_a_request() -> None:
    assert refused(signed(), expected=None) == "unsolicited response carries InResponseTo"


def test_two_assertions() -> None:
    root = signed()
    second = forge.build_response(ResponseSpec(name_id=forge.VICTIM))
    extra = forge.assertion_of(second)
    forge.sign(extra, IDP_KEYS)  # even a second, validly signed assertion is refused
    root.append(copy.deepcopy(extra))
    assert refused(root) == "expected exactly one assertion"


def test_encrypted_assertion_that_cannot_be_decrypted() -> None:
    root = forge.build_response()
    assertion = forge.assertion_of(root)
    encrypted = etree.Element(f"{{{forge.SAML}}}EncryptedAssertion")
    data = etree.SubElement(encrypted, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    etree.SubElement(
        etree.SubElement(data, "{http://www.w3.org/2001/04/xmlenc#}CipherData"),
        "{http://www.w3.org/2001/04/xmlenc#}CipherValue",
    ).text = base64.b64encode(b"\x00" * 64).decode()
    root.replace(assertion, encrypted)
    forge.sign(root, IDP_KEYS)
    assert refused(root, SP_RESPONSE_SIGNED) == "encrypted assertions are not supported"


def test_status_not_success() -> None:
    spec = ResponseSpec(status="urn:oasis:names:tc:SAML:2.0:status:Requester")
    assert refused(signed(spec)) == "status is not Success"


# -- transport-level refusals -----------------------------------------------------------------------------------


def refused_raw(saml_response_b64: str) -> str:
    with pytest.raises(SamlError) as caught:
        validate_response(SP, IDP, saml_response_b64, expected_request_id=REQUEST_ID)
    return caught.value.reason


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">',
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        b"<!doctype r>",
    ],
    ids=["external-entity", "external-dtd", "entity-expansion", "lowercase"],
)
def test_dtd_refused(doctype: bytes) -> None:
    xml = forge.to_xml(signed())
    declaration_end = xml.index(b"?>") + 2
    attacked = xml[:declaration_end] + doctype + xml[declaration_end:]
    assert refused_raw(forge.encode(attacked)) == "DTDs are not accepted"


def test_dtd_in_utf16_refused() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]>'
        + forge.to_xml(signed()).split(b"?>", 1)[1]
    )
    utf16 = xml.decode("utf-8").encode("utf-16")
    assert refused_raw(base64.b64encode(utf16).decode()) in {"DTDs are not accepted", "XML is malformed"}


@pytest.mark.parametrize("value", ["not base64 at all!", "", "%%%%", "é"])
def test_not_base64(value: str) -> None:
    assert refused_raw(value) in {"SAMLResponse is not base64", "SAMLResponse is empty"}


def test_oversized() -> None:
    xml = forge.to_xml(signed())
    padded = xml.replace(b"</samlp:Response>", b"<!--" + b"x" * (256 * 1024) + b"--></samlp:Response>")
    assert refused_raw(forge.encode(padded)) == "SAMLResponse too large"
    assert refused_raw("A" * (400 * 1024)) == "SAMLResponse too large"


def test_not_xml() -> None:
    assert refused_raw(base64.b64encode(b"<samlp:Response").decode()) == "XML is malformed"


# -- IdP metadata -----------------------------------------------------------------------------------------------


def cert_b64(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "CERTIFICATE" not in line)


def idp_metadata(
    *, certs: tuple[str, ...] = (IDP_KEYS.cert_pem,), bindings: tuple[str, ...] = ("HTTP-Redirect", "HTTP-POST")
) -> str:
    keys = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(c)}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs
    )
    services = "".join(
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{b}" Location="{SSO_URL}/{b}"/>'
        for b in bindings
    )
    return (
        '<?xml version="1.0"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'{keys}<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{cert_b64(ATTACKER_KEYS.cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        f"{services}</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def test_metadata_good() -> None:
    idp = parse_idp_metadata(idp_metadata(certs=(IDP_KEYS.cert_pem, SP_KEYS.cert_pem)))
    assert idp.entity_id == IDP_ENTITY_ID
    assert idp.sso_url == f"{SSO_URL}/HTTP-Redirect"
    assert idp.signing_certs == (IDP_KEYS.cert_pem, SP_KEYS.cert_pem)  # the encryption key is not trusted to sign
    # the parsed IdP validates a real response
    data = forge.encode(signed())
    assert validate_response(SP, idp, data, expected_request_id=REQUEST_ID).name_id == "alice@example.com"


def test_metadata_post_only() -> None:
    idp = parse_idp_metadata(idp_metadata(bindings=("HTTP-POST",)).encode())
    assert (idp.sso_url, idp.sso_binding) == (f"{SSO_URL}/HTTP-POST", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")


def test_metadata_dtd_refused() -> None:
    xml = idp_metadata().replace('<?xml version="1.0"?>', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]>')
    with pytest.raises(SamlError, match="DTDs are not accepted"):
        parse_idp_metadata(xml)


def test_metadata_missing_cert() -> None:
    with pytest.raises(SamlError, match="no signing certificate"):
        parse_idp_metadata(idp_metadata(certs=()))


def test_metadata_missing_sso_endpoint() -> None:
    with pytest.raises(SamlError, match="SSO endpoint"):
        parse_idp_metadata(idp_metadata(bindings=("SOAP",)))


def test_metadata_plain_http_sso_refused() -> None:
    with pytest.raises(SamlError, match="https"):
        parse_idp_metadata(idp_metadata().replace("https://idp.example.com", "http://idp.example.com"))
    local = parse_idp_metadata(idp_metadata().replace("https://idp.example.com", "http://127.0.0.1:7000"))
    assert local.sso_url.startswith("http://127.0.0.1:7000/")


def test_metadata_expired() -> None:
    xml = idp_metadata().replace(
        f'entityID="{IDP_ENTITY_ID}"', f'entityID="{IDP_ENTITY_ID}" validUntil="2020-01-01T00:00:00Z"'
    )
    with pytest.raises(SamlError, match="expired"):
        parse_idp_metadata(xml)


def test_metadata_with_two_identity_providers_refused() -> None:
    one = idp_metadata().split("?>", 1)[1]
    xml = f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{one}{one}</md:EntitiesDescriptor>'
    with pytest.raises(SamlError, match="exactly one identity provider"):
        parse_idp_metadata(xml)


def test_metadata_garbage_certificate() -> None:
    with pytest.raises(SamlError, match="unreadable certificate"):
        parse_idp_metadata(idp_metadata().replace(cert_b64(IDP_KEYS.cert_pem), "bm90IGEgY2VydA=="))


# -- SP metadata ------------------------------------------------------------------------------------------------

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


def test_sp_metadata() -> None:
    root = etree.fromstring(sp_metadata_xml(SP).encode())
    assert root.get("entityID") == SP_ENTITY_ID
    descriptor = root.find(f"{MD}SPSSODescriptor")
    assert descriptor.get("WantAssertionsSigned") == "true"
    assert descriptor.get("AuthnRequestsSigned") == "false"
    acs = descriptor.find(f"{MD}AssertionConsumerService")
    assert (acs.get("Location"), acs.get("Binding")) == (ACS_URL, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    assert descriptor.find(f"{MD}KeyDescriptor") is None


def test_sp_metadata_with_signing_certificate() -> None:
    sp = SamlSp(SP_ENTITY_ID, ACS_URL, sign_authn_requests=True, cert_pem=SP_KEYS.cert_pem, key_pem=SP_KEYS.key_pem)
    root = etree.fromstring(sp_metadata_xml(sp).encode())
    descriptor = root.find(f"{MD}SPSSODescriptor")
    assert descriptor.get("AuthnRequestsSigned") == "true"
    certs = [c.text for c in descriptor.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate")]
    assert cert_b64(SP_KEYS.cert_pem) in certs


# -- AuthnRequest -----------------------------------------------------------------------------------------------


def decode_request(url: str) -> tuple[Any, dict[str, str]]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15)
    return etree.fromstring(xml), query


def test_authn_request() -> None:
    url, request_id = build_authn_request(SP, IDP, "relay-123")
    assert url.startswith(SSO_URL + "?")
    request, query = decode_request(url)
    assert request.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest"
    assert request.get("ID") == request_id
    assert request.get("AssertionConsumerServiceURL") == ACS_URL
    assert request.get("Destination") == SSO_URL
    assert request.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text == SP_ENTITY_ID
    assert query["RelayState"] == "relay-123"
    assert "Signature" not in query
    assert build_authn_request(SP, IDP, "relay-123")[1] != request_id


def test_signed_authn_request_verifies() -> None:
    sp = SamlSp(SP_ENTITY_ID, ACS_URL, sign_authn_requests=True, cert_pem=SP_KEYS.cert_pem, key_pem=SP_KEYS.key_pem)
    url, request_id = build_authn_request(sp, IDP, "relay-123")
    request, query = decode_request(url)
    assert request.get("ID") == request_id
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    # Bindings §3.4.4.1: the signature covers SAMLRequest, RelayState and SigAlg as they appear in the URL
    raw = dict(part.split("=", 1) for part in urlsplit(url).query.split("&"))
    signed_part = f"SAMLRequest={raw['SAMLRequest']}&RelayState={raw['RelayState']}&SigAlg={raw['SigAlg']}"
    assert raw["SigAlg"] == quote(query["SigAlg"], safe="")
    public_key = x509.load_pem_x509_certificate(SP_KEYS.cert_pem.encode()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    signature = base64.b64decode(query["Signature"])
    public_key.verify(signature, signed_part.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(
            signature, signed_part.replace("relay-123", "relay-9").encode(), padding.PKCS1v15(), hashes.SHA256()
        )


def test_signed_authn_request_needs_a_key() -> None:
    with pytest.raises(SamlError, match="needs the SP key"):
        build_authn_request(SamlSp(SP_ENTITY_ID, ACS_URL, sign_authn_requests=True), IDP, "relay")


@pytest.mark.parametrize("name", sorted(forge.XSW_ASSERTION_LEVEL))
def test_the_assertion_a_naive_consumer_takes_never_counts_as_signed(name: str) -> None:
    """Second line of defence behind the one-assertion rule: the first Assertion in document order (what a naive
    SP consumes after XSW3-8) is never accepted as carrying a valid signature of its own."""
    root = parse_xml(forge.to_xml(forge.XSW_ASSERTION_LEVEL[name](signed())))
    naive = next(root.iter(f"{{{forge.SAML}}}Assertion"))
    assert naive.find(f"{{{forge.SAML}}}Subject/{{{forge.SAML}}}NameID").text == forge.VICTIM
    try:
        register_unique_ids(root)
        counted = verify_own_signature(naive, IDP.signing_certs)
    except SamlError:
        counted = False
    assert counted is False


@pytest.mark.parametrize("name", sorted(forge.XSW_RESPONSE_LEVEL))
def test_an_xsw_response_never_counts_as_signed(name: str) -> None:
    root = parse_xml(forge.to_xml(forge.XSW_RESPONSE_LEVEL[name](signed(assertion=False, response=True))))
    try:
        register_unique_ids(root)
        counted = verify_own_signature(root, IDP.signing_certs)
    except SamlError:
        counted = False
    assert counted is False


def test_signature_checks_accept_the_untouched_response() -> None:
    root = parse_xml(forge.to_xml(signed(response=True)))
    register_unique_ids(root)
    assert verify_own_signature(root, IDP.signing_certs) is True
    assert verify_own_signature(forge.assertion_of(root), IDP.signing_certs) is True


def test_configuration_the_toolkit_refuses_is_a_clear_saml_error() -> None:
    idp = SamlIdp(IDP_ENTITY_ID, "https://single-label/sso", signing_certs=(IDP_KEYS.cert_pem,))
    with pytest.raises(SamlError, match="SAML configuration invalid: idp_sso_url_invalid"):
        build_authn_request(SP, idp, "relay")
    with pytest.raises(SamlError, match="SAML configuration invalid"):
        validate_response(SP, idp, forge.encode(signed()), expected_request_id=REQUEST_ID)
