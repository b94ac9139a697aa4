"""``roles_of_users``: one user's roles (a driver-level statement, on every token) are the same
roles, in the same order and with the same grants, as the several-users query gives for that
user; another application's user and an unknown id get none. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from tenantry.bootstrap import Services
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.roles.model import Boundary, OwnerType, PermissionGrant, Role, RoleType
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.support import rand, rand_email


def _role(services: Services, app_id: str, tenant_id: str, name: str, *grants: PermissionGrant) -> Role:
    role = Role(
        id=new_id(),
        application_id=app_id,
        owner_type=OwnerType.TENANT,
        owner_id=tenant_id,
        tenant_id=tenant_id,
        name=name,
        display_name=name.title(),
        description=None,
        type=RoleType.CUSTOM,
        grants=grants,
        metadata=EntityMetadata.new(datetime.now(UTC)),
    )
    with services.core.uow(app_id, write=True) as uow:
        uow.roles.add(role)
        uow.commit()
    return role


def test_one_users_roles_match_the_several_users_query(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    reader = _role(services, app_id, tenant.id, rand("b-reader"), PermissionGrant("user:read", Boundary.TENANT))
    admin = _role(
        services,
        app_id,
        tenant.id,
        rand("a-admin"),
        PermissionGrant("user:write", Boundary.TENANT_INCLUSION_LIST, (tenant.id, "other")),
    )
    alice, bob = (_user(services, app_id, tenant.id, rand_email()) for _ in range(2))
    for user in (alice, bob):
        _add(services, app_id, user)
    with services.core.uow(app_id, write=True) as uow:
        uow.roles.assign(alice.id, tenant.id, [reader.id, admin.id])
        uow.roles.assign(bob.id, tenant.id, [reader.id])
        uow.commit()
    other_app = _app(services)
    with services.core.uow(app_id) as uow:
        together = uow.roles.roles_of_users([alice.id, bob.id])
        alone = {user.id: uow.roles.roles_of_users([user.id])[user.id] for user in (alice, bob)}
        unknown = uow.roles.roles_of_users([new_id()])
    with services.core.uow(other_app) as uow:
        elsewhere = uow.roles.roles_of_users([alice.id])
    assert alone == together
    assert [r.id for r in alone[alice.id]] == [admin.id, reader.id]  # by name
    assert alone[alice.id][0].grants == (
        PermissionGrant("user:write", Boundary.TENANT_INCLUSION_LIST, (tenant.id, "other")),
    )
    assert alone[alice.id][0].metadata.creation_time == admin.metadata.creation_time  # a timestamp type, both ways
    assert list(unknown.values()) == [[]] and elsewhere == {alice.id: []}
