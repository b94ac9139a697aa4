"""The SCIM ``User`` resource (RFC 7643 §4.1) and a Tenantry user, both ways.

Published (in ``/Schemas``) and kept exactly: ``userName`` (the username), ``externalId``,
``name`` (``formatted`` is the full name, ``givenName``, ``familyName``, ``middleName``,
``honorificPrefix``, ``honorificSuffix``), ``displayName``, ``nickName``, ``emails`` (one: the
user's email; a directory's primary one, else its first, else a ``userName`` that is an address)
and ``active``. Also taken when valid and otherwise left out, since directories send them in
whatever form their own records hold: ``locale``, ``preferredLanguage``, ``timezone`` and the
primary (or first) of ``phoneNumbers`` (E.164). Anything else a directory sends is ignored, as
RFC 7644 §3.3 allows for attributes the service provider does not support.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tenantry.core.provisioning.model import DirectoryUser
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.validation import EMAIL_PATTERN, profile_violations
from tenantry.protocols.scim.errors import invalid_value

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
NAME_PARTS = {
    "formatted": "fullName",
    "givenName": "givenName",
    "familyName": "familyName",
    "middleName": "middleName",
    "honorificPrefix": "honorificPrefix",
    "honorificSuffix": "honorificSuffix",
}
SIMPLE = {"userName": "username", "externalId": "externalId", "displayName": "displayName", "nickName": "nickname"}
LENIENT = {"locale": "locale", "preferredLanguage": "preferredLanguage", "timezone": "timeZone"}
# Every attribute read from a directory's resource (lower case: SCIM names are case-insensitive).
KEPT_ATTRIBUTES = frozenset(name.lower() for name in (*SIMPLE, "name", "emails", "phoneNumbers", *LENIENT, "active"))


def user_resource(user: User, location: str) -> dict[str, Any]:
    """The user as SCIM JSON; ``location`` is the resource's URL."""
    profile = user.profile
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": user.id}
    for scim, ours in SIMPLE.items():
        if profile.get(ours) is not None:
            resource[scim] = profile[ours]
    name = {scim: profile[ours] for scim, ours in NAME_PARTS.items() if profile.get(ours) is not None}
    if name:
        resource["name"] = name
    resource["emails"] = [{"value": user.email}]
    if profile.get("phoneNumber"):
        resource["phoneNumbers"] = [{"value": profile["phoneNumber"]}]
    for scim, ours in LENIENT.items():
        if profile.get(ours) is not None:
            resource[scim] = profile[ours]
    resource["active"] = user.status is UserStatus.ACTIVE
    resource["meta"] = {
        "resourceType": "User",
        "created": _instant(user.metadata.creation_time),
        "lastModified": _instant(user.metadata.last_modified_time),
        "location": location,
        "version": f'W/"{user.metadata.version}"',
    }
    return resource


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def directory_user(resource: Mapping[str, Any]) -> DirectoryUser:
    """A SCIM User body (POST, PUT, or the result of a PATCH) as the directory's user, whole."""
    document = {key.lower(): value for key, value in resource.items()}
    user_name = document.get("username")
    if not isinstance(user_name, str) or not user_name.strip():
        raise invalid_value("userName is required")
    profile: dict[str, str | None] = {"username": user_name}
    for scim, ours in SIMPLE.items():
        if scim != "userName":
            profile[ours] = _text(document, scim)
    name = document.get("name")
    if name is not None and not isinstance(name, dict):
        raise invalid_value("name must be an object")
    parts = {key.lower(): value for key, value in (name or {}).items()}
    for scim, ours in NAME_PARTS.items():
        profile[ours] = _text(parts, scim)
    strict = profile_violations(profile)
    if strict:
        field = next(iter(strict))
        raise invalid_value(f"{_scim_name(field)}: {', '.join(v.code for v in strict[field])}")
    for scim, ours in LENIENT.items():
        profile[ours] = _lenient(ours, _text(document, scim))
    profile["phoneNumber"] = _lenient("phoneNumber", _chosen_value(document.get("phonenumbers"), "phoneNumbers"))
    email = _chosen_value(document.get("emails"), "emails")
    if email is None and EMAIL_PATTERN.match(user_name):
        email = user_name
    if email is None:
        raise invalid_value("emails: an email address is required (or a userName that is one)")
    active = document.get("active")
    if isinstance(active, str) and active.lower() in ("true", "false"):
        active = active.lower() == "true"  # Entra ID sends "True" / "False"
    if active is not None and not isinstance(active, bool):
        raise invalid_value("active must be a boolean")
    return DirectoryUser(email=email, active=active, profile=profile)


def _text(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name.lower())
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be a string")
    return value


def _chosen_value(items: Any, name: str) -> str | None:
    """The ``value`` of the primary item of a multi-valued attribute, else of its first."""
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid_value(f"{name} must be a list of objects")
    if not items:
        return None
    chosen = next((i for i in items if i.get("primary") is True), items[0])
    value = chosen.get("value")
    if value is not None and not isinstance(value, str):
        raise invalid_value(f"{name}.value must be a string")
    return value


def _lenient(ours: str, value: str | None) -> str | None:
    return None if value is None or profile_violations({ours: value}) else value


def _scim_name(ours: str) -> str:
    reverse = {v: k for k, v in SIMPLE.items()} | {v: f"name.{k}" for k, v in NAME_PARTS.items()}
    return reverse.get(ours, ours)
