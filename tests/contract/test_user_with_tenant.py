"""``get_with_tenant``: a grant's user and tenant in one query must answer what ``users.get``
and ``tenants.get`` answer apart, and nothing when the user is not of that tenant."""

from __future__ import annotations

from tenantry.bootstrap import Services
from tenantry.core.tenants.model import TenantStatus
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.support import rand_email


def test_one_query_answers_as_the_two_reads(services: Services) -> None:
    app_id = _app(services)
    tenant, other = _tenant(services, app_id), _tenant(services, app_id)
    user = _user(services, app_id, tenant.id, rand_email(), givenName="Ada", username="ada")
    _add(services, app_id, user)
    with services.core.uow(app_id, write=True) as uow:
        other.status = TenantStatus.INACTIVE
        uow.tenants.update(other)
        uow.commit()
    moved = _user(services, app_id, other.id, rand_email())
    _add(services, app_id, moved)

    with services.core.uow(app_id) as uow:
        found = uow.users.get_with_tenant(user.id, tenant.id)
        assert found == (uow.users.get(user.id), uow.tenants.get(tenant.id))
        assert found is not None and found[0] == user and found[1] == tenant
        inactive = uow.users.get_with_tenant(moved.id, other.id)
        assert inactive is not None and inactive[1].status is TenantStatus.INACTIVE
        assert inactive == (moved, uow.tenants.get(other.id))
        # A user is found with its own tenant only.
        assert uow.users.get_with_tenant(user.id, other.id) is None
        assert uow.users.get_with_tenant("no-such-user", tenant.id) is None
        assert uow.users.get_with_tenant(user.id, "abc\x00def") is None
    with services.core.uow(_app(services)) as uow:
        assert uow.users.get_with_tenant(user.id, tenant.id) is None
