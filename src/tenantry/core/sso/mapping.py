"""From what an IdP asserted (OIDC claims, SAML attributes) to an :class:`ExternalIdentity`,
through the provider's mapping of user fields onto claim / attribute names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenantry.core.sso.model import ExternalIdentity
from tenantry.core.users.model import EMAIL_MAX
from tenantry.core.users.model import PROFILE_FIELDS as PROFILE_LIMITS
from tenantry.core.users.validation import email_violations, profile_violations

PROFILE_FIELDS = ("givenName", "familyName", "fullName", "phoneNumber", "birthdate")
MAX_GROUPS = 200


class UnusableIdentity(ValueError):
    """The IdP's answer lacks what a user needs (an id, an email) or holds unusable values."""


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _text(value: Any, limit: int) -> str | None:
    value = _first(value)
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > limit or "\x00" in text:
        return None
    return text


def _truthy(value: Any) -> bool:
    value = _first(value)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}


def _groups(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    groups = [str(g).strip() for g in items if isinstance(g, str | int) and str(g).strip()]
    return tuple(dict.fromkeys(g for g in groups if len(g) <= 500))[:MAX_GROUPS]


def identity_from(
    values: Mapping[str, Any],
    mapping: Mapping[str, str],
    *,
    subject: str | None = None,
    default_verified: bool = False,
) -> ExternalIdentity:
    """``subject`` (the NameID / ``sub``) is the external id unless ``id`` is mapped to a value
    present in ``values``. An email the IdP does not mark verified is unverified unless
    ``default_verified`` (a SAML IdP that has no such attribute vouches for what it asserts only
    when the provider says so)."""
    mapped_id = _text(values.get(mapping["id"]), 255) if "id" in mapping else None
    external_id = mapped_id or (_text(subject, 255) if subject is not None else None)
    if not external_id:
        raise UnusableIdentity("The identity provider did not send a user identifier")
    email = _text(values.get(mapping["email"]), EMAIL_MAX) if "email" in mapping else None
    if email is not None and email_violations(email):
        raise UnusableIdentity("The identity provider sent an invalid email address")
    if "emailVerified" in mapping and mapping["emailVerified"] in values:
        verified = _truthy(values.get(mapping["emailVerified"]))
    else:
        verified = default_verified
    profile: dict[str, str] = {}
    for name in PROFILE_FIELDS:
        if name in mapping and (value := _text(values.get(mapping[name]), PROFILE_LIMITS.get(name, 200))):
            profile[name] = value
    # A value the user schema would refuse (a phone number not in E.164, say) is left out.
    for name in profile_violations(profile):
        profile.pop(name)
    groups = _groups(values.get(mapping["groups"])) if "groups" in mapping else ()
    return ExternalIdentity(
        external_id=external_id,
        email=email,
        email_verified=verified and email is not None,
        profile=profile,
        groups=groups,
    )
