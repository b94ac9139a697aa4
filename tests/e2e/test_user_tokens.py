"""A signed-in user's access token works on the management API within the user's roles: an
app user with the invitation permission may invite into their own tenant only."""

from __future__ import annotations

from tests.e2e.oidc_helpers import authorize_params, browser_for, callback_query, exchange, login, make_world, pkce
from tests.support import Api, rand_email


def user_token(api: Api, role_sku: str | None) -> tuple[str, dict, dict]:  # type: ignore[type-arg]
    world = make_world(api)
    if role_sku:
        roles = api.call("GET", f"/tenants/{world.tenant['id']}/roles?include_application_roles=true").json()["items"]
        role = next(r["id"] for r in roles if r["sku"] == role_sku)
        assert api.call("POST", f"/users/{world.user['id']}/assign-roles", json={"roleIds": [role]}).status_code == 200
    verifier, challenge = pkce()
    with browser_for(api) as browser:
        code = callback_query(login(world, browser, authorize_params(world, challenge)))["code"]
    tokens = exchange(world, code, verifier).json()
    return tokens["access_token"], world.tenant, world.user


def test_tenant_admin_user_invites_into_own_tenant_only(any_api: Api) -> None:
    token, tenant, _ = user_token(any_api, "tenant-admin")
    own = any_api.call(
        "POST", "/new-user-invitation/invite-user", token=token, json={"tenantId": tenant["id"], "email": rand_email()}
    )
    assert own.status_code == 200, own.text
    other = any_api.create_tenant()
    foreign = any_api.call(
        "POST", "/new-user-invitation/invite-user", token=token, json={"tenantId": other["id"], "email": rand_email()}
    )
    assert foreign.status_code in (403, 404)
    assert any_api.call("GET", f"/tenants/{other['id']}/users", token=token).status_code in (403, 404)


def test_plain_user_reads_self_but_cannot_invite(api: Api) -> None:
    token, tenant, user = user_token(api, None)
    assert api.call("GET", f"/users/{user['id']}", token=token).status_code in (403, 404)  # no role: nothing
    token, tenant, user = user_token(api, "user")
    assert api.call("GET", f"/users/{user['id']}", token=token).status_code == 200
    refused = api.call(
        "POST", "/new-user-invitation/invite-user", token=token, json={"tenantId": tenant["id"], "email": rand_email()}
    )
    assert refused.status_code in (403, 404)


def test_the_invitee_sees_who_invited_them(api: Api) -> None:
    from tests.e2e.oidc_helpers import browser_for as browser
    from tests.e2e.test_signup import last_email, link_in

    token, tenant, user = user_token(api, "tenant-admin")
    api.call("PATCH", f"/users/{user['id']}", json={"fullName": "Grace Hopper"})
    email = rand_email()
    assert (
        api.call(
            "POST", "/new-user-invitation/invite-user", token=token, json={"tenantId": tenant["id"], "email": email}
        ).status_code
        == 200
    )
    with browser(api) as b:
        page = b.get(link_in(last_email(api, email)))
    assert "Grace Hopper</strong> invited you" in page.text
