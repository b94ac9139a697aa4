"""Create User's fast path (``web/api/fast_users``) answers as the regular route would: the same
201 document, the same errors from the same handlers; and it leaves to the route every request
it cannot take (an uncached caller, a body the model refuses, not JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.core.errors import Forbidden
from tenantry.web.api import fast_users
from tests.e2e._helpers import assert_base_error, assert_violation, user_body, user_count
from tests.support import Api


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The bodies the fast path created users from (the route calls ``created_user`` itself)."""
    calls: list[dict[str, Any]] = []
    original = fast_users.created_user

    def spy(core: Any, actor: Any, body: Any) -> dict[str, Any]:
        calls.append(body.model_dump(exclude_unset=True))
        return original(core, actor, body)

    monkeypatch.setattr(fast_users, "created_user", spy)
    return calls


def test_a_cached_caller_is_served_by_the_fast_path_as_by_the_route(api: Api, fast_calls: list[Any]) -> None:
    tenant = api.create_tenant()  # the caller is now authenticated and cached
    body = user_body(tenant["id"], givenName="Zoë", publicMetadata={"plan": ["pro", 1, None]}, status="ACTIVE")
    created = api.call("POST", "/users", json=body)
    assert created.status_code == 201, created.text
    assert [call["email"] for call in fast_calls] == [body["email"]]
    assert created.headers["content-type"] == "application/json" and created.headers["x-request-id"]
    assert "Zoë".encode() in created.content  # rendered as FastAPI renders: UTF-8, not \u escapes
    # The same document the regular route shows for the user.
    assert created.json() == api.call("GET", f"/users/{created.json()['id']}").json()
    assert created.json()["givenName"] == "Zoë" and created.json()["status"] == "ACTIVE"
    assert user_count(api, tenant["id"]) == 1


def test_the_audit_event_carries_the_requests_origin(api: Api, fast_calls: list[Any]) -> None:
    tenant = api.create_tenant()
    created = api.call("POST", "/users", json=user_body(tenant["id"]), headers={"User-Agent": "fast-path/1.0"})
    assert created.status_code == 201 and len(fast_calls) == 1
    user_id = created.json()["id"]
    found = api.call("GET", "/audit-events", params={"query": f'targetId eq "{user_id}" and action eq "user.created"'})
    assert found.status_code == 200, found.text
    (event,) = found.json()["items"]
    assert event["origin"]["userAgent"] == "fast-path/1.0" and event["origin"]["ip"]
    assert event["actor"] == {"type": "client", "id": api.m2m_id}


def test_use_case_errors_get_the_applications_answers(api: Api, fast_calls: list[Any]) -> None:
    tenant = api.create_tenant()
    body = user_body(tenant["id"])
    assert api.call("POST", "/users", json=body).status_code == 201
    again = api.call("POST", "/users", json=body)
    assert_violation(again, "email")  # the address is taken: the core's ConstraintViolations
    unknown = api.call("POST", "/users", json=user_body("n" * 26))
    assert_base_error(unknown, 404, "tenant_not_found")
    no_provider = api.call("POST", "/users", json=user_body(tenant["id"], identityProviderName="nobody"))
    assert_violation(no_provider, "identityProviderName")
    assert len(fast_calls) == 4  # every one of them went through the fast path
    assert user_count(api, tenant["id"]) == 1


def test_requests_it_cannot_take_go_to_the_route(api: Api, fast_calls: list[Any]) -> None:
    tenant = api.create_tenant()
    wrong_type = api.call("POST", "/users", json=user_body(tenant["id"], emailVerified="maybe"))
    assert_violation(wrong_type, "emailVerified")
    not_json = api.call("POST", "/users", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_base_error(not_json, 400, "invalid_request")
    as_form = api.call("POST", "/users", data={"tenantId": tenant["id"]})
    assert as_form.status_code == 400
    unknown_token = api.client.post(
        "/api/v1/users", json=user_body(tenant["id"]), headers={"Authorization": "Bearer not-a-token"}
    )
    assert_base_error(unknown_token, 401)
    assert fast_calls == []
    assert user_count(api, tenant["id"]) == 0


def test_unexpected_errors_are_answered_by_the_applications_handlers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = api.create_tenant()

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(fast_users, "created_user", broken)
    failed = api.call("POST", "/users", json=user_body(tenant["id"]))
    assert_base_error(failed, 500, "server_error")

    def refused(*_: Any) -> dict[str, Any]:
        raise Forbidden("not allowed here")

    monkeypatch.setattr(fast_users, "created_user", refused)
    assert_base_error(api.call("POST", "/users", json=user_body(tenant["id"])), 403)
