"""A user provisioned by the tenant's directory (SCIM) signs in through the same identity
provider (a real OpenID provider: oidc-provider from npm) and is found, not created again; once
the directory deactivates it, the sign-in is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.oidc_helpers import browser_for
from tests.e2e.test_scim import PATCH, USER
from tests.e2e.test_sso_oidc import SESSION_COOKIE, assert_refused, connect, new_account, signed_in
from tests.sso_support import OidcIdp
from tests.support import Api


def test_a_provisioned_user_signs_in_through_sso_and_a_deactivated_one_cannot(api: Api, oidc_idp: OidcIdp) -> None:
    sso = connect(api, oidc_idp)
    account = new_account(oidc_idp)
    email = oidc_idp.users()[account]["email"]
    issued = api.call(
        "POST", f"/identity-providers/{sso.provider['id']}/directory-token", json={"tenantId": sso.tenant_id}
    ).json()
    host = issued["scimBaseUrl"].removesuffix("/scim/v2")
    directory = TestClient(api.client.app, base_url=host, headers={"Authorization": f"Bearer {issued['token']}"})
    body = {"schemas": [USER], "userName": email, "externalId": account, "emails": [{"value": email}], "active": True}
    created = directory.post("/scim/v2/Users", json=body)
    assert created.status_code == 201, created.text
    provisioned = created.json()

    with browser_for(api) as tab:
        assert signed_in(sso.sign_in(tab, sso.start_path(), account))
    [user] = sso.sso_users()
    assert user["id"] == provisioned["id"] and user["status"] == "ACTIVE"

    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert directory.patch(f"/scim/v2/Users/{provisioned['id']}", json=off).status_code == 200
    before = len(sso.users())
    with browser_for(api) as tab:
        refused = sso.sign_in(tab, sso.start_path(), account)
        assert_refused(sso, refused, 403, "Your account cannot sign in", before)
        assert SESSION_COOKIE not in tab.cookies
    directory.close()
