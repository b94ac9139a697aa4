from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.listing import ROLE_LISTING
from tenantry.adapters.sql.repositories.base import Repository, lookupable, metadata_from, metadata_values
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import Boundary, OwnerType, PermissionGrant, Role, RoleType

R = t.roles
UR = t.user_roles


def _from_row(row: Any) -> Role:
    grants = tuple(
        PermissionGrant(g["permission"], Boundary(g["boundary"]), tuple(g.get("tenantIds", ())))
        for g in row.permissions
    )
    return Role(
        id=row.id,
        application_id=row.application_id,
        owner_type=OwnerType(row.owner_type),
        owner_id=row.owner_id,
        tenant_id=row.tenant_id,
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        type=RoleType(row.type),
        grants=grants,
        metadata=metadata_from(row),
    )


ROLES_OF_USERS = (
    select(UR.c.user_id, R)
    .join(R, UR.c.role_id == R.c.id)
    .where(UR.c.user_id.in_(bindparam("user_ids", expanding=True)) & (R.c.application_id == bindparam("app")))
    .order_by(R.c.name_key)
)
# The roles a signup's policy grants, by name, and their assignment (``direct.py``).
ROLE_BY_NAME = DirectStatement(
    select(R).where((R.c.application_id == bindparam("app")) & (R.c.name_key == bindparam("key")))
)
ROLE_HELD = DirectStatement(
    select(UR.c.role_id).where((UR.c.user_id == bindparam("user_id")) & (UR.c.role_id == bindparam("role_id")))
)
INSERT_USER_ROLE = DirectStatement(insert(UR))
# One user's roles (every token issued to a user, userinfo): a driver-level statement.
ROLES_OF_ONE_USER = DirectStatement(
    select(UR.c.user_id, R)
    .join(R, UR.c.role_id == R.c.id)
    .where((UR.c.user_id == bindparam("user_id")) & (R.c.application_id == bindparam("app")))
    .order_by(R.c.name_key)
)


class SqlRoleRepository(Repository):
    def _mine(self) -> Any:
        return select(R).where(R.c.application_id == self.application_id)

    def get(self, role_id: str) -> Role | None:
        if not lookupable(role_id):
            return None
        row = self.connection.execute(self._mine().where(R.c.id == role_id)).first()
        return _from_row(row) if row else None

    def get_many(self, role_ids: Sequence[str]) -> list[Role]:
        role_ids = [r for r in role_ids if lookupable(r)]
        if not role_ids:
            return []
        return [_from_row(r) for r in self.connection.execute(self._mine().where(R.c.id.in_(list(role_ids))))]

    def get_by_name(self, name: str) -> Role | None:
        if not lookupable(name):
            return None
        rows = ROLE_BY_NAME.execute(self.connection, {"app": self.application_id, "key": name.lower()})
        return _from_row(rows[0]) if rows else None

    def add(self, role: Role) -> None:
        self.write(
            insert(R).values(
                id=role.id,
                application_id=self.application_id,
                tenant_id=role.tenant_id,
                owner_type=role.owner_type.value,
                owner_id=role.owner_id,
                name=role.name,
                name_key=role.name.lower(),
                display_name=role.display_name,
                description=role.description,
                type=role.type.value,
                permissions=[
                    {
                        "permission": g.permission,
                        "boundary": g.boundary.value,
                        "tenantIds": list(g.tenant_ids),
                    }
                    for g in role.grants
                ],
                **metadata_values(role.metadata),
            )
        )

    def delete(self, role_id: str) -> None:
        self.write(delete(R).where((R.c.id == role_id) & (R.c.application_id == self.application_id)))

    def delete_for_tenant(self, tenant_id: str) -> None:
        self.write(delete(R).where((R.c.tenant_id == tenant_id) & (R.c.application_id == self.application_id)))

    def _page(self, query: Any, spec: ListSpec) -> Page[Role]:
        count, page = ROLE_LISTING.page(query, spec)
        total = self.connection.execute(count).scalar_one()
        items = [_from_row(r) for r in self.connection.execute(page)] if spec.count else []
        return Page(total, spec.start_index, items)

    def list_for_tenant(self, tenant_id: str, include_application_roles: bool, spec: ListSpec) -> Page[Role]:
        owned = R.c.tenant_id == tenant_id
        where = or_(owned, R.c.tenant_id.is_(None)) if include_application_roles else owned
        return self._page(self._mine().where(where), spec)

    def list_for_application(self, spec: ListSpec) -> Page[Role]:
        return self._page(self._mine().where(R.c.tenant_id.is_(None)), spec)

    def roles_of_user(self, user_id: str, spec: ListSpec) -> Page[Role]:
        query = self._mine().join(UR, UR.c.role_id == R.c.id).where(UR.c.user_id == user_id)
        return self._page(query, spec)

    def roles_of_users(self, user_ids: Sequence[str]) -> dict[str, list[Role]]:
        found: dict[str, list[Role]] = {uid: [] for uid in user_ids}
        user_ids = [u for u in user_ids if lookupable(u)]
        if not user_ids:
            return found
        if len(user_ids) == 1:
            rows: Any = ROLES_OF_ONE_USER.execute(self.connection, {"user_id": user_ids[0], "app": self.application_id})
        else:
            rows = self.connection.execute(ROLES_OF_USERS, {"user_ids": list(user_ids), "app": self.application_id})
        for row in rows:
            found[row.user_id].append(_from_row(row))
        return found

    def assign(self, user_id: str, tenant_id: str, role_ids: Sequence[str]) -> None:
        if not role_ids:  # an invitation without roles to assign
            return
        held = self._held(user_id, role_ids)
        now = datetime.now(UTC)
        rows = [
            {"user_id": user_id, "role_id": rid, "tenant_id": tenant_id, "created_at": now}
            for rid in role_ids
            if rid not in held
        ]
        if len(rows) == 1:  # a signup's default role, most assignments: the prebuilt insert
            self.write_direct(INSERT_USER_ROLE, rows[0])
        elif rows:
            self.write(insert(UR), rows)

    def _held(self, user_id: str, role_ids: Sequence[str]) -> set[str]:
        """Which of ``role_ids`` the user holds already (one role: the prebuilt statement)."""
        if len(role_ids) == 1:
            return {
                row.role_id for row in ROLE_HELD.execute(self.connection, {"user_id": user_id, "role_id": role_ids[0]})
            }
        held = select(UR.c.role_id).where((UR.c.user_id == user_id) & UR.c.role_id.in_(list(role_ids)))
        return set(self.connection.execute(held).scalars())

    def unassign(self, user_id: str, role_ids: Sequence[str]) -> None:
        role_ids = [r for r in role_ids if lookupable(r)]
        if role_ids:
            self.write(delete(UR).where((UR.c.user_id == user_id) & UR.c.role_id.in_(list(role_ids))))

    def roles_of_client(self, client_id: str) -> list[Role]:
        query = (
            self._mine()
            .join(t.client_roles, t.client_roles.c.role_id == R.c.id)
            .where(t.client_roles.c.client_id == client_id)
        )
        return [_from_row(r) for r in self.connection.execute(query)]
