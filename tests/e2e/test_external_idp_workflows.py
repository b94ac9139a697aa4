"""The workflow APIs of self-hosted enterprise-SSO pages: ``verify-user`` (the user of that IdP
with that external id exists and is active) and ``provision-user`` (what a JIT login does)."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.core.identity_providers.model import (
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
    RoleMapping,
)
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.roles.model import OwnerType
from tests.e2e._helpers import assert_base_error, assert_denied, assert_violation, create_role, token_with_permissions
from tests.support import Api, rand

PERMISSION = "external-idp-login-workflow:execute"


def add_provider(
    api: Api, tenant_id: str, *, jit: bool = True, mappings: tuple[RoleMapping, ...] = ()
) -> IdentityProvider:
    now = api.services.core.clock.now()
    provider = IdentityProvider(
        id=new_id(),
        application_id=api.application_id,
        owner_type=OwnerType.TENANT,
        owner_id=tenant_id,
        type=IdentityProviderType.OKTA,
        name=rand("okta"),
        display_name="Okta",
        status=IdentityProviderStatus.ENABLED,
        jit_provisioning_enabled=jit,
        metadata=EntityMetadata.new(now),
        protocol={"type": "OIDC", "issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s"},
        role_mappings=mappings,
    )
    with api.services.core.uow(api.application_id, write=True) as uow:
        uow.identity_providers.add(provider)
        uow.commit()
    return provider


def body(tenant_id: str, provider: IdentityProvider, **fields: Any) -> dict[str, Any]:
    return {"tenantId": tenant_id, "identityProviderName": provider.name, "externalId": rand("sub"), **fields}


def roles_of(api: Api, user_id: str) -> set[str]:
    response = api.call("GET", f"/users/{user_id}/roles")
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def test_provision_creates_an_active_user_of_the_idp_and_resyncs_later(api: Api) -> None:
    tenant = api.create_tenant()
    admins = create_role(api, tenant["id"], ["user:read"])
    provider = add_provider(api, tenant["id"], mappings=(RoleMapping("Admins", (admins["id"],)),))
    first = body(tenant["id"], provider, email=f"{rand('e')}@corp.example", givenName="Ada", groups=["admins"])
    created = api.call("POST", "/external-idp-login/provision-user", json=first)
    assert created.status_code == 201, created.text
    user = created.json()["user"]
    assert created.json()["created"] is True
    assert user["status"] == "ACTIVE" and user["externalId"] == first["externalId"]
    assert user["identityProviderName"] == provider.name and user["givenName"] == "Ada"
    assert admins["id"] in roles_of(api, user["id"])

    again = api.call(
        "POST", "/external-idp-login/provision-user", json={**first, "givenName": "Augusta", "groups": ["staff"]}
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False and again.json()["user"]["id"] == user["id"]
    assert again.json()["user"]["givenName"] == "Augusta"
    assert admins["id"] not in roles_of(api, user["id"])  # left the mapped group: the mapped role goes

    verified = api.call(
        "POST", "/external-idp-login/verify-user", json={k: first[k] for k in body(tenant["id"], provider)}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["id"] == user["id"]


def test_verify_user_not_found_and_not_active(api: Api) -> None:
    tenant = api.create_tenant()
    provider = add_provider(api, tenant["id"])
    missing = api.call("POST", "/external-idp-login/verify-user", json=body(tenant["id"], provider))
    assert_base_error(missing, 404, "user_not_found")
    doc = body(tenant["id"], provider, email=f"{rand('e')}@corp.example")
    user = api.call("POST", "/external-idp-login/provision-user", json=doc).json()["user"]
    patched = api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"})
    assert patched.status_code == 200, patched.text
    inactive = api.call(
        "POST",
        "/external-idp-login/verify-user",
        json={k: doc[k] for k in ("tenantId", "identityProviderName", "externalId")},
    )
    assert_base_error(inactive, 400, "user_not_active")


def test_same_email_under_the_built_in_idp_stays_a_different_user(api: Api) -> None:
    tenant = api.create_tenant()
    email = f"{rand('e')}@corp.example"
    local = api.call(
        "POST", "/users", json={"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email}
    )
    assert local.status_code == 201, local.text
    provider = add_provider(api, tenant["id"])
    sso = api.call("POST", "/external-idp-login/provision-user", json=body(tenant["id"], provider, email=email))
    assert sso.status_code == 201, sso.text
    assert sso.json()["user"]["id"] != local.json()["id"]


def test_jit_off_refuses_provisioning_and_creates_nothing(api: Api) -> None:
    tenant = api.create_tenant()
    provider = add_provider(api, tenant["id"], jit=False)
    doc = body(tenant["id"], provider, email=f"{rand('e')}@corp.example")
    refused = api.call("POST", "/external-idp-login/provision-user", json=doc)
    assert_base_error(refused, 400, "jit_provisioning_disabled")
    check = api.call(
        "POST",
        "/external-idp-login/verify-user",
        json={k: doc[k] for k in ("tenantId", "identityProviderName", "externalId")},
    )
    assert_base_error(check, 404, "user_not_found")


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("phoneNumber", "555-1234"), ("birthdate", "31/12/1990"), ("groups", [""])],
)
def test_bad_input_is_refused_with_violations(api: Api, field: str, value: Any) -> None:
    tenant = api.create_tenant()
    provider = add_provider(api, tenant["id"])
    doc = body(tenant["id"], provider, email=f"{rand('e')}@corp.example")
    doc[field] = value
    assert_violation(api.call("POST", "/external-idp-login/provision-user", json=doc), field)
    check = api.call(
        "POST",
        "/external-idp-login/verify-user",
        json={k: doc[k] for k in ("tenantId", "identityProviderName", "externalId")},
    )
    assert_base_error(check, 404, "user_not_found")


def test_unknown_provider_or_built_in_provider_is_not_found(api: Api) -> None:
    tenant = api.create_tenant()
    unknown = {"tenantId": tenant["id"], "identityProviderName": "nope", "externalId": "x"}
    assert_base_error(api.call("POST", "/external-idp-login/verify-user", json=unknown), 404)
    built_in = {**unknown, "identityProviderName": "wristband"}
    assert_base_error(api.call("POST", "/external-idp-login/verify-user", json=built_in), 404)


def test_permission_and_tenant_boundary(api: Api) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    provider = add_provider(api, tenant["id"])
    doc = body(tenant["id"], provider, email=f"{rand('e')}@corp.example")
    without = token_with_permissions(api, tenant["id"], ["user:read"])
    assert_denied(api.call("POST", "/external-idp-login/provision-user", without, json=doc))
    foreign = token_with_permissions(api, other["id"], [PERMISSION])
    assert_denied(api.call("POST", "/external-idp-login/provision-user", foreign, json=doc))
    allowed = token_with_permissions(api, tenant["id"], [PERMISSION])
    assert api.call("POST", "/external-idp-login/provision-user", allowed, json=doc).status_code == 201
