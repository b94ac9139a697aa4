"""Users migrated with the password hashes of the system they leave (Create User's
``passwordHash``): they sign in with their old passwords, and the first sign-in replaces the
imported hash with this server's argon2id."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.core.users.model import User
from tests.e2e._helpers import assert_violation, user_body, user_count
from tests.e2e.oidc_helpers import PASSWORD, World, authorize_params, browser_for, callback_query, login, make_world
from tests.e2e.test_identity_providers_api import create, oidc_body
from tests.support import Api, rand
from tests.unit.test_imported_hashes import VECTORS

IMPORTED = {name: VECTORS[name] for name in ("bcrypt 2b (pyca bcrypt)", "pbkdf2_sha256 (Django)", "scrypt (Werkzeug)")}


def stored(api: Api, user_id: str) -> User:
    with api.services.core.uow(api.application_id) as uow:
        user = uow.users.get(user_id)
    assert user is not None
    return user


def imported_user(world: World, password_hash: str, **fields: Any) -> dict[str, Any]:
    body = {**user_body(world.tenant["id"]), "status": "ACTIVE", "passwordHash": password_hash, **fields}
    response = world.api.call("POST", "/users", json=body)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    assert "passwordHash" not in user and "password" not in user
    return user


@pytest.mark.parametrize("password_hash", IMPORTED.values(), ids=IMPORTED.keys())
def test_an_imported_user_signs_in_with_the_old_password_and_gets_an_argon2id_hash(
    any_api: Api, password_hash: str
) -> None:
    world = make_world(any_api)
    user = imported_user(world, password_hash)
    assert user["hasPassword"] is True
    assert stored(any_api, user["id"]).password_hash == password_hash
    with browser_for(any_api) as browser:
        challenge = "c" * 43
        refused = login(world, browser, authorize_params(world, challenge), user["email"], password="not it")
        assert refused.status_code == 401
        assert stored(any_api, user["id"]).password_hash == password_hash
        signed_in = login(world, browser, authorize_params(world, challenge), user["email"], PASSWORD)
        assert "code" in callback_query(signed_in)
    replaced = stored(any_api, user["id"]).password_hash
    assert replaced is not None and replaced.startswith("$argon2id$")
    with browser_for(any_api) as browser:
        again = login(world, browser, authorize_params(world, "d" * 43), user["email"], PASSWORD)
        assert "code" in callback_query(again)
    assert stored(any_api, user["id"]).password_hash == replaced


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"passwordHash": "5f4dcc3b5aa765d61d8327deb882cf99"}, "unrecognized_password_hash"),
        (
            {"passwordHash": "$2b$31$KF93qxSZNGm1AJYT8Y21K.7ftG7lYKnmYWk7cj4qYmoZoLz.aMXmW"},
            "unrecognized_password_hash",
        ),
        (
            {"passwordHash": IMPORTED["bcrypt 2b (pyca bcrypt)"], "password": "a fine new password 42"},
            "password_and_password_hash",
        ),
    ],
    ids=["md5", "bcrypt cost 31", "with a password"],
)
def test_a_hash_that_cannot_be_used_is_refused_and_nothing_is_created(
    any_api: Api, fields: dict[str, Any], reason: str
) -> None:
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json={**user_body(tenant["id"]), **fields})
    violation = assert_violation(response, "passwordHash", "invalid_value")
    assert violation["constraintAttributes"] == {"reason": reason}
    assert user_count(any_api, tenant["id"]) == 0


def test_users_of_an_external_provider_take_no_hash(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    provider = create(any_api, oidc_body(tenant["id"]))
    body = {
        **user_body(tenant["id"]),
        "identityProviderName": provider["name"],
        "externalId": rand("ext"),
        "passwordHash": IMPORTED["bcrypt 2b (pyca bcrypt)"],
    }
    assert_violation(any_api.call("POST", "/users", json=body), "passwordHash", "invalid_value")
    assert user_count(any_api, tenant["id"]) == 0


def test_the_field_is_limited_in_length(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = {**user_body(tenant["id"]), "passwordHash": "$2b$04$" + "a" * 2000}
    assert_violation(any_api.call("POST", "/users", json=body), "passwordHash")
    assert user_count(any_api, tenant["id"]) == 0
