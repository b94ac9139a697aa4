"""The SQL unit of work: one transaction, every repository bound to one application."""

from __future__ import annotations

from contextlib import ExitStack
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
from tenantry.adapters.sql.repositories.identity_providers import SqlIdentityProviderRepository
from tenantry.adapters.sql.repositories.invitations import SqlInvitationRepository
from tenantry.adapters.sql.repositories.outbox import SqlOutboxRepository
from tenantry.adapters.sql.repositories.policies import SqlPolicyRepository
from tenantry.adapters.sql.repositories.roles import SqlRoleRepository
from tenantry.adapters.sql.repositories.sso import SqlSsoRequestRepository
from tenantry.adapters.sql.repositories.tenants import SqlTenantRepository
from tenantry.adapters.sql.repositories.users import SqlUserRepository


class SqlUnitOfWork:
    applications: SqlApplicationRepository
    tenants: SqlTenantRepository
    users: SqlUserRepository
    roles: SqlRoleRepository
    clients: SqlClientRepository
    identity_providers: SqlIdentityProviderRepository
    outbox: SqlOutboxRepository
    auth_sessions: SqlAuthSessionRepository
    authorization_codes: SqlAuthorizationCodeRepository
    refresh_tokens: SqlRefreshTokenRepository
    policies: SqlPolicyRepository
    email_codes: SqlEmailCodeRepository
    invitations: SqlInvitationRepository
    audit: SqlAuditRepository
    admins: SqlAdminRepository
    sso_requests: SqlSsoRequestRepository

    def __init__(self, database: Database, application_id: str, *, write: bool) -> None:
        self._database = database
        self._application_id = application_id
        self._write = write
        self._stack = ExitStack()
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self._stack.enter_context(self._database.transaction(write=self._write))
        self._connection = connection
        app_id = self._application_id
        self.applications = SqlApplicationRepository(connection, app_id)
        self.tenants = SqlTenantRepository(connection, app_id)
        self.users = SqlUserRepository(connection, app_id)
        self.roles = SqlRoleRepository(connection, app_id)
        self.clients = SqlClientRepository(connection, app_id)
        self.identity_providers = SqlIdentityProviderRepository(connection, app_id)
        self.outbox = SqlOutboxRepository(connection, app_id)
        self.auth_sessions = SqlAuthSessionRepository(connection, app_id)
        self.authorization_codes = SqlAuthorizationCodeRepository(connection, app_id)
        self.refresh_tokens = SqlRefreshTokenRepository(connection, app_id)
        self.policies = SqlPolicyRepository(connection, app_id)
        self.email_codes = SqlEmailCodeRepository(connection, app_id)
        self.invitations = SqlInvitationRepository(connection, app_id)
        self.audit = SqlAuditRepository(connection, app_id)
        self.admins = SqlAdminRepository(connection, app_id)
        self.sso_requests = SqlSsoRequestRepository(connection, app_id)
        return self

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
