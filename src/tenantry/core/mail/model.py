"""Transactional emails. A use case renders one and adds it to the outbox in the same
transaction as the change that causes it; a dispatcher delivers it later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EmailKind(StrEnum):
    USER_ACTIVATION = "user_activation"
    EMAIL_VERIFICATION = "email_verification"
    TENANT_DISCOVERY = "tenant_discovery"
    FORGOT_PASSWORD = "forgot_password"
    NEW_USER_INVITATION = "new_user_invitation"
    EXISTING_USER_INVITATION = "existing_user_invitation"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class EmailMessage:
    id: str
    kind: EmailKind
    recipient: str
    rendered: RenderedEmail
    created_at: datetime
    application_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class EmailContext:
    """What a template may use: branding plus kind-specific values (links, codes, lists)."""

    application_name: str
    tenant_name: str | None = None
    tenant_logo_url: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A message in the outbox as an administrator sees it (without its bodies)."""

    id: str
    kind: str
    recipient: str
    subject: str
    status: str  # PENDING | SENT | FAILED
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    tenant_id: str | None


OUTBOX_STATUSES = ("PENDING", "SENT", "FAILED")


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    status: str | None = None
    with_error: bool = False
    min_attempts: int = 0
    recipient_prefix: str | None = None
