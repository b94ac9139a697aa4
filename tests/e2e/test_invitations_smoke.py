"""Invitations through the hosted pages: the main paths (the full suite is test_invitations.py)."""

from __future__ import annotations

from tests.e2e.oidc_helpers import PASSWORD, browser_for, csrf_from
from tests.e2e.test_signup import last_email, link_in
from tests.support import Api, rand_email


def test_email_invitation_accepted_on_the_hosted_page(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    roles = any_api.call("GET", f"/tenants/{tenant['id']}/roles?include_application_roles=true").json()["items"]
    admin = next(r["id"] for r in roles if r["sku"] == "tenant-admin")
    email = rand_email()
    invited = any_api.call(
        "POST",
        "/new-user-invitation/invite-user",
        json={"tenantId": tenant["id"], "email": email, "rolesToAssign": [admin]},
    )
    assert invited.status_code == 200, invited.text
    request = invited.json()["newUserInvitationRequest"]
    assert request["status"] == "PENDING_INVITE_ACCEPTANCE" and request["invitationType"] == "EMAIL"
    link = link_in(last_email(any_api, email))
    assert "/accept-invite?code=" in link
    with browser_for(any_api) as browser:
        form = browser.get(link)
        assert form.status_code == 200 and email in form.text
        assert "invited you to join" in form.text  # who invited: the application, for a client
        code = link.split("code=")[1]
        done = browser.post(
            link.split("?")[0],
            data={"csrf_token": csrf_from(form.text), "code": code, "password": PASSWORD},
            follow_redirects=False,
        )
        assert done.status_code in (200, 302) and "tenantry_session" in done.cookies
        again = browser.get(link)
        assert again.status_code == 400 and "already been accepted" in again.text
    users = any_api.call("GET", f"/tenants/{tenant['id']}/users", params={"query": f'email eq "{email}"'}).json()[
        "items"
    ]
    assert users[0]["status"] == "ACTIVE" and users[0]["emailVerified"] is True
    assigned = any_api.call("GET", f"/users/{users[0]['id']}/roles").json()["items"]
    assert [r["id"] for r in assigned] == [admin]
    listed = any_api.call(
        "GET", f"/tenants/{tenant['id']}/new-user-invitation-requests", params={"query": 'status eq "COMPLETED"'}
    ).json()
    assert [i["id"] for i in listed["items"]] == [request["id"]]


def test_existing_user_invitation_activates_a_provisioned_user(api: Api) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    invited = api.call("POST", "/existing-user-invitation/invite-user", json={"userId": user["id"]})
    assert (
        invited.status_code == 200
        and invited.json()["existingUserInvitationRequest"]["status"] == "PENDING_INVITE_ACCEPTANCE"
    )
    link = link_in(last_email(api, user["email"]))
    with browser_for(api) as browser:
        form = browser.get(link)
        code = link.split("code=")[1]
        done = browser.post(
            link.split("?")[0],
            data={"csrf_token": csrf_from(form.text), "code": code, "password": PASSWORD},
            follow_redirects=False,
        )
        assert done.status_code in (200, 302)
    after = api.call("GET", f"/users/{user['id']}").json()
    assert after["status"] == "ACTIVE" and after["emailVerified"] is True and after["hasPassword"] is True


def test_reinvite_cancels_the_first_link(api: Api) -> None:
    tenant = api.create_tenant()
    email = rand_email()
    first = api.call("POST", "/new-user-invitation/invite-user", json={"tenantId": tenant["id"], "email": email}).json()
    first_link = link_in(last_email(api, email))
    api.call("POST", "/new-user-invitation/invite-user", json={"tenantId": tenant["id"], "email": email})
    with browser_for(api) as browser:
        dead = browser.get(first_link)
    assert dead.status_code == 400 and "no longer valid" in dead.text
    canceled = api.call(
        "GET", f"/tenants/{tenant['id']}/new-user-invitation-requests", params={"query": 'status eq "CANCELED"'}
    ).json()["items"]
    assert [i["id"] for i in canceled] == [first["newUserInvitationRequest"]["id"]]
