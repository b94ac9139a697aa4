"""Field rules of an external identity provider's wire document, with the wire field names.

Each reader returns the clean value and adds what is wrong to a violations map, so one request
gets every problem back at once. The ``protocol`` object is checked by
:mod:`tenantry.core.identity_providers.settings`; here it is only narrowed to the keys its
protocol reads (derived values such as ``redirectUrl`` or ``acsUrl`` are never stored)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tenantry.core.errors import Violation
from tenantry.core.identity_providers.model import (
    BUILT_IN_NAME,
    IdentityProviderStatus,
    IdentityProviderType,
    ProtocolType,
)
from tenantry.core.text import text_violation

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])$")
DISPLAY_NAME_MAX = 200
DOMAIN_NAME_MAX = 253
MAX_EMAIL_DOMAINS = 20
MAX_ROLE_MAPPINGS = 50
MAX_ROLES_PER_GROUP = 20
MAX_GROUP_LENGTH = 500
# A DNS name of two labels or more, lower case, with an alphabetic top-level label.
DNS_NAME = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Mailbox providers anyone can sign up with: routing one of them to a single company's IdP would
# send strangers to that IdP (and let one tenant capture every such address), so they are refused.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "fastmail.com",
    }
)
CREATABLE_TYPES = tuple(t for t in IdentityProviderType if t is not IdentityProviderType.WRISTBAND)
DEFAULT_DISPLAY_NAMES: Mapping[IdentityProviderType, str] = {
    IdentityProviderType.OIDC: "OpenID Connect",
    IdentityProviderType.SAML2: "SAML 2.0",
    IdentityProviderType.OKTA: "Okta",
    IdentityProviderType.AZURE_AD: "Microsoft Entra ID",
    IdentityProviderType.GOOGLE_WORKSPACE: "Google Workspace",
}
OIDC_KEYS = ("issuer", "clientId", "clientSecret", "scopes", "claimMapping")
SAML_KEYS = (
    "idpEntityId",
    "idpSsoUrl",
    "idpSigningCerts",
    "idpMetadataUrl",
    "allowIdpInitiatedSso",
    "signAuthnRequests",
    "wantAssertionsSigned",
    "wantResponseSigned",
    "attributeMapping",
)
SECRET_KEYS = ("clientSecret",)

Violations = dict[str, list[Violation]]


def _add(found: Violations, name: str, code: str, **attributes: str) -> None:
    found.setdefault(name, []).append(Violation(code, attributes))


def read_name(value: Any, found: Violations) -> str | None:
    if value is None:
        _add(found, "name", "required")
        return None
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        _add(found, "name", "invalid_format", pattern=NAME_PATTERN.pattern)
        return None
    if value == BUILT_IN_NAME:
        _add(found, "name", "reserved")
        return None
    return value


def read_type(value: Any, found: Violations) -> IdentityProviderType | None:
    allowed = ",".join(t.value for t in CREATABLE_TYPES)
    if value is None:
        _add(found, "type", "required")
        return None
    if not isinstance(value, str) or value not in {t.value for t in CREATABLE_TYPES}:
        _add(found, "type", "invalid_value", allowedValues=allowed)
        return None
    return IdentityProviderType(value)


def read_display_name(value: Any, found: Violations) -> str | None:
    if not isinstance(value, str):
        _add(found, "displayName", "not_null" if value is None else "invalid_type")
        return None
    if problem := text_violation(value, max_length=DISPLAY_NAME_MAX):
        found.setdefault("displayName", []).append(problem)
        return None
    return value.strip()


def read_domain_name(value: Any, found: Violations) -> str | None:
    """Wristband's free-form ``domainName`` (e.g. the Okta org host); ``None`` clears it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        _add(found, "domainName", "invalid_type")
        return None
    if problem := text_violation(value, max_length=DOMAIN_NAME_MAX):
        found.setdefault("domainName", []).append(problem)
        return None
    return value.strip()


