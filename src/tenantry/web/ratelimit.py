"""Rate limits on the hosted pages' sensitive forms, per client IP and per identifier (the
``limits`` library; in memory per process, or shared through Redis with TENANTRY_REDIS_URL).

They complement the per-account lockout stored in the database (``core.auth.login``): the
lockout protects one account on every node, these slow down one client spraying many."""

from __future__ import annotations

from fastapi import Request
from limits import RateLimitItem, parse, storage, strategies

from tenantry.settings import Settings

DEFAULT_RULES: dict[str, str] = {
    "login_ip": "60/minute",
    "login_identifier": "10/minute",
    "signup_ip": "20/minute",
    "discovery_ip": "20/minute",
    "discovery_email": "5/minute",
    "forgot_ip": "20/minute",
    "forgot_email": "5/minute",
    "otp_ip": "30/minute",
}


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._storage = storage.storage_from_string(settings.redis_url or "memory://")
        self._limiter = strategies.MovingWindowRateLimiter(self._storage)
        rules = {**DEFAULT_RULES, **settings.rate_limits}
        self._rules: dict[str, RateLimitItem] = {name: parse(rule) for name, rule in rules.items()}
        self.enabled = settings.rate_limit_enabled

    def allow(self, rule: str, *keys: str) -> bool:
        """Count one hit on ``rule`` for ``keys``; False once the rule's budget is spent."""
        if not self.enabled:
            return True
        return bool(self._limiter.hit(self._rules[rule], rule, *(k.lower()[:320] for k in keys)))


def client_ip(request: Request) -> str:
    """The peer address (uvicorn has already applied trusted proxy headers, if any)."""
    return request.client.host if request.client else "unknown"
