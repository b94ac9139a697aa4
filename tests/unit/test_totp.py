"""The dashboard's TOTP against the RFC 6238 appendix B test vectors (SHA-1; we show 6 digits,
the last six of the RFC's eight), and its single-use window rule."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tenantry.core.admins.totp import (
    TotpState,
    code_at,
    matching_step,
    new_secret,
    parse_state,
    provisioning_uri,
    step_of,
)

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode().rstrip("=")


@pytest.mark.parametrize(
    ("unix", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc_6238_vectors(unix: int, eight_digits: str) -> None:
    moment = datetime.fromtimestamp(unix, UTC)
    assert code_at(RFC_SECRET, step_of(moment)) == eight_digits[-6:]


def test_a_code_matches_its_step_and_one_either_side_once() -> None:
    now = datetime(2026, 11, 24, 12, 0, 10, tzinfo=UTC)
    step = step_of(now)
    secret = new_secret()
    assert matching_step(secret, code_at(secret, step), now) == step
    assert matching_step(secret, code_at(secret, step - 1), now) == step - 1
    assert matching_step(secret, code_at(secret, step + 1), now) == step + 1
    assert matching_step(secret, code_at(secret, step - 2), now) is None
    assert matching_step(secret, code_at(secret, step), now, after=step) is None  # used already
    assert matching_step(secret, " ".join([code_at(secret, step)[:3], code_at(secret, step)[3:]]), now) == step
    assert matching_step(secret, "12345a", now) is None and matching_step(secret, "", now) is None


def test_stored_state_round_trips_and_rejects_garbage() -> None:
    secret = new_secret()
    assert len(secret) == 32
    for state in (TotpState(secret, False), TotpState(secret, True, 123)):
        assert parse_state(state.stored()) == state
        assert len(state.stored()) <= 64  # dashboard_admins.totp_secret
    for garbage in (None, "", "X:abc", "A:abc", "A:abc:x", "P:"):
        assert parse_state(garbage) is None


def test_provisioning_uri() -> None:
    uri = provisioning_uri("ABC", "ops@example.com", "Acme Inc")
    assert uri == (
        "otpauth://totp/Acme%20Inc:ops@example.com?secret=ABC&issuer=Acme%20Inc&algorithm=SHA1&digits=6&period=30"
    )
