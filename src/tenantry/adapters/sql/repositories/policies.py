from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.repositories.base import Repository, lookupable
from tenantry.core.ids import new_id

P = t.policies
# Every policy of the application's layer, or of one tenant's: a signup consults five kinds in
# both layers (password, signup, verification, role assignment, ...), ten reads one by one.
APPLICATION_LAYER = DirectStatement(
    select(P.c.kind, P.c.settings).where((P.c.application_id == bindparam("app")) & P.c.tenant_id.is_(None))
)
TENANT_LAYER = DirectStatement(
    select(P.c.kind, P.c.settings).where(
        (P.c.application_id == bindparam("app")) & (P.c.tenant_id == bindparam("tenant"))
    )
)


class SqlPolicyRepository(Repository):
    """Reads a layer (the application's, or one tenant's) once per unit of work: a transaction
    sees its policies as they were when it first looked, and its own ``put``s."""

    def __init__(self, connection: Connection, application_id: str) -> None:
        super().__init__(connection, application_id)
        self._layers: dict[str | None, dict[str, Any]] = {}

    def _where(self, kind: str, tenant_id: str | None) -> Any:
        owner = P.c.tenant_id.is_(None) if tenant_id is None else P.c.tenant_id == tenant_id
        return (P.c.application_id == self.application_id) & (P.c.kind == kind) & owner

    def get(self, kind: str, tenant_id: str | None) -> dict[str, Any] | None:
        layer = self._layers.get(tenant_id)
        if layer is None:
            if tenant_id is not None and not lookupable(tenant_id):
                return None
            params = {"app": self.application_id, "tenant": tenant_id}
            rows = (APPLICATION_LAYER if tenant_id is None else TENANT_LAYER).execute(self.connection, params)
            layer = self._layers[tenant_id] = {row.kind: row.settings for row in rows}
        found = layer.get(kind)
        return dict(found) if found is not None else None

    def put(self, kind: str, tenant_id: str | None, settings: dict[str, Any]) -> None:
        self._layers.pop(tenant_id, None)
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
