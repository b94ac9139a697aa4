from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.listing import TENANT_LISTING
from tenantry.adapters.sql.repositories.base import Repository, lookupable, metadata_from, metadata_values, scope_clause
from tenantry.core.access import TenantScope
from tenantry.core.ports import ListSpec, Page
from tenantry.core.tenants.model import Tenant, TenantStatus, TenantType

T = t.tenants
GET_TENANT = DirectStatement(
    select(T).where((T.c.id == bindparam("tenant_id")) & (T.c.application_id == bindparam("app_id")))
)


def tenant_from_row(row: Any) -> Tenant:
    return Tenant(
        id=row.id,
        application_id=row.application_id,
        domain_name=row.domain_name,
        display_name=row.display_name,
        description=row.description,
        logo_url=row.logo_url,
        signup_enabled=row.signup_enabled,
        type=TenantType(row.type),
        status=TenantStatus(row.status),
        public_metadata=row.public_metadata,
        restricted_metadata=row.restricted_metadata,
        metadata=metadata_from(row),
        custom_domain=row.custom_domain,
    )


def _values(tenant: Tenant) -> dict[str, Any]:
    return {
        "display_name": tenant.display_name,
        "description": tenant.description,
        "logo_url": tenant.logo_url,
        "custom_domain": tenant.custom_domain,
        "signup_enabled": tenant.signup_enabled,
        "status": tenant.status.value,
        "public_metadata": tenant.public_metadata,
        "restricted_metadata": tenant.restricted_metadata,
        **metadata_values(tenant.metadata),
    }


class SqlTenantRepository(Repository):
    def _mine(self) -> Any:
        return select(T).where(T.c.application_id == self.application_id)

    def get(self, tenant_id: str) -> Tenant | None:
        if not lookupable(tenant_id):
            return None
        rows = GET_TENANT.execute(self.connection, {"tenant_id": tenant_id, "app_id": self.application_id})
        return tenant_from_row(rows[0]) if rows else None

    def get_by_domain_name(self, domain_name: str) -> Tenant | None:
        if not lookupable(domain_name):
            return None
        row = self.connection.execute(self._mine().where(T.c.domain_key == domain_name.lower())).first()
        return tenant_from_row(row) if row else None

    def add(self, tenant: Tenant) -> None:
        self.write(
            insert(T).values(
                id=tenant.id,
                application_id=self.application_id,
                domain_name=tenant.domain_name,
                domain_key=tenant.domain_name.lower(),
                type=tenant.type.value,
                **_values(tenant),
            )
        )

    def update(self, tenant: Tenant) -> None:
        mine = (T.c.id == tenant.id) & (T.c.application_id == self.application_id)
        self.write(update(T).where(mine).values(**_values(tenant)))

    def delete(self, tenant_id: str) -> None:
        mine = (T.c.id == tenant_id) & (T.c.application_id == self.application_id)
        if self.write(delete(T).where(mine)).rowcount:
            # The triggers on ``users`` keep counting a tenant's users as they cascade away: its
            # counts go with it (their sum is zero by now).
            self.connection.execute(delete(t.user_counts).where(t.user_counts.c.tenant_id == tenant_id))

    def page(self, spec: ListSpec, scope: TenantScope) -> Page[Tenant]:
        count, page = TENANT_LISTING.page(self._mine().where(scope_clause(T.c.id, scope)), spec)
        total = self.connection.execute(count).scalar_one()
        items = [tenant_from_row(r) for r in self.connection.execute(page)] if spec.count else []
        return Page(total, spec.start_index, items)

    def ids_with_status(self, status: str) -> list[str]:
        query = select(T.c.id).where((T.c.application_id == self.application_id) & (T.c.status == status))
        return list(self.connection.execute(query).scalars())
