"""The signup that loses a race, made deterministic: its check for an existing user runs before
the winner's commit is visible (a stale read is patched in), so its insert meets the unique
constraint. It must then answer as a repeated signup does — the API's 201 with the same pending
user (the activation email sent again), the hosted page's "check your email" — and not tell a
signup that the address is taken. tests/reliability/test_nodes.py races real signups on two
nodes; this pins the outcome on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tenantry.adapters.sql.repositories.tenants import SqlTenantRepository
from tenantry.adapters.sql.repositories.users import SqlUserRepository
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User
from tests.support import Api, rand, rand_email

PASSWORD = "Correct-Horse-42-battery"


@pytest.fixture
def stale_first_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Emails put in the yielded set are not found by the next user lookup for them, once."""
    stale: set[str] = set()
    original = SqlUserRepository.find_for_login

    def find_for_login(self: SqlUserRepository, tenant_id: str, provider_id: str, identifier: str) -> User | None:
        if identifier.lower() in stale:
            stale.discard(identifier.lower())
            return None
        return original(self, tenant_id, provider_id, identifier)

    monkeypatch.setattr(SqlUserRepository, "find_for_login", find_for_login)
    yield stale


def users_with(api: Api, tenant_id: str, email: str) -> list[dict[str, Any]]:
    listed = api.call("GET", f"/tenants/{tenant_id}/users", params={"count": "100"})
    assert listed.status_code == 200, listed.text
    return [u for u in listed.json()["items"] if u["email"].lower() == email.lower()]


def test_a_signup_losing_the_race_for_its_address_answers_like_a_repeated_signup(
    any_api: Api, stale_first_lookup: set[str]
) -> None:
    api = any_api
    tenant = api.create_tenant(signupEnabled=True)
    email = rand_email()
    body = {"tenantId": tenant["id"], "email": email, "password": PASSWORD}
    first = api.call("POST", "/signup/provision-user", json=body)
    assert first.status_code == 201, first.text
    user = first.json()["user"]
    assert user["status"] == "PENDING_SIGNUP_ACTIVATION"

    stale_first_lookup.add(email.lower())  # the second signup does not see the first one at first
    second = api.call("POST", "/signup/provision-user", json={**body, "email": email.upper()})
    assert second.status_code == 201, second.text
    assert second.json()["user"]["id"] == user["id"]
    assert second.json()["emailAuthCodeSent"] is True
    assert not stale_first_lookup, "the lookup was not made stale: the test proves nothing"
    assert [u["id"] for u in users_with(api, tenant["id"], email)] == [user["id"]]


def test_an_organization_signup_losing_the_race_for_its_name_answers_like_a_repeated_signup(
    any_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Application-level signup: two signups of one new organization by the same person; the
    loser's tenant insert meets the winner's tenant, and the second run joins the winner's signup."""
    api = any_api
    original = SqlTenantRepository.get_by_domain_name
    stale: set[str] = set()

    def get_by_domain_name(self: SqlTenantRepository, domain_name: str) -> Tenant | None:
        if domain_name in stale:
            stale.discard(domain_name)
            return None
        return original(self, domain_name)

    monkeypatch.setattr(SqlTenantRepository, "get_by_domain_name", get_by_domain_name)
    path = f"/applications/{api.application_id}"
    assert api.call("PATCH", path, json={"signupEnabled": True}).status_code == 200
    try:
        name = rand("org")
        body = {"applicationId": api.application_id, "tenantName": name, "email": rand_email(), "password": PASSWORD}
        first = api.call("POST", "/signup/provision-user", json=body)
        assert first.status_code == 201, first.text

        stale.add(name)  # the second signup does not see the first one's tenant at first
        second = api.call("POST", "/signup/provision-user", json=body)
        assert second.status_code == 201, second.text
        assert second.json()["tenantId"] == first.json()["tenantId"]
        assert second.json()["user"]["id"] == first.json()["user"]["id"]
        assert not stale, "the lookup was not made stale: the test proves nothing"

        stale.add(name)  # someone else's signup of the taken name: told so on the right field
        other = api.call("POST", "/signup/provision-user", json={**body, "email": rand_email()})
        assert other.status_code == 400, other.text
        assert other.json()["violations"] == {"tenantName": [{"code": "not_unique"}]}
    finally:
        assert api.call("PATCH", path, json={"signupEnabled": False}).status_code == 200
