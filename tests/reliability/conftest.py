"""Reliability and security tests: plain, quiet logs (as in tests/e2e), since fuzzing makes many
failing requests and the default console renderer is slow on each one."""

from tenantry.logs import configure_logging

configure_logging(json=False, level="WARNING")
