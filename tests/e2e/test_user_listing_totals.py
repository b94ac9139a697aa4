"""Users listings' totals: exact for the API; the dashboard asks for an exact count only up to a
bound, past which PostgreSQL gives its planner's estimate, labelled "About" (SQLite counts). A
search's total is counted with its page, or alone when the page is empty. No filter, or ``eq`` on
the status or the provider, is answered exactly from ``user_counts`` (kept by triggers), whatever
the bound."""

from __future__ import annotations

import pytest

from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.adapters.sql.repositories import users as users_repository
from tenantry.core.access import Principal
from tenantry.core.ports import ListSpec
from tenantry.core.users.service import list_tenant_users
from tenantry.protocols.query import parse_query
from tenantry.web.dashboard import users as dashboard_users
from tests.e2e.test_dashboard import Admin
from tests.support import Api, rand

USERS = 6


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tenant(request: pytest.FixtureRequest) -> tuple[Api, str, str]:
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    tenant_id = api.create_tenant()["id"]
    tag = rand("")
    for i in range(USERS):
        api.create_user(tenant_id, email=f"total{i}.{tag}@example.com")
    return api, tenant_id, request.param


def test_exact_up_to_the_bound_then_estimated_on_postgresql(tenant: tuple[Api, str, str]) -> None:
    api, tenant_id, db = tenant
    actor = Principal.operator(api.application_id)
    exact = list_tenant_users(api.services.core, actor, tenant_id, ListSpec(count=2, exact_total_up_to=USERS))
    assert (exact.total, exact.estimated, len(exact.items)) == (USERS, False, 2)
    unverified = parse_query("emailVerified eq false", USER_LISTING.attributes)  # counted, not in the counts
    bounded = list_tenant_users(
        api.services.core, actor, tenant_id, ListSpec(filter=unverified, count=2, exact_total_up_to=3)
    )
    if db == "postgresql":
        assert bounded.estimated and bounded.total >= 4
    else:
        assert (bounded.total, bounded.estimated) == (USERS, False)
    assert len(bounded.items) == 2
    none = ListSpec(filter=parse_query('email sw "nobody-"', USER_LISTING.attributes), exact_total_up_to=3)
    empty = list_tenant_users(api.services.core, actor, tenant_id, none)
    assert (empty.total, empty.estimated, empty.items) == (0, False, [])
    always = list_tenant_users(api.services.core, actor, tenant_id, ListSpec(count=2))
    assert (always.total, always.estimated) == (USERS, False)
    from_counts = list_tenant_users(api.services.core, actor, tenant_id, ListSpec(count=2, exact_total_up_to=3))
    assert (from_counts.total, from_counts.estimated) == (USERS, False)  # past the bound, yet exact


def test_api_total_is_always_exact(tenant: tuple[Api, str, str]) -> None:
    api, tenant_id, _ = tenant
    response = api.call("GET", f"/tenants/{tenant_id}/users", params={"count": "1"})
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == USERS


def test_dashboard_labels_an_estimate(tenant: tuple[Api, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    api, tenant_id, db = tenant
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    exact = admin.get("/dashboard/users", tenant=tenant_id, per="2")
    assert exact.status_code == 200 and f"{USERS} users" in exact.text and "Page 1 of 3" in exact.text
    monkeypatch.setattr(dashboard_users, "EXACT_TOTAL_UP_TO", 3)
    for params in ({}, {"idp": "WRISTBAND"}, {"status": "PROVISIONED"}):  # all answered from user_counts
        counted = admin.get("/dashboard/users", tenant=tenant_id, per="2", **params)
        assert counted.status_code == 200 and f"{USERS} users" in counted.text and "About " not in counted.text
    # Every filter the dashboard offers is answered exactly (from the counts, or a search's own
    # pass); the label is for a repository that had to estimate: make it count.
    monkeypatch.setattr(users_repository, "_kept_by_counts", lambda _filter: None)
    bounded = admin.get("/dashboard/users", tenant=tenant_id, per="2")
    assert bounded.status_code == 200
    if db == "postgresql":
        assert "About " in bounded.text and "Page 1 of about " in bounded.text
    else:
        assert f"{USERS} users" in bounded.text and "About " not in bounded.text


@pytest.mark.parametrize("start", ["1", "5", "100"])
def test_a_search_total_comes_with_its_page_or_without_one(tenant: tuple[Api, str, str], start: str) -> None:
    api, tenant_id, _ = tenant
    params = {"query": 'email sw "total" or familyName sw "x"', "start_index": start, "count": "2"}
    response = api.call("GET", f"/tenants/{tenant_id}/users", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalResults"] == USERS
    assert len(body["items"]) == max(0, min(2, USERS - int(start) + 1))
