"""Lifetimes and thresholds of the login machinery (from ``Settings``, built in bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthSettings:
    session_idle_seconds: int = 8 * 3600
    session_absolute_seconds: int = 30 * 86400
    code_seconds: int = 120
    access_token_seconds: int = 3600
    refresh_token_seconds: int = 30 * 86400
    lockout_threshold: int = 10
    lockout_seconds: int = 900
