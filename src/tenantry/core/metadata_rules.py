"""Limits on the free-form JSON objects (``publicMetadata``, ``restrictedMetadata``)."""

from __future__ import annotations

import json

from tenantry.core.errors import Violation

MAX_DEPTH = 16
MAX_BYTES = 32_768


def _depth(value: object, limit: int) -> int:
    """Depth of nested containers, iteratively (never recursion on attacker-sized input)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level) for child in children)
    return deepest


def metadata_violations(value: object) -> list[Violation]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [Violation("invalid_type")]
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        return [Violation("too_deep", {"maxDepth": str(MAX_DEPTH)})]
    if len(json.dumps(value, separators=(",", ":"))) > MAX_BYTES:
        return [Violation("too_long", {"maxLength": str(MAX_BYTES)})]
    return []
