"""Field rules for users, returning Wristband-style violations instead of raising one by one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from zoneinfo import available_timezones

from tenantry.core.errors import Violation
from tenantry.core.text import CONTROL, storable
from tenantry.core.users.model import EMAIL_MAX, PROFILE_FIELDS

# Deliberately simple: one @, no spaces or control characters, a dot in the domain. The real
# check is the email the address receives; this only refuses what cannot be an address.
EMAIL_PATTERN = re.compile(
    r"^[^@\s\x00-\x1f\x7f<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z0-9-]{2,}$"
)
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{1,14}$")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]+$")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
URL_PATTERN = re.compile(r"^https?://[^\s]+$")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def email_violations(email: str) -> list[Violation]:
    if not email:
        return [Violation("required")]
    if len(email) > EMAIL_MAX:
        return [Violation("too_long", {"maxLength": str(EMAIL_MAX)})]
    if not storable(email) or not EMAIL_PATTERN.match(email):
        return [Violation("invalid_format")]
    return []


def _format_violation(name: str, value: str) -> Violation | None:
    ok = True
    if name == "phoneNumber":
        ok = bool(E164_PATTERN.match(value))
    elif name == "birthdate":
        try:
            ok = len(value) == 10 and date.fromisoformat(value) <= date.today()
        except ValueError:
            ok = False
    elif name == "username":
        ok = bool(USERNAME_PATTERN.match(value))
    elif name in ("preferredLanguage", "locale"):
        ok = bool(LANGUAGE_PATTERN.match(value))
    elif name == "timeZone":
        ok = value in _timezones()
    elif name == "pictureUrl":
        ok = bool(URL_PATTERN.match(value))
    else:
        ok = not CONTROL.search(value)
    return None if ok else Violation("invalid_format")


def profile_violations(profile: Mapping[str, str | None]) -> dict[str, list[Violation]]:
    """Violations of the profile fields present in ``profile`` (``None`` clears a field)."""
    found: dict[str, list[Violation]] = {}
    for name, value in profile.items():
        if value is None:
            continue
        limit = PROFILE_FIELDS[name]
        if value == "":
            found[name] = [Violation("too_short", {"minLength": "1"})]
        elif len(value) > limit:
            found[name] = [Violation("too_long", {"maxLength": str(limit)})]
        elif not storable(value):
            found[name] = [Violation("invalid_format")]
        elif (violation := _format_violation(name, value)) is not None:
            found[name] = [violation]
    return found
