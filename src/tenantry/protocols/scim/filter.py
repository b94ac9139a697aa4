"""SCIM filters (RFC 7644 §3.4.2.2) on users, read with the Wristband query parser: the two
languages share their grammar for what directories send (``userName eq "…"``, ``externalId eq
"…"``, ``and``/``or``, parentheses). SCIM names are matched case-insensitively and rewritten to
the listing's; ``co``, ``ew``, ``pr``, ``not`` and value paths (``emails[type eq "work"]``) are
refused with ``invalidFilter``."""

from __future__ import annotations

from collections.abc import Mapping

from tenantry.core.text import storable
from tenantry.protocols.query.ast import AttributeSpec, BoolOp, Comparison, Expr
from tenantry.protocols.query.parser import QueryError, parse_query
from tenantry.protocols.scim.errors import ScimError

USER_FILTER_ATTRIBUTES = {
    "id": "id",
    "userName": "username",
    "externalId": "externalId",
    "emails": "email",
    "emails.value": "email",
    "name.givenName": "givenName",
    "name.familyName": "familyName",
    "name.formatted": "fullName",
    "meta.created": "creationTime",
    "meta.lastModified": "lastModifiedTime",
}


def user_filter(text: str | None, provider_id: str, listing: Mapping[str, AttributeSpec]) -> Expr:
    """The users of the provider ``provider_id`` that match ``text`` (all of them when None).
    By id, not name: an application's provider and a tenant's own may share a name."""
    mine = Comparison("identityProviderId", "eq", provider_id)
    if text is None or not text.strip():
        return mine
    if not storable(text):
        raise ScimError(400, "The filter is not valid Unicode text", "invalidFilter")
    specs = {scim: listing[ours] for scim, ours in USER_FILTER_ATTRIBUTES.items()}
    try:
        parsed = parse_query(text, specs)
    except QueryError as error:
        raise ScimError(400, f"Unsupported or invalid filter: {error.message}", "invalidFilter") from error
    return BoolOp("and", (mine, _renamed(parsed)))


def _renamed(expr: Expr) -> Expr:
    if isinstance(expr, BoolOp):
        return BoolOp(expr.op, tuple(_renamed(operand) for operand in expr.operands))
    return Comparison(USER_FILTER_ATTRIBUTES[expr.attribute], expr.op, expr.value)
