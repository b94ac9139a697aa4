from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.listing import CLIENT_LISTING
from tenantry.adapters.sql.repositories.base import Repository, lookupable, metadata_from, metadata_values
from tenantry.core.access import TenantScope
from tenantry.core.clients.model import Client, ClientType
from tenantry.core.ports import ListSpec, Page

C = t.clients
CR = t.client_roles


class SqlClientRepository(Repository):
    def _mine(self) -> Any:
        return select(C).where(C.c.application_id == self.application_id)

    def _from_row(self, row: Any) -> Client:
        role_ids = self.connection.execute(select(CR.c.role_id).where(CR.c.client_id == row.id)).scalars()
        return Client(
            id=row.id,
            application_id=row.application_id,
            tenant_id=row.tenant_id,
            name=row.name,
            type=ClientType(row.type),
            secret_hash=row.secret_hash,
            redirect_uris=list(row.redirect_uris),
            login_url=row.login_url,
            metadata=metadata_from(row),
            role_ids=sorted(role_ids),
        )

    def get(self, client_id: str) -> Client | None:
        if not lookupable(client_id):
            return None
        row = self.connection.execute(self._mine().where(C.c.id == client_id)).first()
        return self._from_row(row) if row else None

    def find_by_name(self, name: str) -> Client | None:
        if not lookupable(name):
            return None
        query = self._mine().where(C.c.name == name).order_by(C.c.created_at).limit(1)
        row = self.connection.execute(query).first()
        return self._from_row(row) if row else None

    def add(self, client: Client) -> None:
        client.application_id = self.application_id
        self.write(
            insert(C).values(
                id=client.id,
                application_id=self.application_id,
                tenant_id=client.tenant_id,
                name=client.name,
                type=client.type.value,
                secret_hash=client.secret_hash,
                redirect_uris=client.redirect_uris,
                login_url=client.login_url,
                **metadata_values(client.metadata),
            )
        )
        if client.role_ids:
            self.write(insert(CR), [{"client_id": client.id, "role_id": rid} for rid in client.role_ids])

    def update(self, client: Client) -> None:
        mine = (C.c.id == client.id) & (C.c.application_id == self.application_id)
        values = {
            "name": client.name,
            "secret_hash": client.secret_hash,
            "redirect_uris": client.redirect_uris,
            "login_url": client.login_url,
            **metadata_values(client.metadata),
        }
        self.write(update(C).where(mine).values(**values))

    def delete(self, client_id: str) -> None:
        self.write(delete(C).where((C.c.id == client_id) & (C.c.application_id == self.application_id)))

    def page(self, spec: ListSpec, scope: TenantScope) -> Page[Client]:
        query = self._mine()
        if scope.all_tenants:
            if scope.excluded:
                query = query.where(C.c.tenant_id.is_(None) | C.c.tenant_id.not_in(scope.excluded))
        else:
            query = query.where(C.c.tenant_id.in_(scope.included))
        count, page = CLIENT_LISTING.page(query, spec)
        total = self.connection.execute(count).scalar_one()
        items = [self._from_row(r) for r in self.connection.execute(page)] if spec.count else []
        return Page(total, spec.start_index, items)
