"""Rules every stored string follows, whatever field it is in."""

from __future__ import annotations

import math
import re
from typing import Any

from tenantry.core.errors import Violation

# C0 controls (NUL included: PostgreSQL cannot store it) and DEL; tabs and newlines included,
# since no single-line field needs them.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def storable(value: str) -> bool:
    """Encodable as UTF-8 (no lone surrogates) and free of NUL."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_problem(document: Any) -> str | None:
    """Why parsed JSON cannot be stored, or None: NaN/Infinity (not RFC 8259, and PostgreSQL's
    json type refuses them) or a lone surrogate escape, in a value or a key (not UTF-8)."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "NaN and Infinity are not JSON numbers"
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "Strings must be valid Unicode (no lone surrogates)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def text_violation(value: str, *, max_length: int, min_length: int = 1, multiline: bool = False) -> Violation | None:
    """The first problem with a single-line (or, with ``multiline``, free) text value."""
    if len(value) < min_length or (min_length and not value.strip()):
        return Violation("too_short", {"minLength": str(min_length)})
    if len(value) > max_length:
        return Violation("too_long", {"maxLength": str(max_length)})
    if not storable(value):
        return Violation("invalid_format")
    if multiline:
        if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
            return Violation("invalid_format")
    elif CONTROL.search(value):
        return Violation("invalid_format")
    return None
