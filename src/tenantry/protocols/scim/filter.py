"""SCIM filters (RFC 7644 §3.4.2.2) on users, read with the Wristband query parser: the two
languages share their grammar for what directories send (``userName eq "…"``, ``externalId eq
"…"``, ``and``/``or``, parentheses). SCIM names are matched case-insensitively and rewritten to
the listing's; ``co``, ``ew``, ``pr``, ``not`` and value paths (``emails[type eq "work"]``) are
refused with ``invalidFilter``."""

from __future__ import annotations

from collections.abc import Mapping

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


def user_filter(text: str | None, provider_name: str, listing: Mapping[str, AttributeSpec]) -> Expr:
    """The users of ``provider_name`` that match ``text`` (all of them when it is None)."""
    mine = Comparison("identityProviderName", "eq", provider_name)
    if text is None or not text.strip():
        return mine
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
