"""The audit log records administrative and onboarding events, with who, what, where and when."""

from __future__ import annotations

from tests.support import Api, rand_email


def events(api: Api, token: str | None = None, **params: str) -> list[dict]:  # type: ignore[type-arg]
    response = api.call("GET", "/audit-events", token=token, params=params)
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]  # type: ignore[type-arg]
    return items


def test_user_lifecycle_is_recorded(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    user = any_api.create_user(tenant["id"])
    any_api.call(
        "PATCH",
        f"/users/{user['id']}",
        json={"givenName": "Ann", "status": "INACTIVE"},
        headers={"User-Agent": "audit-test/1.0"},
    )
    any_api.call("DELETE", f"/users/{user['id']}")
    found = events(any_api, query=f'targetId eq "{user["id"]}"')
    assert [e["action"] for e in found] == ["user.deleted", "user.updated", "user.created"]
    updated = found[1]
    assert updated["actor"] == {"type": "client", "id": any_api.m2m_id}
    assert updated["tenantId"] == tenant["id"] and updated["details"]["fields"] == ["givenName", "status"]
    assert updated["origin"]["userAgent"] == "audit-test/1.0" and updated["origin"]["ip"]


def test_failed_change_records_nothing(api: Api) -> None:
    tenant = api.create_tenant()
    email = rand_email()
    api.create_user(tenant["id"], email=email)
    assert (
        api.call(
            "POST", "/users", json={"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email}
        ).status_code
        == 400
    )
    created = events(api, query=f'tenantId eq "{tenant["id"]}" and action eq "user.created"')
    assert len(created) == 1


def test_tenant_bound_reader_sees_only_its_tenant(api: Api) -> None:
    a, b = api.create_tenant(), api.create_tenant()
    api.create_user(a["id"])
    api.create_user(b["id"])
    client_id, secret = api.create_m2m_client(a["id"])
    token = api.token_for(client_id, secret)
    seen = {e["tenantId"] for e in events(api, token=token, count="200")}
    assert seen == {a["id"]}


def test_bad_filters_are_refused(api: Api) -> None:
    assert api.call("GET", "/audit-events", params={"query": 'nope eq "x"'}).status_code == 400
