from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, insert, select

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository, lookupable, metadata_from, metadata_values
from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
)
from tenantry.core.roles.model import OwnerType

IDP = t.identity_providers
# The provider called ``name`` that a tenant sees: its own first, then the application's.
GET_BY_NAME = (
    select(IDP)
    .where(
        (IDP.c.application_id == bindparam("app_id"))
        & (IDP.c.name_key == bindparam("name_key"))
        & ((IDP.c.owner_id == bindparam("app_id")) | (IDP.c.tenant_id == bindparam("tenant_id")))
    )
    .order_by(case((IDP.c.owner_type == OwnerType.TENANT.value, 0), else_=1))
    .limit(1)
)


def _from_row(row: Any) -> IdentityProvider:
    return IdentityProvider(
        id=row.id,
        application_id=row.application_id,
        owner_type=OwnerType(row.owner_type),
        owner_id=row.owner_id,
        type=IdentityProviderType(row.type),
        name=row.name,
        display_name=row.display_name,
        status=IdentityProviderStatus(row.status),
        jit_provisioning_enabled=row.jit_provisioning_enabled,
        protocol=row.protocol,
        metadata=metadata_from(row),
    )


class SqlIdentityProviderRepository(Repository):
    def _mine(self) -> Any:
        return select(IDP).where(IDP.c.application_id == self.application_id)

    def get(self, provider_id: str) -> IdentityProvider | None:
        if not lookupable(provider_id):
            return None
        row = self.connection.execute(self._mine().where(IDP.c.id == provider_id)).first()
        return _from_row(row) if row else None

    def get_by_name(self, name: str, tenant_id: str | None) -> IdentityProvider | None:
        if not lookupable(name, tenant_id or ""):
            return None
        """The provider called ``name`` that the tenant sees: its own first, then the application's."""
        params = {"app_id": self.application_id, "name_key": name.lower(), "tenant_id": tenant_id or ""}
        row = self.connection.execute(GET_BY_NAME, params).first()
        return _from_row(row) if row else None

    def add(self, provider: IdentityProvider) -> None:
        self.write(
            insert(IDP).values(
                id=provider.id,
                application_id=self.application_id,
                owner_type=provider.owner_type.value,
                owner_id=provider.owner_id,
                tenant_id=provider.owner_id if provider.owner_type is OwnerType.TENANT else None,
                type=provider.type.value,
                name=provider.name,
                name_key=provider.name.lower(),
                display_name=provider.display_name,
                status=provider.status.value,
                jit_provisioning_enabled=provider.jit_provisioning_enabled,
                protocol=provider.protocol,
                **metadata_values(provider.metadata),
            )
        )
