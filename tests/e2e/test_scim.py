"""SCIM 2.0 provisioning on tenant hosts (``/scim/v2``), on SQLite and PostgreSQL: tokens, what a
directory may see and change, and the requests Okta and Entra ID actually send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.core.provisioning.model import DirectoryUser
from tenantry.core.provisioning.service import DIRECTORY_PERMISSIONS, authenticate_directory, patch_directory_user
from tenantry.core.users.model import User
from tenantry.protocols.scim.users import directory_user as directory_user_from
from tenantry.protocols.scim.users import user_resource
from tests.e2e._helpers import token_with_permissions
from tests.e2e.test_identity_providers_api import create, oidc_body
from tests.support import Api, rand, rand_email

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Directory:
    api: Api
    tenant: dict[str, Any]
    provider: dict[str, Any]
    token: str
    client: TestClient

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, f"/scim/v2{path}", **kwargs)


def issue(api: Api, provider_id: str, tenant_id: str, token: str | None = None) -> Any:
    return api.call(
        "POST", f"/identity-providers/{provider_id}/directory-token", json={"tenantId": tenant_id}, token=token
    )


def connect(api: Api, tenant: dict[str, Any], provider: dict[str, Any]) -> Iterator[Directory]:
    issued = issue(api, provider["id"], tenant["id"])
    assert issued.status_code == 201, issued.text
    doc = issued.json()
    host = f"{tenant['domainName']}-{api.vanity}"
    assert doc["scimBaseUrl"] == f"https://{host}/scim/v2" and doc["token"].startswith("tdt_")
    client = TestClient(api.client.app, base_url=f"https://{host}", headers={"Authorization": f"Bearer {doc['token']}"})
    try:
        yield Directory(api, tenant, provider, doc["token"], client)
    finally:
        client.close()


@pytest.fixture
def okta(any_api: Api) -> Iterator[Directory]:
    tenant = any_api.create_tenant()
    provider = create(any_api, oidc_body(tenant["id"], type="OKTA", domainName="acme.okta.example", name=rand("okta")))
    yield from connect(any_api, tenant, provider)


def okta_user(**overrides: Any) -> dict[str, Any]:
    """What Okta's SCIM 2.0 app POSTs (its documented shape)."""
    email = rand_email()
    return {
        "schemas": [USER],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": f"00u{rand('')}",
        "groups": [],
        "password": "ignored-by-tenantry",
        "active": True,
        **overrides,
    }


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM)
    body: dict[str, Any] = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    if scim_type is not None:
        assert body["scimType"] == scim_type, body
    return body


