from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.listing import AUDIT_LISTING
from tenantry.adapters.sql.repositories.base import Repository, aware
from tenantry.core.access import TenantScope
from tenantry.core.audit.model import AuditEvent
from tenantry.core.ports import ListSpec, Page

A = t.audit_events
INSERT_EVENT = DirectStatement(insert(A))  # a row beside nearly every write


def _from_row(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        ip=row.ip,
        user_agent=row.user_agent,
        details=dict(row.details),
    )


class SqlAuditRepository(Repository):
    def add(self, event: AuditEvent) -> None:
        self.write_direct(
            INSERT_EVENT,
            {
                "id": event.id,
                "application_id": self.application_id,
                "tenant_id": event.tenant_id,
                "actor_type": event.actor_type,
                "actor_id": event.actor_id,
                "action": event.action,
                "target_type": event.target_type,
                "target_id": event.target_id,
                "ip": event.ip,
                "user_agent": (event.user_agent or "")[:300] or None,
                "details": event.details,
                "created_at": event.created_at,
            },
        )

    def page(self, spec: ListSpec, scope: TenantScope) -> Page[AuditEvent]:
        """Application-wide events (no tenant) are visible to application-wide readers only."""
        query = select(A).where(A.c.application_id == self.application_id)
        if scope.all_tenants:
            if scope.excluded:
                query = query.where(A.c.tenant_id.is_(None) | A.c.tenant_id.not_in(scope.excluded))
        else:
            query = query.where(A.c.tenant_id.in_(scope.included))
        count, page = AUDIT_LISTING.page(query, spec)
        total = self.connection.execute(count).scalar_one()
        items = [_from_row(r) for r in self.connection.execute(page)] if spec.count else []
        return Page(total, spec.start_index, items)