def read_status(value: Any, found: Violations) -> IdentityProviderStatus | None:
    if not isinstance(value, str) or value not in IdentityProviderStatus.__members__:
        _add(found, "status", "invalid_value", allowedValues="ENABLED,DISABLED")
        return None
    return IdentityProviderStatus(value)


def read_flag(name: str, value: Any, found: Violations) -> bool | None:
    if not isinstance(value, bool):
        _add(found, name, "not_null" if value is None else "invalid_type")
        return None
    return value


def read_email_domains(value: Any, found: Violations) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _add(found, "emailDomains", "invalid_type")
        return None
    if len(value) > MAX_EMAIL_DOMAINS:
        _add(found, "emailDomains", "too_many", maxItems=str(MAX_EMAIL_DOMAINS))
        return None
    domains = list(dict.fromkeys(v.strip().lower().rstrip(".") for v in value))
    bad = [d for d in domains if not DNS_NAME.match(d)]
    public = [d for d in domains if d in PUBLIC_EMAIL_DOMAINS]
    if bad:
        _add(found, "emailDomains", "invalid_format", values=",".join(bad)[:500])
    if public:
        _add(found, "emailDomains", "public_email_domain", values=",".join(public))
    return None if bad or public else tuple(domains)


def read_role_mappings(value: Any, found: Violations) -> list[tuple[str, tuple[str, ...]]] | None:
    """``[{group, roleIds}]`` as (group, role ids); whether the roles exist is checked by the caller."""
    if value is None:
        return []
    if not isinstance(value, list):
        _add(found, "roleMappings", "invalid_type")
        return None
    if len(value) > MAX_ROLE_MAPPINGS:
        _add(found, "roleMappings", "too_many", maxItems=str(MAX_ROLE_MAPPINGS))
        return None
    result: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"roleMappings[{index}]"
        group = item.get("group") if isinstance(item, dict) else None
        role_ids = item.get("roleIds") if isinstance(item, dict) else None
        if not isinstance(group, str) or text_violation(group, max_length=MAX_GROUP_LENGTH):
            _add(found, f"{where}.group", "invalid_value", maxLength=str(MAX_GROUP_LENGTH))
            continue
        if group.strip() in seen:
            _add(found, f"{where}.group", "not_unique")
            continue
        if (
            not isinstance(role_ids, list)
            or not role_ids
            or len(role_ids) > MAX_ROLES_PER_GROUP
            or not all(isinstance(r, str) and r for r in role_ids)
        ):
            _add(found, f"{where}.roleIds", "invalid_value", maxItems=str(MAX_ROLES_PER_GROUP))
            continue
        seen.add(group.strip())
        result.append((group.strip(), tuple(dict.fromkeys(role_ids))))
    return result


def protocol_type_of(
    provider_type: IdentityProviderType, protocol: Mapping[str, Any], found: Violations
) -> ProtocolType | None:
    """OIDC and SAML2 are fixed; the presets speak OIDC unless ``protocol.type`` says SAML2."""
    given = protocol.get("type")
    fixed = {IdentityProviderType.OIDC: ProtocolType.OIDC, IdentityProviderType.SAML2: ProtocolType.SAML2}
    if provider_type in fixed:
        expected = fixed[provider_type]
        if given is not None and given != expected.value:
            _add(found, "protocol.type", "invalid_value", allowedValues=expected.value)
            return None
        return expected
    if given is None:
        return ProtocolType.OIDC
    if not isinstance(given, str) or given not in ProtocolType.__members__:
        _add(found, "protocol.type", "invalid_value", allowedValues="OIDC,SAML2")
        return None
    return ProtocolType(given)


def stored_protocol(protocol_type: ProtocolType, protocol: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys this protocol reads, strings stripped; ``None`` values dropped."""
    keys = OIDC_KEYS if protocol_type is ProtocolType.OIDC else SAML_KEYS
    kept: dict[str, Any] = {"type": protocol_type.value}
    for key in keys:
        value = protocol.get(key)
        if value is None:
            continue
        kept[key] = value.strip() if isinstance(value, str) else value
    return kept