def test_okta_lifecycle_create_find_deactivate_update_delete(okta: Directory) -> None:
    sent = okta_user()
    created = okta.call("POST", "/Users", json=sent)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM)
    user = created.json()
    assert created.headers["location"] == user["meta"]["location"]
    assert user["meta"]["location"] == f"{okta.client.base_url}/scim/v2/Users/{user['id']}"
    assert user["userName"] == sent["userName"] and user["externalId"] == sent["externalId"]
    assert user["emails"] == [{"value": sent["userName"]}] and user["active"] is True
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"} and user["locale"] == "en-US"
    assert "password" not in user and "groups" not in user

    # Tenantry's own API sees the same user, of the Okta provider, active, its email verified.
    mine = okta.api.call("GET", f"/users/{user['id']}").json()
    assert mine["identityProviderName"] == okta.provider["name"] and mine["status"] == "ACTIVE"
    assert mine["emailVerified"] is True and mine["externalId"] == sent["externalId"]

    found = okta.call("GET", "/Users", params={"filter": f'userName eq "{sent["userName"].upper()}"'})
    assert found.status_code == 200, found.text
    page = found.json()
    assert page["totalResults"] == 1 and page["Resources"][0]["id"] == user["id"]
    assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    none = okta.call("GET", "/Users", params={"filter": 'userName eq "nobody@example.com"'}).json()
    assert none["totalResults"] == 0 and none["Resources"] == []

    deactivated = okta.call(
        "PATCH",
        f"/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    assert okta.api.call("GET", f"/users/{user['id']}").json()["status"] == "INACTIVE"

    unsaid = {k: v for k, v in sent.items() if k != "active"}
    kept = okta.call("PUT", f"/Users/{user['id']}", json=unsaid)  # a PUT without active changes no state
    assert kept.status_code == 200 and kept.json()["active"] is False, kept.text
    replaced = okta.call("PUT", f"/Users/{user['id']}", json={**sent, "name": {"givenName": "Augusta"}, "active": True})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["name"] == {"givenName": "Augusta"} and replaced.json()["active"] is True
    assert "displayName" in replaced.json()
    after = okta.api.call("GET", f"/users/{user['id']}").json()
    assert after["status"] == "ACTIVE" and after["givenName"] == "Augusta" and after.get("familyName") is None

    assert okta.call("DELETE", f"/Users/{user['id']}").status_code == 204
    scim_error(okta.call("GET", f"/Users/{user['id']}"), 404)
    assert okta.api.call("GET", f"/users/{user['id']}").status_code == 404


def test_entra_id_patch_requests(okta: Directory) -> None:
    """Entra ID capitalises operations, sends booleans as strings and uses value-filter paths."""
    user = okta.call("POST", "/Users", json=okta_user()).json()
    new_email = rand_email()
    operations = [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": new_email},
        {"op": "Replace", "path": "name.givenName", "value": "Grace"},
        {"op": "Add", "path": f"{USER}:displayName", "value": "Grace Hopper"},
        {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "1 Navy Way"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
        {"op": "Replace", "path": "active", "value": "False"},
    ]
    patched = okta.call("PATCH", f"/Users/{user['id']}", json={"schemas": [PATCH], "Operations": operations})
    assert patched.status_code == 200, patched.text
    doc = patched.json()
    assert doc["emails"] == [{"value": new_email}] and doc["name"]["givenName"] == "Grace"
    assert doc["displayName"] == "Grace Hopper" and doc["active"] is False
    assert "addresses" not in doc and "department" not in str(doc)
    mine = okta.api.call("GET", f"/users/{user['id']}").json()
    assert mine["email"] == new_email and mine["emailVerified"] is True and mine["status"] == "INACTIVE"
    removed = okta.call(
        "PATCH",
        f"/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "name.givenName"}]},
    )
    assert removed.status_code == 200 and "givenName" not in removed.json()["name"]
    refused = okta.call(
        "PATCH",
        f"/Users/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "externalId"}]},
    )
    scim_error(refused, 400, "mutability")
    assert okta.api.call("GET", f"/users/{user['id']}").json()["externalId"] == user["externalId"]


def test_a_directory_sees_only_its_own_provider_s_users(okta: Directory) -> None:
    api, tenant = okta.api, okta.tenant
    password_user = api.create_user(tenant["id"])
    other = create(api, oidc_body(tenant["id"], name=rand("other")))
    theirs = api.create_user(tenant["id"], identityProviderName=other["name"], externalId=rand("ext"))
    mine = okta.call("POST", "/Users", json=okta_user()).json()
    listed = okta.call("GET", "/Users").json()
    assert [r["id"] for r in listed["Resources"]] == [mine["id"]] and listed["totalResults"] == 1
    for stranger in (password_user, theirs):
        scim_error(okta.call("GET", f"/Users/{stranger['id']}"), 404)
        scim_error(okta.call("PUT", f"/Users/{stranger['id']}", json=okta_user()), 404)
        scim_error(okta.call("DELETE", f"/Users/{stranger['id']}"), 404)
        assert api.call("GET", f"/users/{stranger['id']}").status_code == 200
    by_email = okta.call("GET", "/Users", params={"filter": f'emails.value eq "{password_user["email"]}"'}).json()
    assert by_email["totalResults"] == 0


def test_tokens_name_one_tenant_and_end_when_replaced_or_revoked(okta: Directory) -> None:
    api = okta.api
    assert okta.call("GET", "/ServiceProviderConfig").status_code == 200
    # Another tenant's host: the token is not valid there.
    elsewhere = api.create_tenant()
    foreign = TestClient(
        api.client.app,
        base_url=f"https://{elsewhere['domainName']}-{api.vanity}",
        headers={"Authorization": f"Bearer {okta.token}"},
    )
    scim_error(foreign.get("/scim/v2/Users"), 401)
    # The vanity domain is no tenant's host.
    vanity = TestClient(
        api.client.app, base_url=f"https://{api.vanity}", headers={"Authorization": f"Bearer {okta.token}"}
    )
    scim_error(vanity.get("/scim/v2/Users"), 404)
    for header in ({}, {"Authorization": "Bearer tdt_not-a-token"}, {"Authorization": f"Basic {okta.token}"}):
        bare = TestClient(api.client.app, base_url=str(okta.client.base_url), headers=header)
        answer = bare.get("/scim/v2/Users")
        scim_error(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    # A new token replaces the old one at once.
    again = issue(api, okta.provider["id"], okta.tenant["id"]).json()
    scim_error(okta.call("GET", "/Users"), 401)
    okta.client.headers["Authorization"] = f"Bearer {again['token']}"
    assert okta.call("GET", "/Users").status_code == 200
    status_path = f"/identity-providers/{okta.provider['id']}/directory-token?tenantId={okta.tenant['id']}"
    status = api.call("GET", status_path)
    assert status.status_code == 200, status.text
    assert set(status.json()) == {"tenantId", "identityProviderId", "scimBaseUrl", "issuedAt"}
    assert status.json()["scimBaseUrl"] == f"{okta.client.base_url}/scim/v2" and again["token"] not in status.text
    revoked = api.call("DELETE", status_path)
    assert revoked.status_code == 204
    assert api.call("GET", status_path).status_code == 404
    scim_error(okta.call("GET", "/Users"), 401)
    twice = api.call(
        "DELETE", f"/identity-providers/{okta.provider['id']}/directory-token?tenantId={okta.tenant['id']}"
    )
    assert twice.status_code == 404
    # Deleting the provider deletes its token.
    third = issue(api, okta.provider["id"], okta.tenant["id"]).json()
    okta.client.headers["Authorization"] = f"Bearer {third['token']}"
    assert api.call("DELETE", f"/identity-providers/{okta.provider['id']}").status_code == 204
    scim_error(okta.call("GET", "/Users"), 401)


def test_only_administrators_of_the_tenant_issue_tokens(any_api: Api) -> None:
    tenant, other = any_api.create_tenant(), any_api.create_tenant()
    provider = create(any_api, oidc_body(tenant["id"]))
    provider_admin = ["identity-provider:manage", "identity-provider:read"]
    everything = provider_admin + list(DIRECTORY_PERMISSIONS)
    outsider = token_with_permissions(any_api, other["id"], everything)
    refused = issue(any_api, provider["id"], tenant["id"], token=outsider)
    assert refused.status_code in (403, 404), refused.text
    reader = token_with_permissions(any_api, tenant["id"], ["identity-provider:read"])
    assert issue(any_api, provider["id"], tenant["id"], token=reader).status_code == 403
    # Managing providers is not enough: the token would change users its issuer may not.
    sso_admin = token_with_permissions(any_api, tenant["id"], provider_admin)
    assert issue(any_api, provider["id"], tenant["id"], token=sso_admin).status_code == 403
    admin = token_with_permissions(any_api, tenant["id"], everything)
    assert issue(any_api, provider["id"], tenant["id"], token=admin).status_code == 201
    assert issue(any_api, provider["id"], other["id"]).status_code == 404  # not a provider of that tenant
    missing = any_api.call("POST", f"/identity-providers/{provider['id']}/directory-token", json={})
    assert missing.status_code == 400


def test_an_application_provider_shadowed_by_the_tenant_s_own_is_never_confused_with_it(any_api: Api) -> None:
    """Provider names are unique per owner: an application's ``okta`` and a tenant's own ``okta``
    can both exist. A directory of the application's one lists only its users, and cannot create
    users the tenant's name resolution would give to the other."""
    tenant = any_api.create_tenant()
    name = rand("okta")
    shared = create(any_api, oidc_body(any_api.application_id, ownerType="APPLICATION", name=name))
    own = create(any_api, oidc_body(tenant["id"], name=name))
    theirs = any_api.create_user(tenant["id"], identityProviderName=name, externalId=rand("ext"))
    with any_api.services.core.uow(any_api.application_id) as uow:
        stored = uow.users.get(theirs["id"])
    assert stored is not None and stored.identity_provider_id == own["id"]
    for directory in connect(any_api, tenant, shared):
        listed = directory.call("GET", "/Users")
        assert listed.status_code == 200 and listed.json()["totalResults"] == 0, listed.text
        scim_error(directory.call("POST", "/Users", json=okta_user()), 400, "invalidValue")
        scim_error(directory.call("GET", f"/Users/{theirs['id']}"), 404)
    for directory in connect(any_api, tenant, own):
        assert [r["id"] for r in directory.call("GET", "/Users").json()["Resources"]] == [theirs["id"]]


def test_bad_requests_get_scim_errors_and_change_nothing(okta: Directory) -> None:
    taken = okta_user()
    assert okta.call("POST", "/Users", json=taken).status_code == 201
    scim_error(okta.call("POST", "/Users", json={**taken, "externalId": rand("x")}), 409, "uniqueness")
    scim_error(okta.call("POST", "/Users", content=b"{not json", headers={"content-type": SCIM}), 400, "invalidSyntax")
    scim_error(okta.call("POST", "/Users", json=[1, 2]), 400, "invalidSyntax")
    scim_error(okta.call("POST", "/Users", json={"emails": [{"value": rand_email()}]}), 400, "invalidValue")
    scim_error(okta.call("POST", "/Users", json=okta_user(userName="has space")), 400, "invalidValue")
    scim_error(okta.call("POST", "/Users", json=okta_user(emails="x@example.com")), 400, "invalidValue")
    scim_error(okta.call("POST", "/Users", json=okta_user(active="maybe")), 400, "invalidValue")
    scim_error(okta.call("GET", "/Users", params={"filter": 'userName co "a"'}), 400, "invalidFilter")
    scim_error(okta.call("GET", "/Users", params={"filter": 'nickName eq "a"'}), 400, "invalidFilter")
    scim_error(okta.call("GET", "/Users", params={"count": "many"}), 400)
    scim_error(okta.call("GET", "/Nothing"), 404)
    scim_error(okta.call("POST", "/.search", json={}), 501)
    deep = b'{"userName": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    scim_error(okta.call("POST", "/Users", content=deep, headers={"content-type": SCIM}), 400, "invalidSyntax")
    lone = b'{"userName": "\\ud800", "emails": [{"value": "x@example.com"}]}'
    scim_error(okta.call("POST", "/Users", content=lone, headers={"content-type": SCIM}), 400, "invalidValue")
    scim_error(okta.call("POST", "/Users", json=okta_user(name={"givenName": "A\u0000"})), 400)
    scim_error(okta.call("POST", "/Users/.search", json={"attributes": [1]}), 400, "invalidValue")
    scim_error(okta.call("POST", "/Users/.search", json={"count": True}), 400, "invalidValue")
    far = okta.call("GET", "/Users", params={"startIndex": str(10**30)})
    assert far.status_code == 200 and far.json()["Resources"] == [], far.text
    user = okta.call("GET", "/Users").json()["Resources"][0]
    bodies: list[dict[str, Any]] = [
        {"Operations": []},
        {"Operations": [{"op": "move", "path": "x"}]},
        {"Operations": [{"op": "remove"}]},
    ]
    for body in bodies:
        scim_error(okta.call("PATCH", f"/Users/{user['id']}", json=body), 400)
    assert okta.call("GET", "/Users").json()["totalResults"] == 1
    assert okta.call("GET", f"/Users/{user['id']}").json() == user


def test_paging_and_attribute_selection(okta: Directory) -> None:
    ids = sorted(okta.call("POST", "/Users", json=okta_user()).json()["id"] for _ in range(5))
    first = okta.call("GET", "/Users", params={"startIndex": "1", "count": "2"}).json()
    second = okta.call("GET", "/Users", params={"startIndex": "3", "count": "2"}).json()
    assert first["totalResults"] == second["totalResults"] == 5
    assert first["itemsPerPage"] == 2 and second["startIndex"] == 3
    seen = {r["id"] for r in first["Resources"] + second["Resources"]}
    assert len(seen) == 4 and seen <= set(ids)
    counted = okta.call("GET", "/Users", params={"count": "0"}).json()
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    slim = okta.call("GET", f"/Users/{ids[0]}", params={"attributes": "userName,name.givenName"}).json()
    assert set(slim) == {"schemas", "id", "userName", "name"} and slim["name"] == {"givenName": "Ada"}
    lean = okta.call("GET", "/Users", params={"excludedAttributes": "emails,meta", "count": "1"}).json()
    assert "emails" not in lean["Resources"][0] and "meta" not in lean["Resources"][0]
    searched = okta.call("POST", "/Users/.search", json={"filter": f'id eq "{ids[0]}"', "attributes": ["userName"]})
    assert searched.status_code == 200, searched.text
    assert [set(r) for r in searched.json()["Resources"]] == [{"schemas", "id", "userName"}]


def test_a_password_user_created_by_the_directory_sets_its_password_through_forgot_password(any_api: Api) -> None:
    from tests.e2e.test_signup import last_email
    from tests.e2e.test_workflow_apis import code_in

    tenant = any_api.create_tenant()
    providers = any_api.call("GET", f"/tenants/{tenant['id']}/identity-providers").json()["items"]
    built_in = next(p for p in providers if p["type"] == "WRISTBAND")
    for directory in connect(any_api, tenant, built_in):
        email = rand_email()
        created = directory.call("POST", "/Users", json={"schemas": [USER], "userName": email, "active": True})
        assert created.status_code == 201, created.text
        user = any_api.call("GET", f"/users/{created.json()['id']}").json()
        assert user["status"] == "ACTIVE" and user["hasPassword"] is False and user["emailVerified"] is False
        asked = any_api.call("POST", "/forgot-password/request-reset", json={"tenantId": tenant["id"], "email": email})
        assert asked.status_code == 204, asked.text
        code = code_in(last_email(any_api, email))
        new_password = "a directory user's own passphrase"
        reset = any_api.call(
            "POST", "/forgot-password/reset-password", json={"emailAuthCode": code, "newPassword": new_password}
        )
        assert reset.status_code == 204, reset.text
        assert any_api.call("GET", f"/users/{user['id']}").json()["hasPassword"] is True


def test_a_patch_based_on_a_stale_read_starts_again_instead_of_losing_the_other_change(okta: Directory) -> None:
    """A PATCH is a read-modify-write. Another change lands between this PATCH's read and its
    write (made to happen here, inside the modify step): the write is refused as stale, the PATCH
    reads again, and both changes are kept."""
    user = okta.call("POST", "/Users", json=okta_user()).json()
    core = okta.api.services.core
    directory = authenticate_directory(core, okta.api.application_id, okta.tenant["id"], okta.token)
    assert directory is not None
    calls = 0

    def rename(current: User) -> DirectoryUser:
        nonlocal calls
        calls += 1
        if calls == 1:  # the other writer, between this read and this write
            other = okta.call(
                "PATCH",
                f"/Users/{user['id']}",
                json={
                    "schemas": [PATCH],
                    "Operations": [{"op": "replace", "path": "name.familyName", "value": "King"}],
                },
            )
            assert other.status_code == 200, other.text
        resource = user_resource(current, "https://unused")
        return directory_user_from({**resource, "name": {**resource.get("name", {}), "givenName": "Augusta"}})

    patch_directory_user(core, directory, user["id"], rename)
    assert calls == 2
    final = okta.call("GET", f"/Users/{user['id']}").json()["name"]
    assert final == {"givenName": "Augusta", "familyName": "King"}
