"""``tenantry users export``: an application's users as JSON Lines that ``tenantry users import``
reads back — into another application, another Tenantry, or any system that takes PHC strings.

Each line is a Create User body: ``tenantName``, ``identityProviderName``, ``email``,
``emailVerified``, ``status``, the profile fields that have a value, the metadata objects that are
not empty, ``passwordHash`` (this server's argon2id PHC string, or a hash still waiting for its
user's first sign-in since an import), and ``roles``: an application role by its short name, a
tenant role by its full ``tnt:`` name (create custom roles in the target first). Users come
in id order, read in batches, so an export of millions of users holds one batch in memory.

Statuses: ``ACTIVE`` and ``PROVISIONED`` as they are; ``INACTIVE`` as ``PROVISIONED`` — both wait
for an existing-user invitation, and Create User takes no other. Users whose onboarding has not
finished (signup awaiting activation, invitation awaiting acceptance) are left out and counted:
their pending codes cannot move with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry.core.context import CoreContext
from tenantry.core.roles.model import OwnerType, Role
from tenantry.core.users.model import User, UserStatus

BATCH = 1000
EXPORTED_STATUS = {
    UserStatus.ACTIVE: UserStatus.ACTIVE,
    UserStatus.PROVISIONED: UserStatus.PROVISIONED,
    UserStatus.INACTIVE: UserStatus.PROVISIONED,
}


class UnknownTenant(Exception):
    """A tenant name the application does not have."""


@dataclass(slots=True)
class ExportCounts:
    exported: int = 0
    left_out: int = 0


class UserExport:
    def __init__(self, core: CoreContext, application_id: str, tenant_names: Sequence[str] = ()) -> None:
        self._core = core
        self._application_id = application_id
        self._tenant_names: dict[str, str] = {}
        self._only: list[str | None] = [None]
        if tenant_names:
            self._only = [self._tenant_id(name) for name in tenant_names]
        self.counts = ExportCounts()

    def records(self) -> Iterator[dict[str, Any]]:
        """Every exported user's line, as a JSON-ready dict; ``counts`` adds up as they go."""
        for tenant_id in self._only:
            for user, roles in self._users(tenant_id):
                status = EXPORTED_STATUS.get(user.status)
                if status is None:
                    self.counts.left_out += 1
                    continue
                self.counts.exported += 1
                yield self._record(user, status, roles)

    def _users(self, tenant_id: str | None) -> Iterator[tuple[User, list[Role]]]:
        after: str | None = None
        while True:
            with self._core.uow(self._application_id) as uow:
                batch = uow.users.batch_after(after, BATCH, tenant_id)
                roles = uow.roles.roles_of_users([u.id for u in batch]) if batch else {}
            for user in batch:
                yield user, roles.get(user.id, [])
            if len(batch) < BATCH:
                return
            after = batch[-1].id

    def _record(self, user: User, status: UserStatus, roles: list[Role]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "tenantName": self._tenant_name(user.tenant_id),
            "identityProviderName": user.identity_provider_name,
            "email": user.email,
            "emailVerified": user.email_verified,
            "status": status.value,
            **{name: value for name, value in user.profile.items() if value is not None},
        }
        if user.public_metadata:
            record["publicMetadata"] = user.public_metadata
        if user.restricted_metadata:
            record["restrictedMetadata"] = user.restricted_metadata
        if user.password_hash is not None:
            record["passwordHash"] = user.password_hash
        if roles:
            # An application role by its short name (the target application's has another full
            # name); a tenant role by its full one (the same in the target: tenantName is).
            record["roles"] = sorted(
                role.sku if role.owner_type is OwnerType.APPLICATION else role.name for role in roles
            )
        return record

    def _tenant_id(self, name: str) -> str:
        with self._core.uow(self._application_id) as uow:
            tenant = uow.tenants.get_by_domain_name(name)
        if tenant is None:
            raise UnknownTenant(name)
        self._tenant_names[tenant.id] = tenant.domain_name
        return tenant.id

    def _tenant_name(self, tenant_id: str) -> str:
        if tenant_id not in self._tenant_names:
            with self._core.uow(self._application_id) as uow:
                tenant = uow.tenants.get(tenant_id)
            assert tenant is not None  # a user's tenant outlives the user (foreign key, cascade)
            self._tenant_names[tenant_id] = tenant.domain_name
        return self._tenant_names[tenant_id]
