"""Invitation requests: new-user invitations (the invitee has no account yet) and existing-user
invitations (an admin-made account whose owner takes it over).

    PENDING_INVITE_ACCEPTANCE ──accept──▶ COMPLETED
          │   └──(LINK, unverified email)──▶ PENDING_EMAIL_VERIFICATION ──verify──▶ COMPLETED
          ├──cancel / re-invite──▶ CANCELED
          └──time passes──▶ EXPIRED (when read, and by the periodic sweep)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tenantry.core.model import EntityMetadata


class InvitationKind(StrEnum):
    NEW_USER = "NEW_USER"
    EXISTING_USER = "EXISTING_USER"


class InvitationType(StrEnum):
    EMAIL = "EMAIL"
    LINK = "LINK"


class InvitationStatus(StrEnum):
    PENDING_INVITE_ACCEPTANCE = "PENDING_INVITE_ACCEPTANCE"
    PENDING_EMAIL_VERIFICATION = "PENDING_EMAIL_VERIFICATION"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


@dataclass(slots=True)
class Invitation:
    id: str
    application_id: str
    tenant_id: str
    kind: InvitationKind
    invitation_type: InvitationType
    email: str | None
    user_id: str | None
    roles_to_assign: list[str]
    language: str | None
    invited_by: str | None
    status: InvitationStatus
    expires_at: datetime
    metadata: EntityMetadata
    completed_user_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def status_at(self, now: datetime) -> InvitationStatus:
        """Pending invitations past their time read as EXPIRED even before the sweep runs."""
        if self.status is InvitationStatus.PENDING_INVITE_ACCEPTANCE and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return self.status

    def is_open(self, now: datetime) -> bool:
        return self.status_at(now) is InvitationStatus.PENDING_INVITE_ACCEPTANCE
