"""The SQL unit of work: one transaction, every repository bound to one application."""

from __future__ import annotations

from contextlib import ExitStack
from functools import cached_property
from types import TracebackType
from typing import Self

from sqlalchemy import Connection

from tenantry.adapters.sql.database import Database
from tenantry.adapters.sql.repositories.admins import SqlAdminRepository
from tenantry.adapters.sql.repositories.applications import SqlApplicationRepository
from tenantry.adapters.sql.repositories.audit import SqlAuditRepository
from tenantry.adapters.sql.repositories.auth import (
    SqlAuthorizationCodeRepository,
    SqlAuthSessionRepository,
    SqlEmailCodeRepository,
    SqlRefreshTokenRepository,
)
from tenantry.adapters.sql.repositories.clients import SqlClientRepository
from tenantry.adapters.sql.repositories.directory import SqlDirectoryTokenRepository
from tenantry.adapters.sql.repositories.identity_providers import SqlIdentityProviderRepository
from tenantry.adapters.sql.repositories.invitations import SqlInvitationRepository
from tenantry.adapters.sql.repositories.outbox import SqlOutboxRepository
from tenantry.adapters.sql.repositories.policies import SqlPolicyRepository
from tenantry.adapters.sql.repositories.roles import SqlRoleRepository
from tenantry.adapters.sql.repositories.sso import SqlSsoRequestRepository
from tenantry.adapters.sql.repositories.tenants import SqlTenantRepository
from tenantry.adapters.sql.repositories.users import SqlUserRepository


class SqlUnitOfWork:
    """Repositories are built on first use: most units of work touch two or three of them."""

    def __init__(self, database: Database, application_id: str, *, write: bool) -> None:
        self._database = database
        self._application_id = application_id
        self._write = write
        self._stack = ExitStack()
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self._stack.enter_context(self._database.transaction(write=self._write))
        self._connection = connection
        return self

    @cached_property
    def applications(self) -> SqlApplicationRepository:
        return SqlApplicationRepository(self._live(), self._application_id)

    @cached_property
    def tenants(self) -> SqlTenantRepository:
        return SqlTenantRepository(self._live(), self._application_id)

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self._live(), self._application_id)

    @cached_property
    def roles(self) -> SqlRoleRepository:
        return SqlRoleRepository(self._live(), self._application_id)

    @cached_property
    def clients(self) -> SqlClientRepository:
        return SqlClientRepository(self._live(), self._application_id)

    @cached_property
    def identity_providers(self) -> SqlIdentityProviderRepository:
        return SqlIdentityProviderRepository(self._live(), self._application_id)

    @cached_property
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self._live(), self._application_id)

    @cached_property
    def auth_sessions(self) -> SqlAuthSessionRepository:
        return SqlAuthSessionRepository(self._live(), self._application_id)

    @cached_property
    def authorization_codes(self) -> SqlAuthorizationCodeRepository:
        return SqlAuthorizationCodeRepository(self._live(), self._application_id)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokenRepository:
        return SqlRefreshTokenRepository(self._live(), self._application_id)

    @cached_property
    def policies(self) -> SqlPolicyRepository:
        return SqlPolicyRepository(self._live(), self._application_id)

    @cached_property
    def email_codes(self) -> SqlEmailCodeRepository:
        return SqlEmailCodeRepository(self._live(), self._application_id)

    @cached_property
    def invitations(self) -> SqlInvitationRepository:
        return SqlInvitationRepository(self._live(), self._application_id)

    @cached_property
    def audit(self) -> SqlAuditRepository:
        return SqlAuditRepository(self._live(), self._application_id)

    @cached_property
    def admins(self) -> SqlAdminRepository:
        return SqlAdminRepository(self._live(), self._application_id)

    @cached_property
    def sso_requests(self) -> SqlSsoRequestRepository:
        return SqlSsoRequestRepository(self._live(), self._application_id)

    @cached_property
    def directory_tokens(self) -> SqlDirectoryTokenRepository:
        return SqlDirectoryTokenRepository(self._live(), self._application_id)

    def _live(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("repository used outside the unit of work")
        return self._connection

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._connection = None
        self._stack.close()

    def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside the unit of work")
        self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, application_id: str, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.database, application_id, write=write)
