"""The small interfaces the core needs from the outside world.

Adapters implement them (``tenantry.adapters``); ``tenantry.bootstrap`` wires them together.
Every repository inside a unit of work is bound to one application: it filters every read on
it and stamps it on every insert, so a use case cannot reach another application's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from tenantry.core.access import TenantScope
from tenantry.core.applications.model import Application
from tenantry.core.clients.model import Client
from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage, RenderedEmail
from tenantry.core.roles.model import Role
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListSpec:
    """A page request. ``filter`` and ``sort`` are parsed query-language trees (see
    ``tenantry.protocols.query``) that the repository compiles; the core only passes them on."""

    filter: object | None = None
    sort: tuple[object, ...] = ()
    start_index: int = 1
    count: int = 50


@dataclass(slots=True)
class Page(Generic[T]):
    total: int
    start_index: int
    items: list[T]


class Clock(Protocol):
    def now(self) -> datetime: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class CommonPasswords(Protocol):
    def __contains__(self, password: object) -> bool: ...


class ApplicationRepository(Protocol):
    """Applications are the root of scoping; this one repository is not bound to one."""

    def get(self, application_id: str) -> Application | None: ...

    def get_by_vanity_domain(self, vanity_domain: str) -> Application | None: ...

    def add(self, application: Application) -> None: ...

    def update(self, application: Application) -> None: ...


class TenantRepository(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...

    def get_by_domain_name(self, domain_name: str) -> Tenant | None: ...

    def add(self, tenant: Tenant) -> None: ...

    def update(self, tenant: Tenant) -> None: ...

    def delete(self, tenant_id: str) -> None: ...

    def page(self, spec: ListSpec, scope: TenantScope) -> Page[Tenant]: ...

    def ids_with_status(self, status: str) -> list[str]: ...


class UserRepository(Protocol):
    def get(self, user_id: str) -> User | None: ...

    def add(self, user: User) -> None: ...

    def update(self, user: User) -> None: ...

    def delete(self, user_id: str) -> None: ...

    def page(self, spec: ListSpec, scope: TenantScope, tenant_id: str | None = None) -> Page[User]: ...

    def delete_for_tenant(self, tenant_id: str, limit: int) -> int: ...


class RoleRepository(Protocol):
    def get(self, role_id: str) -> Role | None: ...

    def get_many(self, role_ids: Sequence[str]) -> list[Role]: ...

    def get_by_name(self, name: str) -> Role | None: ...

    def add(self, role: Role) -> None: ...

    def delete(self, role_id: str) -> None: ...

    def list_for_tenant(self, tenant_id: str, include_application_roles: bool, spec: ListSpec) -> Page[Role]: ...

    def delete_for_tenant(self, tenant_id: str) -> None: ...

    def roles_of_user(self, user_id: str, spec: ListSpec) -> Page[Role]: ...

    def roles_of_users(self, user_ids: Sequence[str]) -> dict[str, list[Role]]: ...

    def assign(self, user_id: str, tenant_id: str, role_ids: Sequence[str]) -> None: ...

    def unassign(self, user_id: str, role_ids: Sequence[str]) -> None: ...

    def roles_of_client(self, client_id: str) -> list[Role]: ...


class ClientRepository(Protocol):
    def get(self, client_id: str) -> Client | None: ...

    def find_by_name(self, name: str) -> Client | None: ...

    def add(self, client: Client) -> None: ...

    def update(self, client: Client) -> None: ...

    def delete(self, client_id: str) -> None: ...

    def page(self, spec: ListSpec, scope: TenantScope) -> Page[Client]: ...


class IdentityProviderRepository(Protocol):
    def get_by_name(self, name: str, tenant_id: str | None) -> IdentityProvider | None: ...

    def get(self, provider_id: str) -> IdentityProvider | None: ...

    def add(self, provider: IdentityProvider) -> None: ...


class OutboxRepository(Protocol):
    def add(self, message: EmailMessage) -> None: ...


class EmailRenderer(Protocol):
    def render(self, kind: EmailKind, context: EmailContext) -> RenderedEmail: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls everything back."""

    @property
    def applications(self) -> ApplicationRepository: ...

    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def roles(self) -> RoleRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def identity_providers(self) -> IdentityProviderRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, application_id: str, *, write: bool = False) -> UnitOfWork: ...
