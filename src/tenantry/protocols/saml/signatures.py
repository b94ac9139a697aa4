"""Enveloped XML signatures on a SAML Response or Assertion, checked so that the signed node is the node consumed.

A signature counts for an element only when it is a direct child of that element, has exactly one Reference,
that Reference points at the element's own ID (IDs being unique in the document), it uses only the enveloped
and exclusive-c14n transforms and SHA-2 algorithms, and xmlsec verifies it with one of the IdP's configured
certificates (never with a key carried in the message's KeyInfo)."""

from __future__ import annotations

from collections import Counter

import xmlsec

from tenantry.protocols.saml.model import SamlError
from tenantry.protocols.saml.xml import Element, children, one_child, optional_child, qname

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
_SIGNATURE_PARTS = frozenset({qname("ds", "SignedInfo"), qname("ds", "SignatureValue"), qname("ds", "KeyInfo")})


def register_unique_ids(root: Element) -> None:
    """Refuse duplicate ``ID`` values (the ground of several wrapping attacks), then let xmlsec resolve them."""
    counts = Counter(str(node.get("ID")) for node in root.iter() if isinstance(node.tag, str) and node.get("ID"))
    if any(count > 1 for count in counts.values()):
        raise SamlError("duplicate ID attributes")
    xmlsec.tree.add_ids(root, ["ID"])


def _algorithm(parent: Element, local: str, allowed: frozenset[str], what: str) -> None:
    if one_child(parent, "ds", local, what).get("Algorithm") not in allowed:
        raise SamlError(f"{what} not allowed")


def _check_shape(element: Element, signature: Element) -> None:
    if any(child.tag not in _SIGNATURE_PARTS for child in signature):
        raise SamlError("signature holds unexpected content")
    signed_info = one_child(signature, "ds", "SignedInfo", "SignedInfo")
    _algorithm(signed_info, "CanonicalizationMethod", frozenset({EXC_C14N}), "canonicalization method")
    _algorithm(signed_info, "SignatureMethod", SIGNATURE_METHODS, "signature method")
    reference = one_child(signed_info, "ds", "Reference", "signature reference")
    element_id = element.get("ID")
    if not element_id or reference.get("URI") != f"#{element_id}":
        raise SamlError("signature does not reference the signed element")
    transforms_node = optional_child(reference, "ds", "Transforms", "Transforms")
    transforms = [] if transforms_node is None else children(transforms_node, "ds", "Transform")
    algorithms = [t.get("Algorithm") for t in transforms]
    if ENVELOPED not in algorithms or any(a not in (ENVELOPED, EXC_C14N) for a in algorithms):
        raise SamlError("signature transforms not allowed")
    _algorithm(reference, "DigestMethod", DIGEST_METHODS, "digest method")


def verify_own_signature(element: Element, certs: tuple[str, ...]) -> bool:
    """True when ``element`` carries a valid enveloped signature of its own, False when it carries none.

    A signature that is present but wrong is an error, never "unsigned"."""
    signatures = children(element, "ds", "Signature")
    if not signatures:
        return False
    if len(signatures) > 1:
        raise SamlError("more than one signature on one element")
    signature = signatures[0]
    _check_shape(element, signature)
    for cert in certs:
        context = xmlsec.SignatureContext()
        try:
            context.key = xmlsec.Key.from_memory(cert.encode(), xmlsec.constants.KeyDataFormatCertPem, None)
            context.verify(signature)
        except xmlsec.Error:
            continue
        return True
    raise SamlError("signature invalid")
