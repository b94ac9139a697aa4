"""The one error tree of Tenantry's core.

Every error the use cases raise is a ``TenantryError`` with a stable, machine-readable ``code``
(the ``code`` of Wristband's error JSON). Which HTTP status each class means is decided in exactly
one place, ``tenantry.web.errors``; the core never speaks HTTP.

    TenantryError
    ├── NotFound                 user_not_found, tenant_not_found, role_not_found, ...
    ├── InvalidRequest           invalid_request (a request that cannot be understood)
    ├── ConstraintViolations     message_body_constraint_violations (+ per-field violations)
    ├── InvalidState             the entity is not in a state that allows the action
    ├── Unauthenticated          missing / invalid / expired credentials
    └── Forbidden                authenticated, but a permission or boundary is missing
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class TenantryError(Exception):
    code = "error"
    default_message = "The request failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(TenantryError):
    code = "not_found"

    def __init__(self, kind: str, identifier: str) -> None:
        self.kind = kind
        self.identifier = identifier
        self.code = f"{kind}_not_found"
        label = kind.replace("_", " ").capitalize()
        super().__init__(f"{label} [{identifier}] could not be found")


class InvalidRequest(TenantryError):
    code = "invalid_request"
    default_message = "The request is invalid"


class InvalidState(TenantryError):
    """The action is not allowed in the entity's current state (e.g. a user that is not active)."""

    code = "invalid_state"

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ChangedMeanwhile(TenantryError):
    """The entity changed since the caller read it (optimistic concurrency): read it again."""

    code = "changed_meanwhile"
    default_message = "The resource changed while this request was being applied; retry"


@dataclass(frozen=True)
class Violation:
    code: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class ConstraintViolations(TenantryError):
    """Field-level violations; ``where`` says whether they concern the body, query or path."""

    code = "message_body_constraint_violations"

    def __init__(
        self,
        violations: Mapping[str, Sequence[Violation]],
        message: str = "Field violations detected",
        where: str = "message_body",
    ) -> None:
        self.violations = {k: list(v) for k, v in violations.items()}
        self.code = f"{where}_constraint_violations"
        super().__init__(message)

    @classmethod
    def single(cls, field_name: str, code: str, message: str, **attributes: str) -> ConstraintViolations:
        return cls({field_name: [Violation(code, attributes)]}, message)


class Unauthenticated(TenantryError):
    code = "unauthorized"
    default_message = "Missing, invalid or expired access token"


class Forbidden(TenantryError):
    code = "forbidden"
    default_message = "The caller lacks the permission required for this request"


class PasswordPolicyViolation(ConstraintViolations):
    def __init__(self, field_name: str, reasons: Sequence[Violation]) -> None:
        super().__init__({field_name: reasons}, "The password does not satisfy the password policy")
