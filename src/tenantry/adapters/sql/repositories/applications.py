from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository, lookupable, metadata_from, metadata_values
from tenantry.core.applications.model import Application, ApplicationStatus


def _from_row(row: Any) -> Application:
    return Application(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        vanity_domain=row.vanity_domain,
        custom_domain_active=row.custom_domain_active,
        signup_enabled=row.signup_enabled,
        login_url=row.login_url,
        status=ApplicationStatus(row.status),
        metadata=metadata_from(row),
    )


def _values(app: Application) -> dict[str, Any]:
    return {
        "name": app.name,
        "display_name": app.display_name,
        "vanity_domain": app.vanity_domain,
        "custom_domain_active": app.custom_domain_active,
        "signup_enabled": app.signup_enabled,
        "login_url": app.login_url,
        "status": app.status.value,
        **metadata_values(app.metadata),
    }


class SqlApplicationRepository(Repository):
    def get(self, application_id: str) -> Application | None:
        if not lookupable(application_id):
            return None
        row = self.connection.execute(select(t.applications).where(t.applications.c.id == application_id)).first()
        return _from_row(row) if row else None

    def get_by_vanity_domain(self, vanity_domain: str) -> Application | None:
        if not lookupable(vanity_domain):
            return None
        query = select(t.applications).where(t.applications.c.vanity_domain == vanity_domain.lower())
        row = self.connection.execute(query).first()
        return _from_row(row) if row else None

    def add(self, application: Application) -> None:
        self.write(insert(t.applications).values(id=application.id, **_values(application)))

    def update(self, application: Application) -> None:
        self.write(update(t.applications).where(t.applications.c.id == application.id).values(**_values(application)))

    def tenant_of_custom_domain(self, host: str) -> tuple[str, str] | None:
        """(application id, tenant id) of the tenant whose custom domain is ``host``."""
        if not lookupable(host):
            return None
        query = select(t.tenants.c.application_id, t.tenants.c.id).where(t.tenants.c.custom_domain == host.lower())
        row = self.connection.execute(query).first()
        return (row.application_id, row.id) if row else None
