"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30-second steps.

An administrator's TOTP state is one short text in ``dashboard_admins.totp_secret``:

* ``P:<secret>`` -- enrollment started, not yet confirmed with a code: sign-in does not ask for it;
* ``A:<secret>:<step>`` -- switched on; ``<step>`` is the last time step whose code was accepted, so
  a code (and any older one) works only once.

``<secret>`` is the base32 text the authenticator app is given (20 random bytes, no padding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # accept the previous and the next step too (clock drift, slow typing)


@dataclass(frozen=True, slots=True)
class TotpState:
    secret: str
    active: bool
    last_step: int = -1

    def stored(self) -> str:
        return f"A:{self.secret}:{self.last_step}" if self.active else f"P:{self.secret}"


def parse_state(stored: str | None) -> TotpState | None:
    if not stored:
        return None
    kind, _, rest = stored.partition(":")
    if kind == "P" and rest:
        return TotpState(rest, active=False)
    if kind == "A":
        secret, _, step = rest.partition(":")
        if secret and step.lstrip("-").isdigit():
            return TotpState(secret, active=True, last_step=int(step))
    return None


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The HOTP value (RFC 4226 §5.3) of ``step``."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, now: datetime, after: int = -1) -> int | None:
    """The time step near ``now`` (and later than ``after``) whose code is ``code``, else None."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_of(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > after and hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI that authenticator apps read (from a QR code or pasted)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    fields = {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS}
    query = urlencode(fields, quote_via=quote)  # %20, not "+": some apps show a "+" literally
    return f"otpauth://totp/{label}?{query}"
