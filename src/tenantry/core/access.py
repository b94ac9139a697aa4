"""Who is calling and what they may touch.

A ``Principal`` is the subject of a verified access token (an OAuth2 client or a user) together
with the permission grants of its roles. ``require`` answers one question: may this principal
use ``permission`` on a resource that lives in ``tenant_id`` (and, for ``SELF`` grants, is about
``user_id``)? Use cases call it before they read or change anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tenantry.core.errors import Forbidden
from tenantry.core.roles.model import Boundary, PermissionGrant, Role, all_permissions


@dataclass(frozen=True, slots=True)
class Principal:
    application_id: str
    subject: str
    kind: str  # "client" or "user"
    tenant_id: str | None
    grants: tuple[PermissionGrant, ...]
    client_id: str | None = None

    def allows(self, permission: str, *, tenant_id: str | None, user_id: str | None = None) -> bool:
        return any(self._grant_allows(g, tenant_id, user_id) for g in self.grants if g.permission == permission)

    def _grant_allows(self, grant: PermissionGrant, tenant_id: str | None, user_id: str | None) -> bool:
        match grant.boundary:
            case Boundary.APPLICATION:
                return True
            case Boundary.TENANT:
                return tenant_id is not None and tenant_id == self.tenant_id
            case Boundary.TENANT_INCLUSION_LIST:
                return tenant_id is not None and tenant_id in grant.tenant_ids
            case Boundary.TENANT_EXCLUSION_LIST:
                return tenant_id is not None and tenant_id not in grant.tenant_ids
            case Boundary.SELF:
                return self.kind == "user" and user_id is not None and user_id == self.subject
        return False

    @classmethod
    def operator(cls, application_id: str) -> Principal:
        """The person at the command line: every permission on the whole application."""
        return cls(application_id, "operator", "operator", None, all_permissions(Boundary.APPLICATION))

    def can_grant(self, grant: PermissionGrant, subject_tenant_id: str | None) -> bool:
        """Whether this principal may hand ``grant`` to a client or user of ``subject_tenant_id``.

        Nobody gives away more than they hold: an application-wide holder may grant anything;
        otherwise only tenant- or self-bounded grants, inside a tenant the granter reaches."""
        mine = [g for g in self.grants if g.permission == grant.permission]
        if any(g.boundary is Boundary.APPLICATION for g in mine):
            return True
        if grant.boundary not in (Boundary.TENANT, Boundary.SELF) or subject_tenant_id is None:
            return False
        return self.reaches_tenant(grant.permission, subject_tenant_id)

    def reaches_tenant(self, permission: str, tenant_id: str) -> bool:
        """May list resources of ``tenant_id`` (a SELF grant does not reach a whole tenant)."""
        return any(self._grant_allows(g, tenant_id, None) for g in self.grants if g.permission == permission)

    def tenant_scope(self, permission: str) -> TenantScope:
        """The set of tenants ``permission`` reaches, for application-wide listings."""
        grants = [g for g in self.grants if g.permission == permission]
        if any(g.boundary is Boundary.APPLICATION for g in grants):
            return TenantScope(all_tenants=True)
        include: set[str] = set()
        exclude: set[str] | None = None
        for g in grants:
            if g.boundary is Boundary.TENANT and self.tenant_id:
                include.add(self.tenant_id)
            elif g.boundary is Boundary.TENANT_INCLUSION_LIST:
                include.update(g.tenant_ids)
            elif g.boundary is Boundary.TENANT_EXCLUSION_LIST:
                current = set(g.tenant_ids)
                exclude = current if exclude is None else exclude & current
        if exclude is not None:
            return TenantScope(all_tenants=True, excluded=frozenset(exclude - include))
        return TenantScope(all_tenants=False, included=frozenset(include))


@dataclass(frozen=True, slots=True)
class TenantScope:
    all_tenants: bool
    included: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.all_tenants and not self.included


def require(principal: Principal, permission: str, *, tenant_id: str | None, user_id: str | None = None) -> None:
    if not principal.allows(permission, tenant_id=tenant_id, user_id=user_id):
        raise Forbidden(f"Missing permission [{permission}] for this resource")


def require_grantable(principal: Principal, roles: Iterable[Role], subject_tenant_id: str | None) -> None:
    for role in roles:
        for grant in role.grants:
            if not principal.can_grant(grant, subject_tenant_id):
                raise Forbidden(f"Role [{role.name}] grants [{grant.permission}] beyond the caller's own reach")


def require_all(
    principal: Principal, permissions: Iterable[str], *, tenant_id: str | None, user_id: str | None = None
) -> None:
    for permission in permissions:
        require(principal, permission, tenant_id=tenant_id, user_id=user_id)
