"""POST/GET/PATCH/DELETE /users (Wristband API §4.1, §6.1)."""

from __future__ import annotations

import pytest

from tests.e2e._helpers import ID, assert_base_error, assert_violation, user_body, user_count
from tests.support import rand, rand_email

PROFILE = {
    "username": "jane.doe",
    "externalId": "ext-123",
    "fullName": "Jane Q. Doe",
    "givenName": "Jane",
    "familyName": "Doe",
    "middleName": "Quinn",
    "honorificPrefix": "Dr.",
    "honorificSuffix": "PhD",
    "nickname": "JD",
    "displayName": "Jane D.",
    "pictureUrl": "https://cdn.example.com/jane.png",
    "gender": "female",
    "birthdate": "1990-04-17",
    "phoneNumber": "+14155550123",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timeZone": "America/New_York",
}


def test_create_user_echoes_every_profile_field(any_api):
    tenant = any_api.create_tenant()
    body = {
        **user_body(tenant["id"]),
        **PROFILE,
        "username": rand("jane"),
        "emailVerified": True,
        "publicMetadata": {"plan": "gold", "seats": 3, "tags": ["a", "b"]},
        "restrictedMetadata": {"internal": {"score": 7}},
    }
    response = any_api.call("POST", "/users", json=body)
    assert response.status_code == 201, response.text
    user = response.json()
    for name, value in body.items():
        assert user[name] == value, name
    assert ID.match(user["id"])
    assert user["applicationId"] == any_api.application_id
    assert user["identityProviderType"] == "WRISTBAND"
    assert user["status"] == "PROVISIONED"
    assert user["hasPassword"] is False
    assert user["metadata"]["version"] == "1"
    assert {"creationTime", "lastModifiedTime"} <= set(user["metadata"])
    assert "activationTime" not in user["metadata"]
    fetched = any_api.call("GET", f"/users/{user['id']}")
    assert fetched.status_code == 200 and fetched.json() == user


def test_create_user_defaults(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    assert user["status"] == "PROVISIONED"
    assert user["emailVerified"] is False
    assert user["publicMetadata"] == {} and user["restrictedMetadata"] == {}
    assert all(user[name] is None for name in PROFILE)


def test_create_user_tolerates_the_import_tools_roles_field(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], roles="admin,viewer"))
    assert response.status_code == 201, response.text
    assert ID.match(response.json()["id"])


def test_create_active_user_sets_activation_time(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], status="ACTIVE")
    assert user["status"] == "ACTIVE"
    assert user["metadata"]["activationTime"]


@pytest.mark.parametrize("status", ["INACTIVE", "PENDING_INVITE_ACTIVATION", "PENDING_SIGNUP_ACTIVATION", "BOGUS"])
def test_create_user_refuses_other_statuses(any_api, status):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], status=status))
    assert_violation(response, "status")
    assert user_count(any_api, tenant["id"]) == 0


def test_password_is_accepted_and_never_echoed(any_api):
    tenant = any_api.create_tenant()
    secret = "Tr0ub4dor&3-horse-battery"
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], password=secret))
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["hasPassword"] is True
    fetched = any_api.call("GET", f"/users/{user['id']}")
    listed = any_api.call("GET", f"/tenants/{tenant['id']}/users")
    for text in (response.text, fetched.text, listed.text):
        assert secret not in text
        assert "password" not in text.replace("hasPassword", "")
    assert fetched.json()["hasPassword"] is True


@pytest.mark.parametrize("kind", ["common", "short", "email", "email-local-part"])
def test_weak_password_is_refused(any_api, kind):
    tenant = any_api.create_tenant()
    body = user_body(tenant["id"])
    body["password"] = {
        "common": "password1",
        "short": "x7!Kq",
        "email": body["email"],
        "email-local-part": body["email"].split("@")[0],
    }[kind]
    response = any_api.call("POST", "/users", json=body)
    assert_violation(response, "password")
    assert user_count(any_api, tenant["id"]) == 0


