"""Hardened XML parsing for SAML input: no DTD, no entities, no network, comments dropped at parse time.

Dropping comments while parsing merges the text around them, so ``alice@example.com<!---->.evil.com`` reads as
the full ``alice@example.com.evil.com`` (the identity that was actually signed) and never as a truncated one."""

from __future__ import annotations

from typing import Any

from lxml import etree

from tenantry.protocols.saml.model import NS, SamlError

Element = Any  # lxml.etree._Element; lxml ships no type information

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_blank_text": False,
}


def parse_xml(data: bytes) -> Element:
    """The root element, refusing any DOCTYPE (and with it every entity declaration) and malformed input."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise SamlError("DTDs are not accepted")
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except (etree.XMLSyntaxError, ValueError) as error:
        raise SamlError("XML is malformed") from error
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise SamlError("DTDs are not accepted")
    return root


def qname(prefix: str, local: str) -> str:
    return f"{{{NS[prefix]}}}{local}"


def children(element: Element, prefix: str, local: str) -> list[Element]:
    """Direct children named ``prefix:local``, in document order."""
    return list(element.iterchildren(qname(prefix, local)))


def one_child(element: Element, prefix: str, local: str, what: str) -> Element:
    found = children(element, prefix, local)
    if len(found) != 1:
        raise SamlError(f"expected exactly one {what}")
    return found[0]


def optional_child(element: Element, prefix: str, local: str, what: str) -> Element | None:
    found = children(element, prefix, local)
    if len(found) > 1:
        raise SamlError(f"more than one {what}")
    return found[0] if found else None


def full_text(element: Element, what: str) -> str:
    """The element's whole text content; it must hold text only (no child elements or processing instructions)."""
    if len(element):
        raise SamlError(f"{what} must hold text only")
    return str(element.text or "").strip()
