"""SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON.

The result is read back as a whole resource (``users.directory_user``) and stored as a
replacement, so PATCH and PUT share every rule. Operation names are case-insensitive (Entra ID
sends ``Replace``); paths are ``attr``, ``attr.sub``, ``attr[filter]`` and ``attr[filter].sub``,
optionally behind the core schema's URN. A value-filtered path selects the one value Tenantry keeps
for a multi-valued attribute (its email, its phone number): a filter on ``value`` must match it,
one on anything else (``type``, ``primary``: not kept) matches it. ``add`` and ``replace`` of a
complex attribute change the sub-attributes sent and leave the others (§3.5.2.1, §3.5.2.3).
Operations on attributes Tenantry does not keep (extension schemas among them) change nothing, as
for POST and PUT, and cost nothing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tenantry.protocols.scim.errors import ScimError, invalid_value
from tenantry.protocols.scim.users import KEPT_ATTRIBUTES, USER_SCHEMA

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = 100
_PATH = re.compile(r"([A-Za-z][\w$-]*)(?:\[([^\]]*)\])?(?:\.([A-Za-z][\w$-]*))?", re.ASCII)
_VALUE_FILTER = re.compile(r"\s*value\s+eq\s+\"((?:[^\"\\]|\\.)*)\"\s*", re.IGNORECASE)


def apply_patch(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a PatchOp object", "invalidSyntax")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    if len(operations) > MAX_OPERATIONS:
        raise ScimError(400, f"At most {MAX_OPERATIONS} operations", "invalidSyntax")
    result = copy.deepcopy(resource)
    for operation in operations:
        _apply(result, operation)
    return result


def _apply(resource: dict[str, Any], operation: Any) -> None:
    if not isinstance(operation, dict):
        raise ScimError(400, "Each operation must be an object", "invalidSyntax")
    op = operation.get("op")
    op = op.lower() if isinstance(op, str) else op
    if op not in ("add", "replace", "remove"):
        raise ScimError(400, f"Unknown operation {operation.get('op')!r}", "invalidSyntax")
    path = operation.get("path")
    value = operation.get("value")
    if path is None:
        if op == "remove":
            raise ScimError(400, "remove needs a path", "noTarget")
        if not isinstance(value, dict):
            raise invalid_value("An operation without a path needs an object value")
        for name, item in value.items():
            if isinstance(name, str) and _kept(name):
                _set(resource, _parse(name), item, op)
        return
    if not isinstance(path, str):
        raise ScimError(400, "path must be a string", "invalidPath")
    target = _parse(path)
    if not _kept(path):
        return
    if op == "remove":
        _remove(resource, target)
    else:
        _set(resource, target, value, op)


class _Target:
    def __init__(self, attribute: str, selector: str | None, sub: str | None) -> None:
        self.attribute, self.selector, self.sub = attribute, selector, sub


def _parse(path: str) -> _Target | None:
    """The path's target, or None for an attribute of another schema (ignored)."""
    if path.lower().startswith("urn:"):
        prefix = USER_SCHEMA.lower() + ":"
        if not path.lower().startswith(prefix):
            return None
        path = path[len(prefix) :]
    match = _PATH.fullmatch(path.strip())
    if match is None:
        raise ScimError(400, f"Invalid path {path!r}", "invalidPath")
    return _Target(match.group(1), match.group(2), match.group(3))


def _kept(path: str) -> bool:
    """Whether the path's attribute is one Tenantry keeps (its core-schema URN allowed)."""
    lowered = path.lower()
    prefix = USER_SCHEMA.lower() + ":"
    if lowered.startswith(prefix):
        lowered = lowered[len(prefix) :]
    return re.split(r"[\[.]", lowered, maxsplit=1)[0].strip() in KEPT_ATTRIBUTES


def _selected(items: Any, selector: str) -> bool:
    """Whether a value filter selects the one value kept."""
    match = _VALUE_FILTER.fullmatch(selector)
    if match is None or not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return True
    current = items[0].get("value")
    wanted = match.group(1).replace('\\"', '"')
    return isinstance(current, str) and current.lower() == wanted.lower()


def _key(resource: dict[str, Any], name: str) -> str:
    """The resource's own spelling of ``name`` (attribute names are case-insensitive)."""
    return next((key for key in resource if key.lower() == name.lower()), name)


def _set(resource: dict[str, Any], target: _Target | None, value: Any, op: str) -> None:
    if target is None:
        return
    key = _key(resource, target.attribute)
    if target.selector is not None:
        items = resource.get(key)
        if isinstance(items, list) and not _selected(items, target.selector):
            return
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            items = [{}]
        first = dict(items[0])
        if target.sub is None:
            if not isinstance(value, dict):
                raise invalid_value(f"{target.attribute}[…] needs an object value")
            first.update(value)
        else:
            first[_key(first, target.sub)] = value
        resource[key] = [first, *items[1:]]
        return
    if target.sub is not None:
        parent = resource.get(key)
        parent = dict(parent) if isinstance(parent, dict) else {}
        parent[_key(parent, target.sub)] = value
        resource[key] = parent
        return
    current = resource.get(key)
    if op == "add" and isinstance(current, list) and isinstance(value, list):
        resource[key] = current + value
    elif isinstance(current, dict) and isinstance(value, dict):
        resource[key] = {**current, **value}
    else:
        resource[key] = value


def _remove(resource: dict[str, Any], target: _Target | None) -> None:
    if target is None:
        return
    key = _key(resource, target.attribute)
    if key not in resource:
        return
    if target.sub is not None and target.selector is None:
        parent = resource[key]
        if isinstance(parent, dict):
            parent.pop(_key(parent, target.sub), None)
        return
    if target.selector is not None and not _selected(resource[key], target.selector):
        return
    if target.selector is not None and target.sub is not None:
        items = resource[key]
        if isinstance(items, list) and items and isinstance(items[0], dict):
            first = dict(items[0])
            first.pop(_key(first, target.sub), None)
            resource[key] = [first, *items[1:]]
        return
    del resource[key]
