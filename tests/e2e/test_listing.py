"""List conventions (Wristband API §3.1): envelope, paging, sort_by, query, fields."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support import Api, rand

# (givenName, familyName, emailVerified, status)
PEOPLE = [
    ("Zed", "Adams", True, "ACTIVE"),
    ("Amy", "Adams", False, "PROVISIONED"),
    ("Bob", "Brown", True, "ACTIVE"),
    ("Bea", "Brown", False, "PROVISIONED"),
    ("Cal", "Clark", True, "PROVISIONED"),
    ("Cy", "Clark", False, "ACTIVE"),
    ("Dan", "Doe", False, "PROVISIONED"),
]


@dataclass
class Dataset:
    api: Api
    tenant_id: str
    ids: dict[str, str]  # givenName -> id
    emails: dict[str, str]

    @property
    def path(self) -> str:
        return f"/tenants/{self.tenant_id}/users"

    def get(self, **params: str) -> dict:
        response = self.api.call("GET", self.path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def names(self, **params: str) -> list[str]:
        return [u["givenName"] for u in self.get(**params)["items"]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def data(request: pytest.FixtureRequest) -> Dataset:
    """Seven users in a tenant of their own; the tests only read them."""
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    tenant = api.create_tenant()
    tag = rand("")
    ids, emails = {}, {}
    for given, family, verified, status in PEOPLE:
        email = f"{given}.{family}.{tag}@Example.COM" if given == "Dan" else f"{given.lower()}.{tag}@example.com"
        user = api.create_user(
            tenant["id"], givenName=given, familyName=family, emailVerified=verified, status=status, email=email
        )
        ids[given], emails[given] = user["id"], email
    return Dataset(api, tenant["id"], ids, emails)


def test_envelope(data):
    page = data.get()
    assert set(page) == {"totalResults", "startIndex", "itemsPerPage", "items"}
    assert page["totalResults"] == 7 and page["startIndex"] == 1 and page["itemsPerPage"] == 7
    assert {u["id"] for u in page["items"]} == set(data.ids.values())


def test_count_zero_returns_only_the_total(data):
    assert data.get(count="0") == {"totalResults": 7, "startIndex": 1, "itemsPerPage": 0, "items": []}


@pytest.mark.parametrize("name", ["start_index", "startIndex"])
def test_start_index_spellings(data, name):
    everything = data.names(sort_by="givenName")
    page = data.get(sort_by="givenName", count="2", **{name: "3"})
    assert page["startIndex"] == 3 and page["itemsPerPage"] == 2
    assert [u["givenName"] for u in page["items"]] == everything[2:4]


@pytest.mark.parametrize("name", ["start_index", "startIndex"])
def test_start_index_zero_reads_as_one(data, name):
    page = data.get(sort_by="givenName", count="2", **{name: "0"})
    assert page["startIndex"] == 1
    assert [u["givenName"] for u in page["items"]] == data.names(sort_by="givenName")[:2]


def test_start_index_past_the_end_is_empty(data):
    page = data.get(start_index="8")
    assert page["totalResults"] == 7 and page["items"] == [] and page["itemsPerPage"] == 0


def test_paging_without_overlap(data):
    seen: list[str] = []
    sizes = []
    for start in (1, 4, 7):
        page = data.get(start_index=str(start), count="3")
        assert page["totalResults"] == 7 and page["startIndex"] == start
        sizes.append(page["itemsPerPage"])
        seen.extend(u["id"] for u in page["items"])
    assert sizes == [3, 3, 1]
    assert len(seen) == len(set(seen)) == 7 and set(seen) == set(data.ids.values())


def test_paging_a_sorted_listing(data):
    full = data.names(sort_by="familyName:desc,givenName:asc")
    pages = [data.names(sort_by="familyName:desc,givenName:asc", start_index=str(s), count="3") for s in (1, 4, 7)]
    assert [name for page in pages for name in page] == full


def test_sort_by_family_asc_given_desc(data):
    assert data.names(sort_by="familyName:asc,givenName:desc") == ["Zed", "Amy", "Bob", "Bea", "Cy", "Cal", "Dan"]


def test_sort_by_defaults_to_ascending_and_ignores_case_of_attribute(data):
    assert data.names(sort_by="GIVENNAME") == sorted(g for g, *_ in PEOPLE)
    assert data.names(sort_by="givenName:DESC") == sorted((g for g, *_ in PEOPLE), reverse=True)


QUERIES = [
    ('familyName eq "Adams"', {"Zed", "Amy"}),
    ('familyName ne "Adams"', {"Bob", "Bea", "Cal", "Cy", "Dan"}),
    ('givenName sw "B"', {"Bob", "Bea"}),
    ('familyName in ("Adams", "Doe")', {"Zed", "Amy", "Dan"}),
    ('familyName nin ("Adams","Doe")', {"Bob", "Bea", "Cal", "Cy"}),
    ('familyName eq "Brown" and emailVerified eq true', {"Bob"}),
    ('familyName eq "Doe" or givenName eq "Cy"', {"Dan", "Cy"}),
    ('(familyName eq "Adams" or familyName eq "Clark") and status eq "ACTIVE"', {"Zed", "Cy"}),
    ('familyName eq "Adams" or familyName eq "Clark" and status eq "ACTIVE"', {"Zed", "Amy", "Cy"}),
    ('FamilyName EQ "Adams" AND GIVENNAME eq "Amy"', {"Amy"}),
    ('familyName   eq    "Doe"', {"Dan"}),
    ("emailVerified eq true", {"Zed", "Bob", "Cal"}),
    ("emailVerified eq false", {"Amy", "Bea", "Cy", "Dan"}),
    ('status in ("ACTIVE")', {"Zed", "Bob", "Cy"}),
    ('status in ("ACTIVE", "PROVISIONED") and emailVerified eq false', {"Amy", "Bea", "Cy", "Dan"}),
    ('status eq "INACTIVE"', set()),
    ('givenName eq "zed"', set()),
    ('givenName sw "%"', set()),
    ('givenName sw "B_"', set()),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=range(len(QUERIES)))
def test_query(data, query, expected):
    page = data.get(query=query, count="100")
    assert {u["givenName"] for u in page["items"]} == expected
    assert page["totalResults"] == len(expected)


@pytest.mark.parametrize("attribute", ["email", "EMAIL", "Email"])
def test_email_eq_is_case_insensitive(data, attribute):
    stored = data.emails["Dan"]
    for value in (stored, stored.lower(), stored.upper()):
        assert data.names(query=f'{attribute} eq "{value}"') == ["Dan"]


def test_email_sw_is_case_insensitive(data):
    assert data.names(query=f'email sw "{data.emails["Dan"][:5].lower()}"') == ["Dan"]


def test_fields_selection(data):
    page = data.get(fields="id,email", sort_by="givenName")
    assert page["totalResults"] == 7
    assert all(set(u) == {"id", "email"} for u in page["items"])
    assert page["items"][0] == {"id": data.ids["Amy"], "email": data.emails["Amy"]}


def test_nested_fields_selection(data):
    page = data.get(fields="givenName,metadata.version", query='givenName eq "Cy"')
    assert page["items"] == [{"givenName": "Cy", "metadata": {"version": "1"}}]


def test_application_listing_with_tenant_filter(data):
    response = data.api.call(
        "GET",
        f"/applications/{data.api.application_id}/users",
        params={"query": f'tenantId eq "{data.tenant_id}" and familyName eq "Clark"', "sort_by": "givenName"},
    )
    assert response.status_code == 200, response.text
    assert [u["givenName"] for u in response.json()["items"]] == ["Cal", "Cy"]


def test_tenant_listing_is_confined_to_the_tenant(data):
    other = data.api.create_tenant()
    data.api.create_user(other["id"], familyName="Adams")
    assert data.get(query='familyName eq "Adams"')["totalResults"] == 2


def test_tenant_domain_name_query_is_case_insensitive(any_api):
    domain = rand("Mixed")
    tenant = any_api.create_tenant(domainName=domain)
    for value in (domain, domain.lower(), domain.upper()):
        response = any_api.call(
            "GET", f"/applications/{any_api.application_id}/tenants", params={"query": f'domainName eq "{value}"'}
        )
        assert [t["id"] for t in response.json()["items"]] == [tenant["id"]]


def test_roles_listing_sorted_and_paged(any_api):
    tenant = any_api.create_tenant()
    for name in ("charlie", "alpha", "bravo"):
        any_api.call("POST", f"/tenants/{tenant['id']}/roles", json={"name": name, "displayName": name.title()})
    response = any_api.call(
        "GET", f"/tenants/{tenant['id']}/roles", params={"sort_by": "displayName:desc", "count": "2", "startIndex": "2"}
    )
    page = response.json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2
    assert [r["displayName"] for r in page["items"]] == ["Bravo", "Alpha"]
