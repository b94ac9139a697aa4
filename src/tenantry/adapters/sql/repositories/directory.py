"""Directory (SCIM 2.0) tokens: one per tenant and identity provider, found by the token's hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository, aware, lookupable
from tenantry.core.provisioning.model import DirectoryToken

D = t.directory_tokens


class SqlDirectoryTokenRepository(Repository):
    def replace(self, tenant_id: str, identity_provider_id: str, token_hash: str, now: datetime) -> None:
        self.revoke(tenant_id, identity_provider_id)
        self.write(
            insert(D).values(
                token_hash=token_hash,
                application_id=self.application_id,
                tenant_id=tenant_id,
                identity_provider_id=identity_provider_id,
                created_at=now,
            )
        )

    def revoke(self, tenant_id: str, identity_provider_id: str) -> bool:
        mine = (D.c.application_id == self.application_id) & (D.c.tenant_id == tenant_id)
        gone = self.connection.execute(delete(D).where(mine & (D.c.identity_provider_id == identity_provider_id)))
        return gone.rowcount > 0

    def issued_at(self, tenant_id: str, identity_provider_id: str) -> datetime | None:
        mine = (D.c.application_id == self.application_id) & (D.c.tenant_id == tenant_id)
        query = select(D.c.created_at).where(mine & (D.c.identity_provider_id == identity_provider_id))
        found = self.connection.execute(query).scalar_one_or_none()
        return aware(found) if found is not None else None

    def find(self, token_hash: str) -> DirectoryToken | None:
        if not lookupable(token_hash):
            return None
        query = select(D.c.tenant_id, D.c.identity_provider_id).where(
            (D.c.token_hash == token_hash) & (D.c.application_id == self.application_id)
        )
        row = self.connection.execute(query).first()
        return DirectoryToken(row.tenant_id, row.identity_provider_id) if row else None
