"""Identifiers: 26 lowercase base32 characters from 128 random bits, as Wristband's ids look."""

from __future__ import annotations

import base64
import re
import secrets

ID_PATTERN = re.compile(r"^[a-z2-7]{26}$")


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").lower().rstrip("=")


def is_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))


def new_secret(length: int = 48) -> str:
    """A client secret or one-time code: URL-safe, ``length`` characters (at least 32)."""
    if length < 32:
        raise ValueError("secrets are at least 32 characters")
    return secrets.token_urlsafe(length)[:length]
