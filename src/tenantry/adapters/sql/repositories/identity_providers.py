from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, bindparam, case, delete, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.repositories.base import Prefixed, Repository, lookupable, metadata_from, metadata_values
from tenantry.adapters.sql.repositories.tenants import tenant_from_row
from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
    RoleMapping,
)
from tenantry.core.roles.model import OwnerType
from tenantry.core.tenants.model import Tenant

IDP = t.identity_providers
DOMAINS = t.identity_provider_domains
TOGGLES = t.identity_provider_override_toggles


def named_for_tenant(provider: FromClause, *columns: ColumnElement[Any] | FromClause) -> Select[Any]:
    """``columns`` of the provider called ``:name_key`` that tenant ``:tenant_id`` of application
    ``:app_id`` sees: its own first, then the application's."""
    return (
        select(*columns)
        .where(
            (provider.c.application_id == bindparam("app_id"))
            & (provider.c.name_key == bindparam("name_key"))
            & ((provider.c.owner_id == bindparam("app_id")) | (provider.c.tenant_id == bindparam("tenant_id")))
        )
        .order_by(case((provider.c.owner_type == OwnerType.TENANT.value, 0), else_=1))
        .limit(1)
    )


GET_BY_NAME = DirectStatement(named_for_tenant(IDP, IDP))
# Create User's two reads in one round trip: the tenant, and the provider called ``name`` it sees.
TENANT = t.tenants
TENANT_AND_PROVIDER = DirectStatement(
    select(*[c.label(f"t_{c.key}") for c in TENANT.c], *[c.label(f"p_{c.key}") for c in IDP.c])
    .select_from(
        TENANT.outerjoin(
            IDP,
            (IDP.c.application_id == bindparam("app_id"))
            & (IDP.c.name_key == bindparam("name_key"))
            & ((IDP.c.owner_id == bindparam("app_id")) | (IDP.c.tenant_id == TENANT.c.id)),
        )
    )
    .where((TENANT.c.id == bindparam("tenant_id")) & (TENANT.c.application_id == bindparam("app_id")))
    .order_by(case((IDP.c.owner_type == OwnerType.TENANT.value, 0), else_=1))
    .limit(1)
)
# What every login page reads (the tenant's sign-in choices), built once.
VISIBLE_TO_TENANT = DirectStatement(
    select(IDP)
    .where(
        (IDP.c.application_id == bindparam("app_id"))
        & ((IDP.c.owner_id == bindparam("app_id")) | (IDP.c.tenant_id == bindparam("tenant_id")))
    )
    .order_by(case((IDP.c.owner_type == OwnerType.TENANT.value, 0), else_=1), IDP.c.name_key)
)
DOMAINS_OF = (
    select(DOMAINS.c.identity_provider_id, DOMAINS.c.domain_key)
    .where(DOMAINS.c.identity_provider_id.in_(bindparam("ids", expanding=True)))
    .order_by(DOMAINS.c.domain_key)
)
OVERRIDE_TOGGLE = DirectStatement(
    select(TOGGLES.c.status).where(
        (TOGGLES.c.application_id == bindparam("app_id")) & (TOGGLES.c.owner_id == bindparam("owner_id"))
    )
)


def _role_mappings(value: Any) -> tuple[RoleMapping, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        RoleMapping(group=str(item["group"]), role_ids=tuple(str(r) for r in item.get("roleIds", [])))
        for item in value
        if isinstance(item, dict) and "group" in item
    )


def _from_row(row: Any, domains: tuple[str, ...] = ()) -> IdentityProvider:
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
        role_mappings=_role_mappings(row.role_mappings),
        email_domains=domains,
        metadata=metadata_from(row),
    )


def _values(provider: IdentityProvider) -> dict[str, Any]:
    return {
        "type": provider.type.value,
        "name": provider.name,
        "name_key": provider.name.lower(),
        "display_name": provider.display_name,
        "status": provider.status.value,
        "jit_provisioning_enabled": provider.jit_provisioning_enabled,
        "protocol": provider.protocol,
        "role_mappings": [{"group": m.group, "roleIds": list(m.role_ids)} for m in provider.role_mappings],
    }


