"""The workflow APIs a self-hosted page calls with a client-credentials token: signup
provisioning, activation (link and one-time code, then the session handoff on the tenant host),
email verification, tenant discovery, forgot / change password, and ending a user's sessions and
refresh tokens. Emails are read from the outbox, as in test_signup.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.adapters.sql import tables as t
from tenantry.core.auth.model import token_hash
from tests.e2e._helpers import assert_base_error, assert_denied, assert_violation, safe, token_with_permissions
from tests.e2e.oidc_helpers import (
    PASSWORD,
    World,
    authorize_params,
    browser_for,
    callback_query,
    exchange,
    login,
    make_world,
    pkce,
)
from tests.e2e.test_signup import last_email, link_in
from tests.support import Api, rand, rand_email

NEW_PASSWORD = "a brand new passphrase"
SESSION_COOKIE = "tenantry_session"


def code_in(email: dict[str, Any]) -> str:
    return parse_qs(urlsplit(link_in(email)).query)["code"][0]


def otp_in(email: dict[str, Any]) -> str:
    match = re.search(r"\b(\d{6})\b", email["text_body"])
    assert match, email["text_body"]
    return match.group(1)


def emails_to(api: Api, recipient: str) -> int:
    with api.services.database.transaction(write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.recipient == recipient)
        ).scalar_one()
    return int(count)


def provision(api: Api, token: str | None = None, **body: Any) -> httpx.Response:
    return api.call("POST", "/signup/provision-user", token, json={"password": PASSWORD, **body})


def pending_user(api: Api, tenant_id: str) -> dict[str, Any]:
    """A user provisioned through tenant-level signup, waiting for activation."""
    response = provision(api, tenantId=tenant_id, email=rand_email())
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


def refresh(world: World, refresh_token: str) -> httpx.Response:
    response: httpx.Response = world.api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=world.basic(),
    )
    return response


def signed_in(world: World) -> tuple[TestClient, str, str]:
    """A browser with a session on the world's tenant (the caller closes it), the refresh token
    of its login and the PKCE challenge to authorize again."""
    verifier, challenge = pkce()
    browser = TestClient(world.api.client.app, base_url=str(world.api.client.base_url))
    query = callback_query(login(world, browser, authorize_params(world, challenge)))
    tokens = exchange(world, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    return browser, tokens.json()["refresh_token"], challenge


def prompt_none(world: World, browser: TestClient, challenge: str) -> dict[str, str]:
    response = browser.get(
        world.tenant_url("/api/v1/oauth2/authorize"),
        params=authorize_params(world, challenge, prompt="none"),
        follow_redirects=False,
    )
    return callback_query(response)


@contextmanager
def app_signup_enabled(api: Api) -> Iterator[None]:
    path = f"/applications/{api.application_id}"
    assert api.call("PATCH", path, json={"signupEnabled": True}).status_code == 200
    try:
        yield
    finally:
        assert api.call("PATCH", path, json={"signupEnabled": False}).status_code == 200


# --- signup and activation --------------------------------------------------------------


def test_tenant_signup_then_activation_by_link_starts_a_session(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant(signupEnabled=True)
    email = rand_email()
    created = provision(api, tenantId=tenant["id"], email=email, givenName="Ada", externalId="ignored")
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"user", "tenantId", "verification", "emailAuthCodeSent"}
    assert body["tenantId"] == tenant["id"] and body["verification"] == "ACTIVATION_LINK"
    assert body["emailAuthCodeSent"] is True
    user = body["user"]
    assert user["status"] == "PENDING_SIGNUP_ACTIVATION" and user["email"] == email and user["givenName"] == "Ada"
    assert user["externalId"] is None and user["hasPassword"] is True and "password" not in user

    code = code_in(last_email(api, email))
    seen = api.call("POST", "/user-activation/introspect-email-auth-code", json={"emailAuthCode": code})
    assert seen.status_code == 200, seen.text
    info = seen.json()
    assert set(info) == {"userId", "tenantId", "email", "expirationTime", "type"}
    assert (info["userId"], info["tenantId"], info["email"]) == (user["id"], tenant["id"], email)
    assert info["type"] == "USER_ACTIVATION" and info["expirationTime"].endswith("Z")

    activated = api.call("POST", "/user-activation/activate-user", json={"emailAuthCode": code})
    assert activated.status_code == 200, activated.text
    doc = activated.json()
    assert set(doc) == {"userId", "tenantId", "authSessionCode", "authSessionUrl"}
    host = f"{tenant['domainName']}-{api.vanity}"
    assert doc["authSessionUrl"] == f"https://{host}/api/v1/auth-sessions/create?code={doc['authSessionCode']}"
    with browser_for(api) as browser:
        landed = browser.get(doc["authSessionUrl"], follow_redirects=False)
        assert landed.status_code == 302 and SESSION_COOKIE in landed.cookies
        # The tenant's login page, or — when the shared test application happens to have exactly
        # one browser client with a login URL — that client's login URL for this tenant.
        location = landed.headers["location"]
        assert location == f"https://{host}/login" or location.endswith(f"tenant_name={tenant['domainName']}")
        assert browser.get(doc["authSessionUrl"], follow_redirects=False).status_code == 400  # one time
    fetched = api.call("GET", f"/users/{user['id']}").json()
    assert fetched["status"] == "ACTIVE" and fetched["emailVerified"] is True

    again = api.call("POST", "/user-activation/activate-user", json={"emailAuthCode": code})
    assert_base_error(again, 400, "invalid_email_auth_code")
    stale = api.call("POST", "/user-activation/introspect-email-auth-code", json={"emailAuthCode": code})
    assert_base_error(stale, 400, "invalid_email_auth_code")
    taken = provision(api, tenantId=tenant["id"], email=email.upper())
    assert_violation(taken, "email", "not_unique")


def test_provision_user_refusals_change_nothing(api: Api) -> None:
    closed = api.create_tenant()
    assert_base_error(provision(api, tenantId=closed["id"], email=rand_email()), 400, "signup_disabled")
    tenant = api.create_tenant(signupEnabled=True)
    tid = tenant["id"]
    assert_violation(
        api.call("POST", "/signup/provision-user", json={"tenantId": tid, "email": rand_email()}),
        "password",
        "required",
    )
    assert_violation(provision(api, tenantId=tid, email="not-an-email"), "email", "invalid_format")
    assert_violation(provision(api, tenantId=tid, email=rand_email(), password="short"), "password", "too_short")
    assert_violation(provision(api, tenantId=tid, email=rand_email(), phoneNumber="555"), "phoneNumber")
    assert_violation(provision(api, tenantId=tid, email=rand_email(), clientId="x\u0000y"), "clientId")
    assert_violation(provision(api, email=rand_email()), "tenantId", "required")
    assert_violation(api.call("POST", "/signup/provision-user", json={"tenantId": tid}), "email", "required")
    assert_base_error(provision(api, tenantId="nope", email=rand_email()), 404, "tenant_not_found")
    wrong_app = provision(api, applicationId="nope", tenantName=rand("org"), email=rand_email())
    assert_base_error(wrong_app, 404, "application_not_found")
    app_level = provision(api, applicationId=api.application_id, tenantName=rand("org"), email=rand_email())
    assert_base_error(app_level, 400, "signup_disabled")
    listed = api.call("GET", f"/tenants/{tid}/users", params={"count": "0"}).json()
    assert listed["totalResults"] == 0


def test_application_signup_creates_the_tenant_and_a_retry_resends(api: Api) -> None:
    name, email = rand("org"), rand_email()
    with app_signup_enabled(api):
        body = {"applicationId": api.application_id, "tenantName": name, "tenantDisplayName": "Org Inc"}
        created = provision(api, email=email, **body)
        assert created.status_code == 201, created.text
        first_code = code_in(last_email(api, email))
        retried = provision(api, email=email, **body)
        assert retried.status_code == 201 and retried.json()["user"]["id"] == created.json()["user"]["id"]
        assert retried.json()["emailAuthCodeSent"] is True and emails_to(api, email) == 2
        taken = provision(api, email=rand_email(), **body)
        assert_violation(taken, "tenantName", "not_unique")
        bad_name = provision(api, email=rand_email(), applicationId=api.application_id, tenantName="-")
        assert_violation(bad_name, "tenantName")
    tenant = api.call("GET", f"/tenants/{created.json()['tenantId']}").json()
    assert tenant["domainName"] == name and tenant["displayName"] == "Org Inc"
    roles = api.call("GET", f"/users/{created.json()['user']['id']}/roles").json()["items"]
    assert [r["sku"] for r in roles] == ["tenant-admin"]
    stale = api.call("POST", "/user-activation/introspect-email-auth-code", json={"emailAuthCode": first_code})
    assert_base_error(stale, 400, "invalid_email_auth_code")  # the retry replaced it


def test_activation_by_one_time_code(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    policy = api.call("PUT", f"/tenants/{tenant['id']}/signup-policies", json={"verification": "ACTIVATION_CODE"})
    assert policy.status_code == 200, policy.text
    email = rand_email()
    created = provision(api, tenantId=tenant["id"], email=email)
    assert created.status_code == 201 and created.json()["verification"] == "ACTIVATION_CODE"
    user_id = created.json()["user"]["id"]
    otp = otp_in(last_email(api, email))
    path = "/user-activation/activate-user"
    assert_violation(api.call("POST", path, json={"userId": user_id}), "code", "required")
    assert_violation(api.call("POST", path, json={"code": otp}), "userId", "required")
    assert_violation(api.call("POST", path, json={}), "emailAuthCode", "required")
    mixed = api.call("POST", path, json={"emailAuthCode": "x", "userId": user_id, "code": otp})
    assert_violation(mixed, "emailAuthCode", "invalid_value")
    wrong = api.call("POST", path, json={"userId": user_id, "code": "000000" if otp != "000000" else "111111"})
    assert_base_error(wrong, 400, "invalid_email_auth_code")
    assert_base_error(api.call("POST", path, json={"userId": "nope", "code": otp}), 404, "user_not_found")
    done = api.call("POST", path, json={"userId": user_id, "code": otp})
    assert done.status_code == 200, done.text
    assert done.json()["userId"] == user_id and done.json()["tenantId"] == tenant["id"]
    with browser_for(api) as browser:
        landed = browser.get(done.json()["authSessionUrl"], follow_redirects=False)
        assert landed.status_code == 302 and SESSION_COOKIE in landed.cookies
    assert api.call("GET", f"/users/{user_id}").json()["status"] == "ACTIVE"


def test_email_verification_strategy_returns_a_session_at_once(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    api.call("PUT", f"/tenants/{tenant['id']}/signup-policies", json={"verification": "EMAIL_VERIFICATION"})
    email = rand_email()
    created = provision(api, tenantId=tenant["id"], email=email)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["verification"] == "EMAIL_VERIFICATION" and body["user"]["status"] == "ACTIVE"
    assert body["authSessionUrl"].startswith(f"https://{tenant['domainName']}-{api.vanity}/api/v1/auth-sessions/")
    with browser_for(api) as browser:
        assert SESSION_COOKIE in browser.get(body["authSessionUrl"], follow_redirects=False).cookies
    verified = api.call(
        "POST", "/email-verification/verify-email", json={"emailAuthCode": code_in(last_email(api, email))}
    )
    assert verified.status_code == 200 and verified.json() == {"userId": body["user"]["id"], "emailVerified": True}


def test_request_user_activation(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    user = pending_user(api, tenant["id"])
    first = code_in(last_email(api, user["email"]))
    path = "/user-activation/request-user-activation"
    sent = api.call("POST", path, json={"userId": user["id"]})
    assert sent.status_code == 204 and sent.content == b""
    assert emails_to(api, user["email"]) == 2
    stale = api.call("POST", "/user-activation/introspect-email-auth-code", json={"emailAuthCode": first})
    assert_base_error(stale, 400, "invalid_email_auth_code")
    fresh = code_in(last_email(api, user["email"]))
    assert api.call("POST", "/user-activation/activate-user", json={"emailAuthCode": fresh}).status_code == 200
    assert_base_error(api.call("POST", path, json={"userId": user["id"]}), 400, "user_not_pending_activation")
    assert_base_error(api.call("POST", path, json={"userId": "nope"}), 404, "user_not_found")
    assert_violation(api.call("POST", path, json={}), "userId", "required")


# --- email verification, discovery, passwords ----------------------------------------------


def test_email_verification(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], status="ACTIVE")
    requested = api.call("POST", "/email-verification/request-email-verification", json={"userId": user["id"]})
    assert requested.status_code == 204, requested.text
    link = link_in(last_email(api, user["email"]))
    assert link.startswith(f"https://{tenant['domainName']}-{api.vanity}/verify-email?code=")
    code = code_in(last_email(api, user["email"]))
    verified = api.call("POST", "/email-verification/verify-email", json={"emailAuthCode": code})
    assert verified.status_code == 200 and verified.json() == {"userId": user["id"], "emailVerified": True}
    assert api.call("GET", f"/users/{user['id']}").json()["emailVerified"] is True
    reused = api.call("POST", "/email-verification/verify-email", json={"emailAuthCode": code})
    assert_base_error(reused, 400, "invalid_email_auth_code")
    again = api.call("POST", "/email-verification/request-email-verification", json={"userId": user["id"]})
    assert_base_error(again, 400, "email_already_verified")
    provisioned = api.create_user(tenant["id"])
    refused = api.call("POST", "/email-verification/request-email-verification", json={"userId": provisioned["id"]})
    assert_base_error(refused, 400, "user_not_active")


def test_tenant_discovery(any_api: Api) -> None:
    api = any_api
    email = rand_email()
    tenants = [api.create_tenant(displayName=f"Tenant {i}", logoUrl="https://cdn.test/logo.png") for i in range(2)]
    for tenant in tenants:
        api.create_user(tenant["id"], email=email, status="ACTIVE")
    inactive = api.create_tenant()
    api.create_user(inactive["id"], email=email, status="ACTIVE")
    gone = api.call("GET", f"/tenants/{inactive['id']}/users").json()["items"][0]
    assert api.call("PATCH", f"/users/{gone['id']}", json={"status": "INACTIVE"}).status_code == 200

    body = {"applicationId": api.application_id, "email": email.upper()}
    found = api.call("POST", "/tenant-discovery/fetch-tenants", json=body)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert sorted(i["tenantId"] for i in items) == sorted(t["id"] for t in tenants)
    for item in items:
        assert set(item) == {
            "tenantId",
            "tenantVanityDomain",
            "tenantDomainName",
            "tenantDisplayName",
            "tenantLoginUrl",
            "tenantLogoUrl",
        }
        assert item["tenantVanityDomain"] == f"{item['tenantDomainName']}-{api.vanity}"
        assert item["tenantLoginUrl"] == f"https://{item['tenantVanityDomain']}/login"
        assert item["tenantLogoUrl"] == "https://cdn.test/logo.png"
    unknown = api.call("POST", "/tenant-discovery/fetch-tenants", json={**body, "email": rand_email()})
    assert unknown.status_code == 200 and unknown.json() == {"items": []}
    assert_violation(api.call("POST", "/tenant-discovery/fetch-tenants", json={**body, "email": "x"}), "email")
    wrong_app = api.call("POST", "/tenant-discovery/fetch-tenants", json={**body, "applicationId": "nope"})
    assert_base_error(wrong_app, 404, "application_not_found")

    sent = api.call("POST", "/tenant-discovery/send-tenants-email", json=body)
    assert sent.status_code == 204
    mail = last_email(api, email)["text_body"]
    assert all(f"https://{t['domainName']}-{api.vanity}/login" in mail for t in tenants)
    nobody = rand_email()
    quiet = api.call("POST", "/tenant-discovery/send-tenants-email", json={**body, "email": nobody})
    assert quiet.status_code == 204 and emails_to(api, nobody) == 0


def test_forgot_password(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], status="ACTIVE", password=PASSWORD)
    path = "/forgot-password/request-reset"
    assert api.call("POST", path, json={"tenantId": tenant["id"], "email": user["email"]}).status_code == 204
    nobody = rand_email()
    assert api.call("POST", path, json={"tenantId": tenant["id"], "email": nobody}).status_code == 204
    assert api.call("POST", path, json={"tenantId": tenant["id"], "email": "junk"}).status_code == 204
    assert emails_to(api, nobody) == 0
    assert_base_error(api.call("POST", path, json={"tenantId": "nope", "email": nobody}), 404, "tenant_not_found")
    code = code_in(last_email(api, user["email"]))
    reset = "/forgot-password/reset-password"
    weak = api.call("POST", reset, json={"emailAuthCode": code, "newPassword": "short"})
    assert_violation(weak, "newPassword", "too_short")
    assert_violation(api.call("POST", reset, json={"emailAuthCode": code}), "newPassword", "required")
    done = api.call("POST", reset, json={"emailAuthCode": code, "newPassword": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    reused = api.call("POST", reset, json={"emailAuthCode": code, "newPassword": NEW_PASSWORD + "!"})
    assert_base_error(reused, 400, "invalid_email_auth_code")
    # The new password is the current one now.
    body = {"userId": user["id"], "currentPassword": NEW_PASSWORD, "newPassword": PASSWORD}
    assert api.call("POST", "/change-password", json=body).status_code == 204


def test_change_password_ends_sessions_and_refresh_tokens(any_api: Api) -> None:
    world = make_world(any_api)
    api, user_id = world.api, world.user["id"]
    browser, refresh_token, challenge = signed_in(world)
    try:
        wrong = {"userId": user_id, "currentPassword": "not it at all", "newPassword": NEW_PASSWORD}
        assert_base_error(api.call("POST", "/change-password", json=wrong), 400, "invalid_current_password")
        weak = {"userId": user_id, "currentPassword": PASSWORD, "newPassword": world.user["email"]}
        assert_violation(api.call("POST", "/change-password", json=weak), "newPassword", "matches_email")
        rotated = refresh(world, refresh_token)
        assert rotated.status_code == 200, rotated.text  # the refusals changed nothing
        assert "code" in prompt_none(world, browser, challenge)

        good = {"userId": user_id, "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        changed = api.call("POST", "/change-password", json=good)
        assert changed.status_code == 204, changed.text
        assert prompt_none(world, browser, challenge)["error"] == "login_required"
    finally:
        browser.close()
    latest = refresh(world, rotated.json()["refresh_token"])
    assert latest.status_code == 400 and latest.json()["error"] == "invalid_grant"
    stale = api.call("POST", "/change-password", json=good)
    assert_base_error(stale, 400, "invalid_current_password")
    assert_base_error(api.call("POST", "/change-password", json={**good, "userId": "nope"}), 404, "user_not_found")


def test_delete_auth_sessions_then_revoke_refresh_tokens(any_api: Api) -> None:
    world = make_world(any_api)
    api, user_id = world.api, world.user["id"]
    browser, refresh_token, challenge = signed_in(world)
    try:
        assert "code" in prompt_none(world, browser, challenge)
        deleted = api.call("DELETE", f"/users/{user_id}/auth-sessions")
        assert deleted.status_code == 204, deleted.text
        assert prompt_none(world, browser, challenge)["error"] == "login_required"
    finally:
        browser.close()
    rotated = refresh(world, refresh_token)
    assert rotated.status_code == 200, rotated.text
    # Wristband documents this one without the /api/v1 prefix; both paths work.
    unprefixed = api.client.post(f"/users/{user_id}/refresh-tokens/revoke", headers=api.auth())
    assert unprefixed.status_code == 204, unprefixed.text
    revoked = refresh(world, rotated.json()["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    assert api.call("POST", f"/users/{user_id}/refresh-tokens/revoke").status_code == 204
    assert_base_error(api.call("DELETE", "/users/nope/auth-sessions"), 404, "user_not_found")
    assert_base_error(api.call("POST", "/users/nope/refresh-tokens/revoke"), 404, "user_not_found")


def test_revoke_one_refresh_token_by_id(api: Api) -> None:
    world = make_world(api)
    browser, refresh_token, _ = signed_in(world)
    browser.close()
    with api.services.database.transaction(write=False) as conn:
        token_id = conn.execute(
            sa.select(t.refresh_tokens.c.id).where(t.refresh_tokens.c.token_hash == token_hash(refresh_token))
        ).scalar_one()
    other_tenant = api.create_tenant()
    outsider = token_with_permissions(api, other_tenant["id"], ["refresh-token:revoke", "user:read"])
    assert_base_error(api.call("POST", f"/refresh-tokens/{token_id}/revoke", outsider), 404, "refresh_token_not_found")
    rotated = refresh(world, refresh_token)  # rotation uses it up: its successor is the live one
    assert rotated.status_code == 200, rotated.text
    assert api.call("POST", f"/refresh-tokens/{token_id}/revoke").status_code == 204
    assert refresh(world, rotated.json()["refresh_token"]).json()["error"] == "invalid_grant"
    with api.services.database.transaction(write=False) as conn:
        live = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.refresh_tokens)
            .where((t.refresh_tokens.c.user_id == world.user["id"]) & t.refresh_tokens.c.revoked_at.is_(None))
        ).scalar_one()
    assert live == 0  # its successor went with it
    assert_base_error(api.call("POST", "/refresh-tokens/nope/revoke"), 404, "refresh_token_not_found")


# --- boundaries and bad input ---------------------------------------------------------------


def test_tenant_bounded_client_reaches_only_its_tenant(api: Api) -> None:
    mine, theirs = api.create_tenant(signupEnabled=True), api.create_tenant(signupEnabled=True)
    client_id, secret = api.create_m2m_client(mine["id"])  # tenant admin of `mine`
    token = api.token_for(client_id, secret)
    stranger = api.create_user(theirs["id"], status="ACTIVE", password=PASSWORD)
    pending = pending_user(api, theirs["id"])
    sid = stranger["id"]

    assert_denied(provision(api, token, tenantId=theirs["id"], email=rand_email()))
    assert_denied(provision(api, token, applicationId=api.application_id, tenantName=rand("o"), email=rand_email()))
    for path, body in [
        ("/user-activation/request-user-activation", {"userId": pending["id"]}),
        ("/user-activation/activate-user", {"userId": pending["id"], "code": "123456"}),
        ("/email-verification/request-email-verification", {"userId": sid}),
        ("/forgot-password/request-reset", {"tenantId": theirs["id"], "email": stranger["email"]}),
        ("/change-password", {"userId": sid, "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
        ("/tenant-discovery/fetch-tenants", {"applicationId": api.application_id, "email": stranger["email"]}),
        ("/tenant-discovery/send-tenants-email", {"applicationId": api.application_id, "email": stranger["email"]}),
        (f"/users/{sid}/refresh-tokens/revoke", None),
    ]:
        assert_denied(api.call("POST", path, token, json=body))
    assert_denied(api.call("DELETE", f"/users/{sid}/auth-sessions", token))
    assert_denied(api.client.post(f"/users/{sid}/refresh-tokens/revoke", headers=api.auth(token)))
    assert emails_to(api, stranger["email"]) == 0

    # A code of the other tenant is refused and stays usable.
    code = code_in(last_email(api, pending["email"]))
    for path in ("/user-activation/introspect-email-auth-code", "/user-activation/activate-user"):
        assert_denied(api.call("POST", path, token, json={"emailAuthCode": code}))
    assert api.call("POST", "/user-activation/activate-user", json={"emailAuthCode": code}).status_code == 200

    # In its own tenant the same client may.
    own = api.create_user(mine["id"], status="ACTIVE")
    assert (
        api.call(
            "POST", "/email-verification/request-email-verification", token, json={"userId": own["id"]}
        ).status_code
        == 204
    )
    created = provision(api, token, tenantId=mine["id"], email=rand_email())
    assert created.status_code == 201, created.text
    verify = api.call(
        "POST",
        "/email-verification/verify-email",
        token,
        json={"emailAuthCode": code_in(last_email(api, own["email"]))},
    )
    assert verify.status_code == 200

    # Seeing a user is not enough to act on it.
    reader = token_with_permissions(api, mine["id"], ["user:read"])
    forbidden = api.call(
        "POST",
        "/change-password",
        reader,
        json={"userId": own["id"], "currentPassword": "x", "newPassword": NEW_PASSWORD},
    )
    assert_base_error(forbidden, 403, "forbidden")
    assert_base_error(api.call("POST", "/email-verification/verify-email", reader, json={"emailAuthCode": "x"}), 403)
    unauthenticated = api.client.post("/api/v1/change-password", json={"userId": own["id"]})
    assert_base_error(unauthenticated, 401)


@pytest.mark.parametrize(
    "path",
    [
        "/signup/provision-user",
        "/user-activation/request-user-activation",
        "/user-activation/introspect-email-auth-code",
        "/user-activation/activate-user",
        "/email-verification/request-email-verification",
        "/email-verification/verify-email",
        "/tenant-discovery/fetch-tenants",
        "/tenant-discovery/send-tenants-email",
        "/forgot-password/request-reset",
        "/forgot-password/reset-password",
        "/change-password",
    ],
)
def test_bad_input_is_a_4xx_in_the_error_format(api: Api, path: str) -> None:
    client = safe(api)
    nul, long = "a\u0000b", "x" * 5000
    bodies: list[Any] = [
        [],
        "text",
        {"userId": 5, "emailAuthCode": 5, "email": 5, "tenantId": 5, "applicationId": 5},
        {
            "userId": nul,
            "emailAuthCode": nul,
            "email": nul,
            "tenantId": nul,
            "applicationId": api.application_id,
            "password": nul,
            "newPassword": nul,
            "currentPassword": nul,
            "code": nul,
            "tenantName": nul,
            "givenName": nul,
        },
        {
            "userId": long,
            "emailAuthCode": long,
            "email": long,
            "tenantId": long,
            "applicationId": long,
            "newPassword": long,
            "currentPassword": long,
            "code": long,
        },
    ]
    for body in bodies:
        response = client.call("POST", path, json=body)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text[:300])
        assert response.json()["type"] in ("base_error", "constraint_violations_error")
    garbled = client.call("POST", path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_base_error(garbled, 400, "invalid_request")


def test_unstorable_ids_in_paths_are_not_found(any_api: Api) -> None:
    client = safe(any_api)
    for method, path in [
        ("DELETE", "/api/v1/users/a%00b/auth-sessions"),
        ("POST", "/api/v1/users/a%00b/refresh-tokens/revoke"),
        ("POST", "/users/a%00b/refresh-tokens/revoke"),
        ("POST", "/api/v1/refresh-tokens/a%00b/revoke"),
    ]:
        assert_base_error(client.client.request(method, path, headers=client.auth()), 404)
