"""Field rules and the password policy."""

from __future__ import annotations

import pytest

from tenantry.core.errors import PasswordPolicyViolation
from tenantry.core.ids import ID_PATTERN, new_id, new_secret
from tenantry.core.tenants.service import domain_name_violations
from tenantry.core.users.passwords import PasswordPolicy
from tenantry.core.users.validation import email_violations, profile_violations

COMMON = {"password1", "letmein"}


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org", "X@EXAMPLE.COM"])
def test_valid_emails(email: str) -> None:
    assert email_violations(email) == []


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("", "required"),
        ("no-at-sign", "invalid_format"),
        ("a@b", "invalid_format"),
        ("a b@c.de", "invalid_format"),
        ("a@b.c\r\nBcc: x@y.z", "invalid_format"),
        ("x" * 190 + "@example.com", "too_long"),
    ],
)
def test_invalid_emails(email: str, code: str) -> None:
    assert [v.code for v in email_violations(email)] == [code]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phoneNumber", "555-1234", "invalid_format"),
        ("phoneNumber", "+15551234567", None),
        ("birthdate", "1990-02-30", "invalid_format"),
        ("birthdate", "1990-02-28", None),
        ("timeZone", "Mars/Olympus", "invalid_format"),
        ("timeZone", "America/New_York", None),
        ("locale", "en-US", None),
        ("locale", "english!", "invalid_format"),
        ("pictureUrl", "javascript:alert(1)", "invalid_format"),
        ("pictureUrl", "https://x.test/a.png", None),
        ("givenName", "x" * 201, "too_long"),
        ("givenName", "", "too_short"),
        ("givenName", "Zoë", None),
        ("nickname", "tab\tname", "invalid_format"),
        ("username", "has space", "invalid_format"),
    ],
)
def test_profile_rules(field: str, value: str, code: str | None) -> None:
    found = profile_violations({field: value})
    assert ([v.code for v in found[field]] if field in found else None) == ([code] if code else None)


def test_none_clears_and_is_not_checked() -> None:
    assert profile_violations({"phoneNumber": None}) == {}


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("short", ["too_short"]),
        ("Password1", ["too_common"]),
        ("alice@example.com", ["matches_email"]),
        ("alice", ["too_short", "matches_email"]),
        ("x" * 300, ["too_long"]),
    ],
)
def test_password_policy_refuses(password: str, codes: list[str]) -> None:
    with pytest.raises(PasswordPolicyViolation) as caught:
        PasswordPolicy().check(password, email="alice@example.com", common=COMMON)
    assert [v.code for v in caught.value.violations["password"]] == codes


def test_password_policy_accepts_a_passphrase() -> None:
    PasswordPolicy().check("correct horse battery staple", email="alice@example.com", common=COMMON)


@pytest.mark.parametrize("name", ["ab", "acme", "Acme-Corp", "a1-b2-c3"])
def test_domain_names_ok(name: str) -> None:
    assert domain_name_violations(name) == []


@pytest.mark.parametrize("name", ["a", "-acme", "acme-", "ac me", "acme.corp", "ü-corp", "x" * 41])
def test_domain_names_refused(name: str) -> None:
    assert domain_name_violations(name) != []


def test_ids_and_secrets() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(ID_PATTERN.match(i) for i in ids)
    assert len(new_secret()) == 48
    with pytest.raises(ValueError):
        new_secret(16)
