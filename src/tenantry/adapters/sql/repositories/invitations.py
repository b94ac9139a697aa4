from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.listing import INVITATION_LISTING
from tenantry.adapters.sql.repositories.base import (
    Repository,
    aware,
    lookupable,
    metadata_from,
    metadata_values,
    scope_clause,
)
from tenantry.core.access import TenantScope
from tenantry.core.invitations.model import Invitation, InvitationKind, InvitationStatus, InvitationType
from tenantry.core.ports import ListSpec, Page

I = t.invitations  # noqa: E741
PENDING = InvitationStatus.PENDING_INVITE_ACCEPTANCE.value
GET = select(I).where((I.c.id == bindparam("id")) & (I.c.application_id == bindparam("app_id")))
# Every acceptance reads its invitation by code and moves it on conditionally (``direct.py``).
BY_CODE_HASH = DirectStatement(
    select(I).where((I.c.code_hash == bindparam("code_hash")) & (I.c.application_id == bindparam("app_id")))
)
_MOVABLE = (I.c.id == bindparam("id")) & (I.c.application_id == bindparam("app_id")) & (I.c.status == bindparam("from"))
_MOVED = {"status": bindparam("to"), "updated_at": bindparam("now"), "version": I.c.version + 1}
TRANSITION = DirectStatement(update(I).where(_MOVABLE).values(**_MOVED))
TRANSITION_COMPLETED = DirectStatement(
    update(I).where(_MOVABLE).values(**_MOVED, completed_user_id=bindparam("completed_user_id"))
)


def _from_row(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        kind=InvitationKind(row.kind),
        invitation_type=InvitationType(row.invitation_type),
        email=row.email,
        user_id=row.user_id,
        roles_to_assign=list(row.roles_to_assign),
        language=row.language,
        invited_by=row.invited_by,
        status=InvitationStatus(row.status),
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
        metadata=metadata_from(row),
        completed_user_id=row.completed_user_id,
    )


class SqlInvitationRepository(Repository):
    def add(self, invitation: Invitation, code_hash: str) -> None:
        self.write(
            insert(I).values(
                id=invitation.id,
                application_id=self.application_id,
                tenant_id=invitation.tenant_id,
                kind=invitation.kind.value,
                invitation_type=invitation.invitation_type.value,
                email=invitation.email,
                email_key=invitation.email.lower() if invitation.email else None,
                user_id=invitation.user_id,
                roles_to_assign=invitation.roles_to_assign,
                language=invitation.language,
                invited_by=invitation.invited_by,
                code_hash=code_hash,
                status=invitation.status.value,
                expires_at=invitation.expires_at,
                **metadata_values(invitation.metadata),
            )
        )

    def get(self, invitation_id: str) -> Invitation | None:
        if not lookupable(invitation_id):
            return None
        row = self.connection.execute(GET, {"id": invitation_id, "app_id": self.application_id}).first()
        return _from_row(row) if row else None

    def get_by_code_hash(self, code_hash: str) -> Invitation | None:
        rows = BY_CODE_HASH.execute(self.connection, {"code_hash": code_hash, "app_id": self.application_id})
        return _from_row(rows[0]) if rows else None

    def _cancel(self, where: Any, now: datetime) -> int:
        """Pending invitations past their time become EXPIRED (not CANCELED); the rest CANCELED."""
        pending = where & (I.c.status == PENDING)
        expired = {"status": InvitationStatus.EXPIRED.value, "updated_at": now, "version": I.c.version + 1}
        self.connection.execute(update(I).where(pending & (I.c.expires_at <= now)).values(**expired))
        canceled = {"status": InvitationStatus.CANCELED.value, "updated_at": now, "version": I.c.version + 1}
        return self.connection.execute(update(I).where(pending).values(**canceled)).rowcount

    def cancel_pending_for_email(self, tenant_id: str, email: str, now: datetime) -> int:
        mine = (I.c.tenant_id == tenant_id) & (I.c.kind == InvitationKind.NEW_USER.value)
        return self._cancel(mine & (I.c.email_key == email.lower()), now)

    def cancel_pending_for_user(self, user_id: str, now: datetime) -> int:
        return self._cancel((I.c.user_id == user_id) & (I.c.kind == InvitationKind.EXISTING_USER.value), now)

    def transition(
        self, invitation_id: str, from_status: str, to_status: str, now: datetime, completed_user_id: str | None = None
    ) -> bool:
        moved = {"id": invitation_id, "app_id": self.application_id, "from": from_status, "to": to_status, "now": now}
        if completed_user_id is None:
            return TRANSITION.count(self.connection, moved) == 1
        return TRANSITION_COMPLETED.count(self.connection, {**moved, "completed_user_id": completed_user_id}) == 1

    def page(self, spec: ListSpec, kind: str, scope: TenantScope, tenant_id: str | None = None) -> Page[Invitation]:
        query = select(I).where((I.c.application_id == self.application_id) & (I.c.kind == kind))
        query = query.where(scope_clause(I.c.tenant_id, scope))
        if tenant_id is not None:
            query = query.where(I.c.tenant_id == tenant_id)
        count, page = INVITATION_LISTING.page(query, spec)
        total = self.connection.execute(count).scalar_one()
        items = [_from_row(r) for r in self.connection.execute(page)] if spec.count else []
        return Page(total, spec.start_index, items)

    def expire_due(self, now: datetime) -> int:
        due = (I.c.application_id == self.application_id) & (I.c.status == PENDING) & (I.c.expires_at <= now)
        statement = (
            update(I).where(due).values(status=InvitationStatus.EXPIRED.value, updated_at=now, version=I.c.version + 1)
        )
        return self.connection.execute(statement).rowcount
