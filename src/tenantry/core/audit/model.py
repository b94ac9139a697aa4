"""The audit log: who did what, to which resource, in which tenant, when, and from where.

Events are written in the same transaction as the change they describe, so the log never
claims a change that was rolled back. "From where" (address, user agent) is set per request by
the web layer through ``current_origin``; background work and the CLI leave it empty.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenantry.core.access import Principal


@dataclass(frozen=True, slots=True)
class Origin:
    ip: str | None
    user_agent: str | None


current_origin: ContextVar[Origin | None] = ContextVar("tenantry_origin", default=None)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: str
    application_id: str
    tenant_id: str | None
    actor_type: str  # client | user | admin | operator | directory | anonymous
    actor_id: str | None
    action: str  # e.g. user.created, invitation.accepted, login.failed
    target_type: str | None
    target_id: str | None
    created_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def actor_of(principal: Principal | None) -> tuple[str, str | None]:
    if principal is None:
        return "anonymous", None
    return principal.kind, principal.subject
