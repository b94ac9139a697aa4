from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository
from tenantry.core.ids import new_id

P = t.policies


class SqlPolicyRepository(Repository):
    def _where(self, kind: str, tenant_id: str | None) -> Any:
        owner = P.c.tenant_id.is_(None) if tenant_id is None else P.c.tenant_id == tenant_id
        return (P.c.application_id == self.application_id) & (P.c.kind == kind) & owner

    def get(self, kind: str, tenant_id: str | None) -> dict[str, Any] | None:
        row = self.connection.execute(select(P.c.settings).where(self._where(kind, tenant_id))).first()
        return dict(row.settings) if row else None

    def put(self, kind: str, tenant_id: str | None, settings: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        changed = self.connection.execute(
            update(P)
            .where(self._where(kind, tenant_id))
            .values(settings=settings, updated_at=now, version=P.c.version + 1)
        ).rowcount
        if not changed:
            self.write(
                insert(P).values(
                    id=new_id(),
                    application_id=self.application_id,
                    tenant_id=tenant_id,
                    kind=kind,
                    settings=settings,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
