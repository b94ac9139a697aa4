"""The unmodified ``wristband-user-import`` 3.0.2 library functions against a real ``tenantry serve``
on ``https://localhost:PORT`` (requests, trusting the test CA through ``REQUESTS_CA_BUNDLE``).

``get_tenant_roles`` parses every page into its ``RolesResponse`` dataclass (exactly
``totalResults, startIndex, itemsPerPage, items``) and ``assign_roles_to_user`` turns every item
into its ``Role`` dataclass (exactly ``id, name, displayName``), so an extra or missing key fails
inside the SDK. ``invite_existing_user`` is not served yet and is not exercised here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from wristband.exceptions import AuthenticationError, BadRequestError
from wristband.oauth2.create_token import create_token
from wristband.roles.assign_roles_to_user import assign_roles_to_user
from wristband.roles.get_tenant_roles import get_tenant_roles
from wristband.roles.models.role import Role
from wristband.users.create_user import create_user
from wristband.users.models.user import User

from tests.compat.conftest import TenantryServer, create_tenant, rand_email

pytestmark = pytest.mark.compat

TENANT_ROLE_COUNT = 23  # + the application's 3 predefined roles = 26: two pages of 20


@dataclass(frozen=True)
class RolesTenant:
    id: str
    domain_name: str
    role_names: list[str]  # qualified names of the tenant roles created here


@pytest.fixture(scope="module")
def roles_tenant(api: httpx.Client) -> RolesTenant:
    tenant = create_tenant(api)
    names = []
    for i in range(1, TENANT_ROLE_COUNT + 1):
        body = {"name": f"import-{i:02d}", "displayName": f"Import role {i:02d}", "permissions": ["user:read"]}
        response = api.post(f"/tenants/{tenant['id']}/roles", json=body)
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    assert names[0] == f"tnt:{tenant['domainName']}:import-01"
    return RolesTenant(tenant["id"], tenant["domainName"], names)


@pytest.fixture(scope="module")
def import_token(tenantry_server: TenantryServer) -> str:
    token: str = create_token(tenantry_server.vanity, tenantry_server.m2m_id, tenantry_server.m2m_secret)
    return token


@pytest.fixture
def requests_spy(monkeypatch: pytest.MonkeyPatch) -> list[requests.Response]:
    """Every response the SDK gets through ``requests.get``/``requests.post`` (calls pass through)."""
    seen: list[requests.Response] = []
    real_get, real_post = requests.get, requests.post

    def get(*args: Any, **kwargs: Any) -> requests.Response:
        response = real_get(*args, **kwargs)
        seen.append(response)
        return response

    def post(*args: Any, **kwargs: Any) -> requests.Response:
        response = real_post(*args, **kwargs)
        seen.append(response)
        return response

    monkeypatch.setattr(requests, "get", get)
    monkeypatch.setattr(requests, "post", post)
    return seen


def test_create_token(tenantry_server: TenantryServer, import_token: str) -> None:
    assert isinstance(import_token, str) and import_token.count(".") == 2
    with tenantry_server.client() as client:
        response = client.get(
            f"/api/v1/applications/{tenantry_server.application_id}",
            headers={"Authorization": f"Bearer {import_token}"},
        )
    assert response.status_code == 200, response.text


def test_create_token_with_a_bad_secret_is_an_authentication_error(tenantry_server: TenantryServer) -> None:
    with pytest.raises(AuthenticationError):
        create_token(tenantry_server.vanity, tenantry_server.m2m_id, "not-the-secret")


def test_get_tenant_roles_pages_through_the_strict_envelope(
    tenantry_server: TenantryServer,
    import_token: str,
    roles_tenant: RolesTenant,
    requests_spy: list[requests.Response],
) -> None:
    items = get_tenant_roles(import_token, tenantry_server.vanity, roles_tenant.id)

    # the SDK went through two pages of 20, on https://localhost:PORT
    assert len(requests_spy) == 2
    pages = [r.json() for r in requests_spy]
    for response, page in zip(requests_spy, pages, strict=True):
        url = urlsplit(response.url)
        assert (url.scheme, url.netloc, url.path) == (
            "https",
            tenantry_server.vanity,
            f"/api/v1/tenants/{roles_tenant.id}/roles",
        )
        assert response.status_code == 200
        assert list(page) == ["totalResults", "startIndex", "itemsPerPage", "items"]
    assert [parse_qs(urlsplit(r.url).query)["startIndex"] for r in requests_spy] == [["1"], ["21"]]
    total = TENANT_ROLE_COUNT + 3
    assert [(p["totalResults"], p["startIndex"], p["itemsPerPage"]) for p in pages] == [
        (total, 1, 20),
        (total, 21, total - 20),
    ]

    # exactly {id, name, displayName}, parsed by the SDK's own dataclass
    assert all(list(item) == ["id", "name", "displayName"] for item in items)
    roles = [Role(**item) for item in items]
    assert len(roles) == total and len({r.id for r in roles}) == total
    names = {r.name for r in roles}
    assert set(roles_tenant.role_names) <= names
    app_roles = names - set(roles_tenant.role_names)
    assert len(app_roles) == 3 and all(n.startswith("app:") for n in app_roles)
    # sort_by=displayName:asc, across both pages
    display_names = [r.displayName for r in roles]
    assert display_names == sorted(display_names)


def test_create_user_then_assign_roles(
    tenantry_server: TenantryServer, import_token: str, roles_tenant: RolesTenant, api: httpx.Client
) -> None:
    wanted = roles_tenant.role_names[:3]
    user = User(
        email=rand_email(),
        username=f"imported.{rand_email().split('@')[0]}",
        password="Correct-Horse-Battery-Staple-42",
        emailVerified=True,
        externalId="legacy-4711",
        fullName="Grace Brewster Hopper",
        givenName="Grace",
        familyName="Hopper",
        middleName="Brewster",
        nickname="Amazing Grace",
        displayName="Grace Hopper",
        pictureUrl="https://example.com/grace.png",
        birthdate="1906-12-09",
        phoneNumber="+15551234567",
        preferredLanguage="en-US",
        locale="en-US",
        timeZone="America/New_York",
        roles=", ".join(wanted),  # sent in the create body too; the server must ignore it
    )
    response = create_user(import_token, tenantry_server.vanity, roles_tenant.id, "wristband", user)
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    assert user_id

    stored = api.get(f"/users/{user_id}")
    assert stored.status_code == 200, stored.text
    doc = stored.json()
    expected = {k: v for k, v in user.to_dict().items() if k not in ("password", "roles")}
    assert {k: doc[k] for k in expected} == {**expected, "email": user.email.lower()}
    assert doc["tenantId"] == roles_tenant.id
    assert doc["hasPassword"] is True
    assert "roles" not in doc and "password" not in doc
    assert api.get(f"/users/{user_id}/roles").json()["totalResults"] == 0  # the roles string was ignored

    # what UsersService.upload_users_csv does: fetch all roles, then one POST per matching name ...
    roles = get_tenant_roles(import_token, tenantry_server.vanity, roles_tenant.id)
    user_roles = [name.strip() for name in user.roles.split(",")] if user.roles else []
    for role_name in user_roles[:2]:
        matched = [role for role in roles if role.get("name") == role_name]
        assert len(matched) == 1
        assigned = assign_roles_to_user(import_token, tenantry_server.vanity, user_id, matched)
        assert assigned.status_code == 200, assigned.text
    # ... and a list of several roles in one call (Role objects this time); assigning adds
    matched = [Role(**role) for role in roles if role["name"] in user_roles[1:]]
    assigned = assign_roles_to_user(import_token, tenantry_server.vanity, user_id, matched)
    assert assigned.status_code == 200, assigned.text

    held = api.get(f"/users/{user_id}/roles", params={"count": 100})
    assert held.status_code == 200, held.text
    assert sorted(r["name"] for r in held.json()["items"]) == sorted(wanted)
    assert held.json()["totalResults"] == len(wanted)


def test_assign_roles_to_a_missing_user_raises(
    tenantry_server: TenantryServer, import_token: str, roles_tenant: RolesTenant
) -> None:
    roles = get_tenant_roles(import_token, tenantry_server.vanity, roles_tenant.id)
    with pytest.raises(BadRequestError):
        assign_roles_to_user(import_token, tenantry_server.vanity, "nosuchuser0000000000000000", roles[:1])
