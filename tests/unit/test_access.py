"""Permission boundaries decide which tenants and users a principal reaches."""

from __future__ import annotations

import pytest

from tenantry.core.access import Principal, TenantScope, require
from tenantry.core.errors import Forbidden
from tenantry.core.roles.model import Boundary, PermissionGrant


def principal(
    *grants: PermissionGrant, tenant: str | None = "ta", kind: str = "client", subject: str = "s"
) -> Principal:
    return Principal("app", subject, kind, tenant, tuple(grants))


def test_application_boundary_reaches_every_tenant() -> None:
    p = principal(PermissionGrant("user:read", Boundary.APPLICATION))
    assert p.allows("user:read", tenant_id="anything")
    assert p.allows("user:read", tenant_id=None)
    assert not p.allows("user:create", tenant_id="anything")
    assert p.tenant_scope("user:read") == TenantScope(all_tenants=True)


def test_tenant_boundary_reaches_only_own_tenant() -> None:
    p = principal(PermissionGrant("user:read", Boundary.TENANT))
    assert p.allows("user:read", tenant_id="ta")
    assert not p.allows("user:read", tenant_id="tb")
    assert not p.allows("user:read", tenant_id=None)
    assert p.tenant_scope("user:read") == TenantScope(all_tenants=False, included=frozenset({"ta"}))


def test_tenant_boundary_without_own_tenant_reaches_nothing() -> None:
    p = principal(PermissionGrant("user:read", Boundary.TENANT), tenant=None)
    assert not p.allows("user:read", tenant_id="ta")
    assert p.tenant_scope("user:read").empty


def test_inclusion_and_exclusion_lists() -> None:
    inc = principal(PermissionGrant("user:read", Boundary.TENANT_INCLUSION_LIST, ("t1", "t2")))
    exc = principal(PermissionGrant("user:read", Boundary.TENANT_EXCLUSION_LIST, ("t1",)))
    assert inc.allows("user:read", tenant_id="t2") and not inc.allows("user:read", tenant_id="t3")
    assert exc.allows("user:read", tenant_id="t3") and not exc.allows("user:read", tenant_id="t1")
    assert exc.tenant_scope("user:read") == TenantScope(all_tenants=True, excluded=frozenset({"t1"}))


def test_self_boundary_only_for_the_user_itself() -> None:
    user = principal(PermissionGrant("user:update", Boundary.SELF), kind="user", subject="u1")
    assert user.allows("user:update", tenant_id="ta", user_id="u1")
    assert not user.allows("user:update", tenant_id="ta", user_id="u2")
    assert not user.reaches_tenant("user:update", "ta")
    client = principal(PermissionGrant("user:update", Boundary.SELF), subject="u1")
    assert not client.allows("user:update", tenant_id="ta", user_id="u1")


def test_grants_combine() -> None:
    p = principal(
        PermissionGrant("user:read", Boundary.TENANT),
        PermissionGrant("user:read", Boundary.TENANT_INCLUSION_LIST, ("tx",)),
    )
    assert p.tenant_scope("user:read").included == frozenset({"ta", "tx"})


def test_require_raises_forbidden() -> None:
    with pytest.raises(Forbidden, match="user:delete"):
        require(principal(), "user:delete", tenant_id="ta")


def test_can_grant_only_what_one_holds() -> None:
    app_admin = principal(PermissionGrant("user:read", Boundary.APPLICATION))
    tenant_admin = principal(PermissionGrant("user:read", Boundary.TENANT))
    wide = PermissionGrant("user:read", Boundary.APPLICATION)
    narrow = PermissionGrant("user:read", Boundary.TENANT)
    assert app_admin.can_grant(wide, "tb") and app_admin.can_grant(narrow, None)
    assert tenant_admin.can_grant(narrow, "ta")
    assert tenant_admin.can_grant(PermissionGrant("user:read", Boundary.SELF), "ta")
    assert not tenant_admin.can_grant(narrow, "tb")
    assert not tenant_admin.can_grant(wide, "ta")
    assert not tenant_admin.can_grant(PermissionGrant("user:read", Boundary.TENANT_EXCLUSION_LIST, ("x",)), "ta")
    assert not tenant_admin.can_grant(PermissionGrant("user:delete", Boundary.TENANT), "ta")


def test_operator_holds_everything() -> None:
    operator = Principal.operator("app")
    assert operator.allows("client:create", tenant_id=None)
    assert operator.can_grant(PermissionGrant("tenant:delete", Boundary.APPLICATION), None)
