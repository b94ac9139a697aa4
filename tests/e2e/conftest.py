"""End-to-end tests only: plain, quiet logs. structlog's default console renderer prints rich
tracebacks with every local variable, which makes each server error take seconds to log."""

from tenantry.logs import configure_logging

configure_logging(json=False, level="WARNING")
