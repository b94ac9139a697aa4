"""Policies: application-level settings that a tenant may override, resolved key by key.

Each kind is a frozen dataclass with defaults; storage keeps only what an owner set, as a JSON
object, and ``resolve`` lays the tenant's override over the application's over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, TypeVar

from tenantry.core.errors import ConstraintViolations, Violation


class PolicyKind(StrEnum):
    SIGNUP = "signup"
    USER_SCHEMA = "user_schema"
    PASSWORD = "password"
    EMAIL = "email"
    ROLE_ASSIGNMENT = "role_assignment"
    SSO_LOGIN = "sso_login"


class Verification(StrEnum):
    ACTIVATION_LINK = "ACTIVATION_LINK"
    ACTIVATION_CODE = "ACTIVATION_CODE"
    EMAIL_VERIFICATION = "EMAIL_VERIFICATION"


class SsoEmailVerification(StrEnum):
    """What happens when an enterprise IdP signs a user in with an email it does not vouch for."""

    EMAIL_LINK = "EMAIL_LINK"  # send the email-verification link (the user is signed in meanwhile)
    NONE = "NONE"


SCHEMA_FIELDS = ("username", "fullName", "givenName", "familyName", "phoneNumber", "birthdate")


@dataclass(frozen=True, slots=True)
class SignupPolicy:
    verification: Verification = Verification.ACTIVATION_LINK
    custom_redirect_url: str | None = None


@dataclass(frozen=True, slots=True)
class UserSchemaPolicy:
    required_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PasswordPolicySettings:
    min_length: int = 8


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    """Per email kind: where its action link points (``None``: the hosted page) and how long
    it lives."""

    activation_minutes: int = 1440
    verification_minutes: int = 1440
    reset_password_minutes: int = 60
    invitation_minutes: int = 10080
    activation_url: str | None = None
    verification_url: str | None = None
    reset_password_url: str | None = None
    invitation_url: str | None = None


@dataclass(frozen=True, slots=True)
class RoleAssignmentPolicy:
    """Roles (by name) given to users created by application-level signup (the tenant's first
    user) and by every other onboarding path."""

    application_signup_roles: tuple[str, ...] = ("tenant-admin",)
    default_roles: tuple[str, ...] = ("user",)


@dataclass(frozen=True, slots=True)
class SsoLoginPolicy:
    """The "Enterprise IdP Login (SSO)" workflow policy."""

    email_verification: SsoEmailVerification = SsoEmailVerification.EMAIL_LINK


POLICY_TYPES: dict[PolicyKind, type[Any]] = {
    PolicyKind.SIGNUP: SignupPolicy,
    PolicyKind.USER_SCHEMA: UserSchemaPolicy,
    PolicyKind.PASSWORD: PasswordPolicySettings,
    PolicyKind.EMAIL: EmailPolicy,
    PolicyKind.ROLE_ASSIGNMENT: RoleAssignmentPolicy,
    PolicyKind.SSO_LOGIN: SsoLoginPolicy,
}
P = TypeVar("P")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_json(policy: Any) -> dict[str, Any]:
    return {_camel(f.name): (list(v) if isinstance(v := getattr(policy, f.name), tuple) else v) for f in fields(policy)}


def _coerce(kind: PolicyKind, name: str, value: Any) -> Any:
    """Validate one setting; raises ``ValueError`` with a reason."""
    if value is None:
        return None
    default = getattr(POLICY_TYPES[kind](), name)
    if name == "verification":
        return Verification(value)
    if name == "email_verification":
        return SsoEmailVerification(value)
    if name.endswith("_minutes"):
        if not isinstance(value, int) or isinstance(value, bool) or not 10 <= value <= 10080:
            raise ValueError("between 10 and 10080 minutes")
        return value
    if name == "min_length":
        if not isinstance(value, int) or isinstance(value, bool) or not 6 <= value <= 128:
            raise ValueError("between 6 and 128")
        return value
    if name.endswith("_url"):
        if not isinstance(value, str) or not value.startswith("https://") or len(value) > 2000:
            raise ValueError("an https URL")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
            raise ValueError("a list of names")
        if name == "required_fields" and any(v not in SCHEMA_FIELDS for v in value):
            raise ValueError(f"fields among {', '.join(SCHEMA_FIELDS)}")
        return tuple(dict.fromkeys(value))
    raise ValueError("not a setting")


def parse_settings(kind: PolicyKind, document: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form (snake_case keys) of a camelCase document, or field violations."""
    by_camel = {_camel(f.name): f.name for f in fields(POLICY_TYPES[kind])}
    parsed: dict[str, Any] = {}
    violations: dict[str, list[Violation]] = {}
    for key, value in document.items():
        name = by_camel.get(key)
        if name is None:
            violations[key] = [Violation("unknown_field")]
            continue
        try:
            parsed[name] = _coerce(kind, name, value)
        except ValueError as error:
            violations[key] = [Violation("invalid_value", {"expected": str(error)})]
    if violations:
        raise ConstraintViolations(violations, f"Invalid {kind.value} policy")
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in parsed.items()}


def resolve(kind: PolicyKind, *layers: Mapping[str, Any] | None) -> Any:
    """Defaults, then each layer (application, then tenant) in order; ``None`` values in a layer
    mean "not set here"."""
    policy = POLICY_TYPES[kind]()
    for layer in layers:
        if not layer:
            continue
        values = {k: _coerce(kind, k, v) for k, v in layer.items() if v is not None and hasattr(policy, k)}
        policy = replace(policy, **values)
    return policy
