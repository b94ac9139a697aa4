from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository, aware, lookupable
from tenantry.core.sso.model import SsoRequest

R = t.sso_requests
A = t.saml_assertion_ids


def _from_row(row: Any) -> SsoRequest:
    return SsoRequest(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        identity_provider_id=row.identity_provider_id,
        state_hash=row.state_hash,
        browser_hash=row.browser_hash,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at),  # type: ignore[arg-type]
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        saml_request_id=row.saml_request_id,
        context=row.context,
    )


class SqlSsoRequestRepository(Repository):
    def add(self, request: SsoRequest) -> None:
        self.write(
            insert(R).values(
                id=request.id,
                application_id=self.application_id,
                tenant_id=request.tenant_id,
                identity_provider_id=request.identity_provider_id,
                state_hash=request.state_hash,
                browser_hash=request.browser_hash,
                nonce=request.nonce,
                code_verifier=request.code_verifier,
                saml_request_id=request.saml_request_id,
                context=request.context,
                created_at=request.created_at,
                expires_at=request.expires_at,
            )
        )

    def consume(self, state_hash: str, now: datetime) -> SsoRequest | None:
        if not lookupable(state_hash):
            return None
        mine = (R.c.application_id == self.application_id) & (R.c.state_hash == state_hash)
        # The conditional update decides between two callbacks racing with the same state.
        taken = self.connection.execute(
            update(R).where(mine & R.c.consumed_at.is_(None) & (R.c.expires_at > now)).values(consumed_at=now)
        )
        if taken.rowcount != 1:
            return None
        row = self.connection.execute(select(R).where(mine)).first()
        return _from_row(row) if row else None

    def remember_assertion(self, identity_provider_id: str, assertion_id: str, expires_at: datetime) -> bool:
        if not lookupable(assertion_id):
            return False
        key = (A.c.identity_provider_id == identity_provider_id) & (A.c.assertion_id == assertion_id)
        if self.connection.execute(select(A.c.assertion_id).where(key)).first() is not None:
            return False
        # Two nodes racing with the same assertion: the primary key lets exactly one insert win.
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    insert(A).values(
                        identity_provider_id=identity_provider_id, assertion_id=assertion_id, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True

    def sweep(self, now: datetime) -> int:
        mine = (R.c.application_id == self.application_id) & (R.c.expires_at < now)
        gone = self.connection.execute(delete(R).where(mine))
        self.connection.execute(delete(A).where(A.c.expires_at < now))
        return int(gone.rowcount or 0)