class SqlIdentityProviderRepository(Repository):
    def _mine(self) -> Any:
        return select(IDP).where(IDP.c.application_id == self.application_id)

    def _with_domains(self, rows: list[Any]) -> list[IdentityProvider]:
        if not rows:
            return []
        domains: dict[str, list[str]] = defaultdict(list)
        # Only external providers have email domains: the built-in one alone needs no query.
        external = [row.id for row in rows if row.type != IdentityProviderType.WRISTBAND.value]
        if external:
            for provider_id, domain in self.connection.execute(DOMAINS_OF, {"ids": external}):
                domains[provider_id].append(domain)
        return [_from_row(row, tuple(domains[row.id])) for row in rows]

    def _one(self, row: Any) -> IdentityProvider | None:
        if row is None:
            return None
        if row.type == IdentityProviderType.WRISTBAND.value:
            return _from_row(row)
        return self._with_domains([row])[0]

    def get(self, provider_id: str) -> IdentityProvider | None:
        if not lookupable(provider_id):
            return None
        return self._one(self.connection.execute(self._mine().where(IDP.c.id == provider_id)).first())

    def get_by_name(self, name: str, tenant_id: str | None) -> IdentityProvider | None:
        """The provider called ``name`` that the tenant sees: its own first, then the application's."""
        if not lookupable(name, tenant_id or ""):
            return None
        params = {"app_id": self.application_id, "name_key": name.lower(), "tenant_id": tenant_id or ""}
        rows = GET_BY_NAME.execute(self.connection, params)
        return self._one(rows[0] if rows else None)

    def tenant_and_provider(self, tenant_id: str, name: str) -> tuple[Tenant | None, IdentityProvider | None]:
        """The tenant and the provider called ``name`` that it sees (as ``get_by_name``), read
        together; no provider without the tenant."""
        if not lookupable(tenant_id):
            return None, None
        # A name no database could hold matches no provider (``= NULL`` is never true).
        name_key = name.lower() if lookupable(name) else None
        params = {"app_id": self.application_id, "name_key": name_key, "tenant_id": tenant_id}
        rows = TENANT_AND_PROVIDER.execute(self.connection, params)
        if not rows:
            return None, None
        tenant = tenant_from_row(Prefixed(rows[0], "t_"))
        provider = self._one(Prefixed(rows[0], "p_")) if rows[0].p_id is not None else None
        return tenant, provider

    def get_owned(self, owner_id: str, name: str) -> IdentityProvider | None:
        """The provider called ``name`` owned by exactly this owner (the upsert key)."""
        if not lookupable(owner_id, name):
            return None
        query = self._mine().where((IDP.c.owner_id == owner_id) & (IDP.c.name_key == name.lower()))
        return self._one(self.connection.execute(query).first())

    def visible_to_tenant(self, tenant_id: str) -> list[IdentityProvider]:
        """The tenant's own providers and the application's, tenant-owned first, by name."""
        if not lookupable(tenant_id):
            return []
        params = {"app_id": self.application_id, "tenant_id": tenant_id}
        return self._with_domains(VISIBLE_TO_TENANT.execute(self.connection, params))

    def owned_by_application(self) -> list[IdentityProvider]:
        query = self._mine().where(IDP.c.owner_id == self.application_id).order_by(IDP.c.name_key)
        return self._with_domains(list(self.connection.execute(query)))

    def find_by_email_domain(self, domain: str) -> IdentityProvider | None:
        if not lookupable(domain):
            return None
        query = (
            self._mine()
            .join(DOMAINS, DOMAINS.c.identity_provider_id == IDP.c.id)
            .where((DOMAINS.c.application_id == self.application_id) & (DOMAINS.c.domain_key == domain.lower()))
        )
        return self._one(self.connection.execute(query).first())

    def add(self, provider: IdentityProvider) -> None:
        self.write(
            insert(IDP).values(
                id=provider.id,
                application_id=self.application_id,
                owner_type=provider.owner_type.value,
                owner_id=provider.owner_id,
                tenant_id=provider.owner_id if provider.owner_type is OwnerType.TENANT else None,
                **_values(provider),
                **metadata_values(provider.metadata),
            )
        )
        self._write_domains(provider)

    def update(self, provider: IdentityProvider) -> None:
        self.write(
            update(IDP)
            .where((IDP.c.application_id == self.application_id) & (IDP.c.id == provider.id))
            .values(
                **_values(provider),
                updated_at=provider.metadata.last_modified_time,
                version=provider.metadata.version,
            )
        )
        self.connection.execute(delete(DOMAINS).where(DOMAINS.c.identity_provider_id == provider.id))
        self._write_domains(provider)

    def delete(self, provider_id: str) -> None:
        if lookupable(provider_id):
            self.connection.execute(
                delete(IDP).where((IDP.c.application_id == self.application_id) & (IDP.c.id == provider_id))
            )

    def has_users(self, provider_id: str) -> bool:
        """Whether any user signs in through this provider (deleting it would delete them)."""
        if not lookupable(provider_id):
            return False
        query = select(t.users.c.id).where(t.users.c.identity_provider_id == provider_id).limit(1)
        return self.connection.execute(query).first() is not None

    def _write_domains(self, provider: IdentityProvider) -> None:
        if provider.email_domains:
            rows = [
                {"application_id": self.application_id, "domain_key": d.lower(), "identity_provider_id": provider.id}
                for d in provider.email_domains
            ]
            self.write(insert(DOMAINS), rows)

    def override_toggle(self, owner_id: str) -> IdentityProviderStatus | None:
        if not lookupable(owner_id):
            return None
        rows = OVERRIDE_TOGGLE.execute(self.connection, {"app_id": self.application_id, "owner_id": owner_id})
        return IdentityProviderStatus(rows[0].status) if rows and rows[0].status else None

    def set_override_toggle(
        self, owner_type: OwnerType, owner_id: str, status: IdentityProviderStatus, now: datetime
    ) -> bool:
        """Store the toggle; ``True`` when it was created, ``False`` when it replaced one."""
        key = (TOGGLES.c.application_id == self.application_id) & (TOGGLES.c.owner_id == owner_id)
        values = {"owner_type": owner_type.value, "status": status.value, "updated_at": now}
        if self.connection.execute(update(TOGGLES).where(key).values(**values)).rowcount:
            return False
        self.write(insert(TOGGLES).values(application_id=self.application_id, owner_id=owner_id, **values))
        return True
