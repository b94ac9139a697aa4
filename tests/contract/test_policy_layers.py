"""Policies by layer (``SqlPolicyRepository``), on SQLite and PostgreSQL: a unit of work reads
the application's layer and a tenant's once each, and sees its own writes."""

from __future__ import annotations

from tenantry.bootstrap import Services
from tests.contract.test_repositories import _app, _tenant


def test_layers_kinds_and_a_units_own_writes(services: Services) -> None:
    app_id = _app(services)
    tenant, other = _tenant(services, app_id), _tenant(services, app_id)
    with services.core.uow(app_id, write=True) as uow:
        uow.policies.put("password", None, {"min_length": 10})
        uow.policies.put("password", tenant.id, {"min_length": 14})
        uow.policies.put("signup", tenant.id, {"enabled": True})
        uow.commit()
    with services.core.uow(app_id, write=True) as uow:
        assert uow.policies.get("password", None) == {"min_length": 10}
        assert uow.policies.get("password", tenant.id) == {"min_length": 14}
        assert uow.policies.get("signup", tenant.id) == {"enabled": True}
        assert uow.policies.get("signup", None) is None
        assert uow.policies.get("password", other.id) is None
        assert uow.policies.get("password", "abc\x00def") is None  # no database holds such a key
        got = uow.policies.get("password", tenant.id)
        assert got is not None
        got["min_length"] = 99  # a copy: changing it changes nothing stored or cached
        assert uow.policies.get("password", tenant.id) == {"min_length": 14}
        uow.policies.put("password", tenant.id, {"min_length": 16})
        assert uow.policies.get("password", tenant.id) == {"min_length": 16}  # its own write
        uow.commit()
    with services.core.uow(_app(services)) as uow:  # another application sees none of them
        assert uow.policies.get("password", None) is None
        assert uow.policies.get("password", tenant.id) is None
    with services.core.uow(app_id) as uow:
        assert uow.policies.get("password", tenant.id) == {"min_length": 16}
