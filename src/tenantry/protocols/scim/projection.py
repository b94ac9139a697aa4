"""The ``attributes`` and ``excludedAttributes`` parameters (RFC 7644 §3.4.2.5, §3.9): which
attributes a response carries. ``id`` and ``schemas`` always come back; names are
case-insensitive; ``name.givenName`` selects one sub-attribute."""

from __future__ import annotations

from typing import Any

ALWAYS = ("schemas", "id")


def _names(text: str | None) -> list[tuple[str, str | None]]:
    if not text:
        return []
    found = []
    for item in text.split(","):
        item = item.strip()
        if item.lower().startswith("urn:"):
            item = item.rsplit(":", 1)[-1]
        if item:
            head, _, sub = item.partition(".")
            found.append((head.lower(), sub.lower() or None))
    return found


def project(resource: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    wanted = _names(attributes)
    if wanted:
        kept: dict[str, Any] = {}
        for key, value in resource.items():
            if key in ALWAYS:
                kept[key] = value
                continue
            subs = [sub for head, sub in wanted if head == key.lower()]
            if not subs:
                continue
            if None in subs or not isinstance(value, dict):
                kept[key] = value
            else:
                kept[key] = {k: v for k, v in value.items() if k.lower() in subs}
        return kept
    dropped = _names(excluded)
    if not dropped:
        return resource
    result = dict(resource)
    for head, sub in dropped:
        found = next((k for k in result if k.lower() == head), None)
        if found is None or found in ALWAYS:
            continue
        if sub is None:
            del result[found]
        elif isinstance(result[found], dict):
            result[found] = {k: v for k, v in result[found].items() if k.lower() != sub}
    return result
