"""Role-assignment policies name roles; names no role has are refused when the policy is saved."""

from __future__ import annotations

from tests.e2e._helpers import assert_violation, create_role
from tests.support import Api


def test_unknown_role_names_are_refused_and_nothing_is_stored(api: Api) -> None:
    tenant = api.create_tenant()
    path = f"/tenants/{tenant['id']}/role-assignment-policies"
    before = api.call("POST", f"{path}/resolve-overrides")
    assert before.status_code == 200, before.text
    refused = api.call("PUT", path, json={"defaultRoles": ["user", "no-such-role-anywhere"]})
    assert assert_violation(refused, "defaultRoles", "role_not_found")
    assert api.call("POST", f"{path}/resolve-overrides").json() == before.json()


def test_application_and_own_tenant_roles_are_accepted(api: Api) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    own = create_role(api, tenant["id"], ["user:read"])
    theirs = create_role(api, other["id"], ["user:read"])
    path = f"/tenants/{tenant['id']}/role-assignment-policies"
    saved = api.call("PUT", path, json={"defaultRoles": ["user", own["name"]]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["defaultRoles"] == ["user", own["name"]]
    foreign = api.call("PUT", path, json={"defaultRoles": [theirs["name"]]})
    assert_violation(foreign, "defaultRoles", "role_not_found")
