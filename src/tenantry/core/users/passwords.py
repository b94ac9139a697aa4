"""The password policy: length bounds, not the email, not a commonly used password."""

from __future__ import annotations

from dataclasses import dataclass

from tenantry.core.errors import PasswordPolicyViolation, Violation
from tenantry.core.ports import CommonPasswords


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 256

    def check(self, password: str, *, email: str, common: CommonPasswords, field: str = "password") -> None:
        reasons: list[Violation] = []
        if len(password) < self.min_length:
            reasons.append(Violation("too_short", {"minLength": str(self.min_length)}))
        if len(password) > self.max_length:
            reasons.append(Violation("too_long", {"maxLength": str(self.max_length)}))
        lowered = password.lower()
        if email and (lowered == email.lower() or lowered == email.split("@", 1)[0].lower()):
            reasons.append(Violation("matches_email"))
        if lowered in common:
            reasons.append(Violation("too_common"))
        if reasons:
            raise PasswordPolicyViolation(field, reasons)
