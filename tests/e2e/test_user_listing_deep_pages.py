"""Users listings far from the start, and searches: past ``DEFERRED_OFFSET`` (or for a prefix
search, on any page) the page's ids are found first and its rows read after. The pages must be
exactly the slices of the whole sorted listing, with the same total, for every sort, with
filters on the user's own columns and on the joined identity provider, for a tenant's listing
and the application's."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.adapters.sql.listing import DEFERRED_OFFSET
from tests.support import Api, rand

USERS = DEFERRED_OFFSET + 30
STATUSES = ("ACTIVE", "PROVISIONED", "PROVISIONED")
FAMILIES = ("Adams", "Brown", "Clark", "Doe", "Evans")  # repeated: ties broken by the id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest) -> tuple[Api, str]:
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    tenant = api.create_tenant()
    tag = rand("")
    for i in range(USERS):
        api.create_user(
            tenant["id"],
            email=f"deep{i:04d}.{tag}@example.com",
            givenName=f"Given{i % 7}",
            familyName=FAMILIES[i % len(FAMILIES)],
            status=STATUSES[i % len(STATUSES)],
        )
    return api, tenant["id"]


def listing(api: Api, path: str, **params: str) -> dict[str, Any]:
    response = api.call("GET", path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("sort_by", "query"),
    [
        ("email:asc", None),
        ("familyName:desc", None),
        ("creationTime:asc,familyName:desc", None),
        ("status:asc", None),
        ("familyName:asc", 'familyName ne "Adams" and status eq "PROVISIONED" or status eq "ACTIVE"'),
        ("email:desc", 'identityProviderName eq "wristband"'),
        ("identityProviderName:asc,email:asc", None),
        ("familyName:desc", 'email sw "deep"'),  # searches: matches first, then sorted
        ("creationTime:desc", 'familyName sw "Ad" or email sw "deep" or givenName sw "Given1"'),
    ],
)
@pytest.mark.parametrize("scope", ["tenant", "application"])
def test_deep_pages_are_slices_of_the_whole_listing(
    seeded: tuple[Api, str], sort_by: str, query: str | None, scope: str
) -> None:
    api, tenant_id = seeded
    if scope == "tenant":
        path, extra = f"/tenants/{tenant_id}/users", query
    else:
        mine = f'tenantId eq "{tenant_id}"'
        path, extra = f"/applications/{api.application_id}/users", f"{mine} and ({query})" if query else mine
    params = {"sort_by": sort_by, **({"query": extra} if extra else {})}
    whole = listing(api, path, **params, count=str(USERS))
    ids = [u["id"] for u in whole["items"]]
    assert whole["totalResults"] == len(ids) > DEFERRED_OFFSET
    for start in (DEFERRED_OFFSET - 3, DEFERRED_OFFSET + 1, len(ids) - 2):
        page = listing(api, path, **params, start_index=str(start), count="7")
        assert page["totalResults"] == len(ids)
        assert [u["id"] for u in page["items"]] == ids[start - 1 : start - 1 + 7]