def test_duplicate_email_is_not_unique_case_insensitively(any_api):
    tenant = any_api.create_tenant()
    local = rand("dup")
    any_api.create_user(tenant["id"], email=f"{local.upper()}@Example.com")
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], email=f"{local}@example.com"))
    assert_violation(response, "email", "not_unique")
    assert user_count(any_api, tenant["id"]) == 1
    assert user_count(any_api, tenant["id"], f'email eq "{local}@example.com"') == 1


def test_same_email_in_another_tenant_is_allowed(any_api):
    email = rand_email()
    first = any_api.create_user(any_api.create_tenant()["id"], email=email)
    second = any_api.create_user(any_api.create_tenant()["id"], email=email)
    assert first["id"] != second["id"] and first["email"] == second["email"] == email


def test_duplicate_external_id_is_not_unique(any_api):
    tenant = any_api.create_tenant()
    external = rand("ext")
    any_api.create_user(tenant["id"], externalId=external)
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], externalId=external))
    assert_violation(response, "externalId", "not_unique")
    assert user_count(any_api, tenant["id"]) == 1


def test_duplicate_username_is_not_unique(any_api):
    tenant = any_api.create_tenant()
    name = rand("name")
    any_api.create_user(tenant["id"], username=name)
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], username=name.upper()))
    assert_violation(response, "username", "not_unique")
    assert user_count(any_api, tenant["id"]) == 1


def test_identity_provider_name_is_case_insensitive(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], identityProviderName="Wristband"))
    assert response.status_code == 201, response.text
    assert response.json()["identityProviderType"] == "WRISTBAND"


def test_unknown_identity_provider_is_refused(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], identityProviderName="nope-idp"))
    assert_violation(response, "identityProviderName")
    assert user_count(any_api, tenant["id"]) == 0


def test_unknown_tenant_is_404(any_api):
    response = any_api.call("POST", "/users", json=user_body("a" * 26))
    assert_base_error(response, 404, "tenant_not_found")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phoneNumber", "415-555-0123"),
        ("phoneNumber", "+0123"),
        ("birthdate", "not-a-date"),
        ("birthdate", "1990-02-30"),
        ("birthdate", "17/04/1990"),
        ("timeZone", "Mars/Olympus_Mons"),
        ("email", "not-an-email"),
        ("email", "two@@example.com"),
        ("pictureUrl", "javascript:alert(1)"),
    ],
)
def test_invalid_formats_are_refused(any_api, field, value):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json={**user_body(tenant["id"]), field: value})
    assert_violation(response, field, "invalid_format")
    assert user_count(any_api, tenant["id"]) == 0


@pytest.mark.parametrize(("field", "limit"), [("givenName", 200), ("familyName", 200), ("externalId", 200)])
def test_too_long_fields_are_refused(any_api, field, limit):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], **{field: "x" * (limit + 1)}))
    violation = assert_violation(response, field, "too_long")
    assert violation["constraintAttributes"]["maxLength"] == str(limit)
    assert user_count(any_api, tenant["id"]) == 0


def test_fields_at_their_limit_are_accepted(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="x" * 200, phoneNumber="+" + "1" * 15)
    assert len(user["givenName"]) == 200


def test_too_long_email_is_refused(any_api):
    tenant = any_api.create_tenant()
    response = any_api.call("POST", "/users", json=user_body(tenant["id"], email="a" * 190 + "@example.com"))
    violation = assert_violation(response, "email", "too_long")
    assert violation["constraintAttributes"]["maxLength"] == "200"


def test_get_with_fields_selects_nested_paths(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="Ann")
    response = any_api.call("GET", f"/users/{user['id']}", params={"fields": "id,email,metadata.version"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": user["id"], "email": user["email"], "metadata": {"version": "1"}}


def test_get_unknown_user_is_404(any_api):
    assert_base_error(any_api.call("GET", f"/users/{'b' * 26}"), 404, "user_not_found")


def test_patch_changes_only_sent_fields_and_bumps_version(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="Ann", familyName="Lee", nickname="al")
    first = any_api.call("PATCH", f"/users/{user['id']}", json={"givenName": "Anna"})
    assert first.status_code == 200, first.text
    doc = first.json()
    assert doc["givenName"] == "Anna"
    assert doc["familyName"] == "Lee" and doc["nickname"] == "al" and doc["email"] == user["email"]
    assert doc["metadata"]["version"] == "2"
    assert doc["metadata"]["creationTime"] == user["metadata"]["creationTime"]
    second = any_api.call("PATCH", f"/users/{user['id']}", json={"publicMetadata": {"k": "v"}, "locale": "fr-FR"})
    assert second.status_code == 200, second.text
    assert second.json()["metadata"]["version"] == "3"
    fetched = any_api.call("GET", f"/users/{user['id']}").json()
    assert fetched["givenName"] == "Anna" and fetched["locale"] == "fr-FR" and fetched["publicMetadata"] == {"k": "v"}
    assert fetched["metadata"]["version"] == "3"


def test_patch_null_clears_a_field(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="Ann", timeZone="Europe/Paris", externalId=rand("e"))
    response = any_api.call("PATCH", f"/users/{user['id']}", json={"givenName": None, "timeZone": None})
    assert response.status_code == 200, response.text
    fetched = any_api.call("GET", f"/users/{user['id']}").json()
    assert fetched["givenName"] is None and fetched["timeZone"] is None
    assert fetched["externalId"] == user["externalId"]


def test_patch_email_resets_email_verified(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], emailVerified=True)
    new_email = rand_email()
    response = any_api.call("PATCH", f"/users/{user['id']}", json={"email": new_email})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == new_email
    assert response.json()["emailVerified"] is False
    assert any_api.call("GET", f"/users/{user['id']}").json()["emailVerified"] is False


def test_patch_email_to_a_taken_email_is_not_unique(any_api):
    tenant = any_api.create_tenant()
    taken = any_api.create_user(tenant["id"])
    user = any_api.create_user(tenant["id"])
    response = any_api.call("PATCH", f"/users/{user['id']}", json={"email": taken["email"].upper()})
    assert_violation(response, "email", "not_unique")
    fetched = any_api.call("GET", f"/users/{user['id']}").json()
    assert fetched["email"] == user["email"] and fetched["metadata"]["version"] == "1"


def test_patch_status_records_activation_and_deactivation(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    active = any_api.call("PATCH", f"/users/{user['id']}", json={"status": "ACTIVE"})
    assert active.status_code == 200 and active.json()["metadata"]["activationTime"]
    inactive = any_api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"})
    assert inactive.status_code == 200 and inactive.json()["status"] == "INACTIVE"
    assert inactive.json()["metadata"]["deactivationTime"]


@pytest.mark.parametrize(
    "change",
    [
        {"phoneNumber": "12345"},
        {"givenName": "x" * 201},
        {"email": None},
        {"status": "BOGUS"},
        {"emailVerified": "maybe"},
    ],
)
def test_invalid_patch_changes_nothing(any_api, change):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"], givenName="Ann")
    response = any_api.call("PATCH", f"/users/{user['id']}", json={"familyName": "Changed", **change})
    assert_violation(response, next(iter(change)))
    fetched = any_api.call("GET", f"/users/{user['id']}").json()
    assert fetched == user


def test_patch_unknown_user_is_404(any_api):
    assert_base_error(any_api.call("PATCH", f"/users/{'c' * 26}", json={"givenName": "x"}), 404, "user_not_found")


def test_delete_user(any_api):
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    response = any_api.call("DELETE", f"/users/{user['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_base_error(any_api.call("GET", f"/users/{user['id']}"), 404, "user_not_found")
    assert_base_error(any_api.call("DELETE", f"/users/{user['id']}"), 404, "user_not_found")
    assert user_count(any_api, tenant["id"]) == 0
    # The email is free again.
    again = any_api.call("POST", "/users", json=user_body(tenant["id"], email=user["email"]))
    assert again.status_code == 201, again.text
