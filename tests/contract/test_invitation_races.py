"""Invitation races with real concurrency, on SQLite and PostgreSQL.

Each race runs ``ROUNDS`` times: the contenders prepare (open their form, get their CSRF
token) one after the other, then a ``threading.Barrier`` releases them together. Every
contender has a TestClient of its own (not entered as a context manager: that would run the
application's lifespan again) that reports a server crash as a 500 instead of raising, so the
assertions can say "never 5xx".

The invariants: exactly one user per invitation, exactly one winner, the losers get a clear
4xx (a page or Wristband's error JSON), and the invitation's final status agrees with what
happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.adapters.sql import tables as t
from tenantry.logs import configure_logging
from tests.e2e.oidc_helpers import PASSWORD, csrf_from
from tests.e2e.test_signup import last_email, link_in
from tests.support import Api, rand_email

configure_logging(json=False, level="WARNING")  # as tests/e2e/conftest.py: quiet, fast error logs

ROUNDS = 10
SESSION_COOKIE = "tenantry_session"
PENDING = "PENDING_INVITE_ACCEPTANCE"
UNUSABLE = "This invitation cannot be used"


# --- helpers ------------------------------------------------------------------------------


def browser(api: Api) -> TestClient:
    return TestClient(api.client.app, base_url=str(api.client.base_url), raise_server_exceptions=False)


def race(contenders: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the contenders in threads released together; their responses, in order."""
    barrier = threading.Barrier(len(contenders))
    results: list[httpx.Response | None] = [None] * len(contenders)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = contenders[index]()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(contenders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    assert not errors, errors
    done = [r for r in results if r is not None]
    assert len(done) == len(contenders)
    for response in done:
        assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    return done


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def host_of(api: Api, tenant: dict[str, Any]) -> str:
    return f"https://{tenant['domainName']}-{api.vanity}"


def invite(api: Api, tenant_id: str, **body: Any) -> dict[str, Any]:
    response = api.call("POST", "/new-user-invitation/invite-user", json={"tenantId": tenant_id, **body})
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def users_with(api: Api, tenant_id: str, email: str | None = None) -> list[dict[str, Any]]:
    query = t.users.c.tenant_id == tenant_id
    if email is not None:
        query &= t.users.c.email_key == email.lower()
    with api.services.database.transaction(write=False) as conn:
        rows = conn.execute(sa.select(t.users.c.id, t.users.c.status, t.users.c.email).where(query))
        return [dict(r._mapping) for r in rows]


def invitation_row(api: Api, invitation_id: str) -> dict[str, Any]:
    with api.services.database.transaction(write=False) as conn:
        row = conn.execute(sa.select(t.invitations).where(t.invitations.c.id == invitation_id)).first()
    assert row is not None
    return dict(row._mapping)


def sessions_of(api: Api, user_id: str) -> int:
    with api.services.database.transaction(write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(t.auth_sessions).where(t.auth_sessions.c.user_id == user_id)
        ).scalar_one()
    return int(count)


def opened_form(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    html: str = page.text
    return html


def submit(client: TestClient, url: str, html: str, **fields: str) -> Callable[[], httpx.Response]:
    data = {"csrf_token": csrf_from(html), "code": code_of(url), "password": PASSWORD, **fields}
    return post(client, url.split("?")[0], data=data)


def post(client: TestClient, url: str, **kwargs: Any) -> Callable[[], httpx.Response]:
    """A contender: ``client`` posts to ``url`` (all values bound now, not at call time)."""
    return lambda: client.post(url, follow_redirects=False, **kwargs)


def winners(responses: list[httpx.Response]) -> list[httpx.Response]:
    return [r for r in responses if r.status_code in (200, 302) and SESSION_COOKIE in r.cookies]


def assert_lost_on_the_page(response: httpx.Response) -> None:
    assert response.status_code == 400, f"{response.status_code}: {response.text[:300]}"
    assert UNUSABLE in response.text and SESSION_COOKIE not in response.cookies, response.text[:800]


def assert_api_error(response: httpx.Response, code: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "base_error" and body["code"] == code and body["ticket"], body


# --- the races ----------------------------------------------------------------------------


def test_concurrent_page_accepts_create_one_user(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    for _ in range(ROUNDS):
        email = rand_email()
        request = invite(api, tenant["id"], email=email)["newUserInvitationRequest"]
        link = link_in(last_email(api, email))
        clients = [browser(api) for _ in range(3)]
        try:
            responses = race([submit(c, link, opened_form(c, link)) for c in clients])
        finally:
            for client in clients:
                client.close()
        won = winners(responses)
        assert len(won) == 1, [(r.status_code, r.text[:200]) for r in responses]
        for response in responses:
            if response is not won[0]:
                assert_lost_on_the_page(response)
        [user] = users_with(api, tenant["id"], email)
        assert user["status"] == "ACTIVE"
        row = invitation_row(api, request["id"])
        assert row["status"] == "COMPLETED" and row["completed_user_id"] == user["id"]
        assert sessions_of(api, user["id"]) == 1


def test_concurrent_api_accepts_create_one_user(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    auth = {"Authorization": f"Bearer {api.token}"}
    for _ in range(ROUNDS):
        email = rand_email()
        request = invite(api, tenant["id"], email=email)["newUserInvitationRequest"]
        body = {"emailAuthCode": code_of(link_in(last_email(api, email))), "password": PASSWORD}
        clients = [browser(api) for _ in range(3)]

        try:
            responses = race(
                [post(c, "/api/v1/new-user-invitation/accept-invite", json=body, headers=auth) for c in clients]
            )
        finally:
            for client in clients:
                client.close()
        ok = [r for r in responses if r.status_code == 200]
        assert len(ok) == 1, [(r.status_code, r.text[:200]) for r in responses]
        for response in responses:
            if response is not ok[0]:
                assert_api_error(response, "invalid_invitation")
        [user] = users_with(api, tenant["id"], email)
        assert ok[0].json()["userId"] == user["id"] and "authSessionUrl" in ok[0].json()
        row = invitation_row(api, request["id"])
        assert row["status"] == "COMPLETED" and row["completed_user_id"] == user["id"]


def test_concurrent_link_accepts_with_different_emails_create_one_user(any_api: Api) -> None:
    api = any_api
    for _ in range(ROUNDS):
        tenant = api.create_tenant()
        doc = invite(api, tenant["id"], invitationType="LINK")
        url = doc["inviteUrl"]
        clients = [browser(api) for _ in range(3)]
        emails = [rand_email() for _ in clients]
        try:
            responses = race(
                [submit(c, url, opened_form(c, url), email=e) for c, e in zip(clients, emails, strict=True)]
            )
        finally:
            for client in clients:
                client.close()
        # The activation policy applies: the winner gets the "check your email" page.
        won = [r for r in responses if r.status_code == 200 and UNUSABLE not in r.text]
        assert len(won) == 1, [(r.status_code, r.text[:200]) for r in responses]
        for response in responses:
            if response is not won[0]:
                assert_lost_on_the_page(response)
        [user] = users_with(api, tenant["id"])
        assert user["email"] in emails and user["status"] == "PENDING_INVITE_ACTIVATION"
        row = invitation_row(api, doc["newUserInvitationRequest"]["id"])
        assert row["status"] == "PENDING_EMAIL_VERIFICATION" and row["completed_user_id"] == user["id"]


def test_existing_user_invitation_accepted_twice_at_once_activates_once(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    for _ in range(ROUNDS):
        user = api.create_user(tenant["id"])
        invited = api.call("POST", "/existing-user-invitation/invite-user", json={"userId": user["id"]})
        assert invited.status_code == 200, invited.text
        request = invited.json()["existingUserInvitationRequest"]
        link = link_in(last_email(api, user["email"]))
        clients = [browser(api) for _ in range(3)]
        try:
            responses = race(
                [submit(c, link, opened_form(c, link), password=f"{PASSWORD} {i}") for i, c in enumerate(clients)]
            )
        finally:
            for client in clients:
                client.close()
        won = winners(responses)
        assert len(won) == 1, [(r.status_code, r.text[:200]) for r in responses]
        for response in responses:
            if response is not won[0]:
                assert_lost_on_the_page(response)
        assert [u["status"] for u in users_with(api, tenant["id"], user["email"])] == ["ACTIVE"]
        row = invitation_row(api, request["id"])
        assert row["status"] == "COMPLETED" and row["completed_user_id"] == user["id"]
        assert sessions_of(api, user["id"]) == 1


def test_invitation_accepted_while_the_same_email_signs_up(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant(signupEnabled=True)
    host = host_of(api, tenant)
    for _ in range(ROUNDS):
        email = rand_email()
        request = invite(api, tenant["id"], email=email)["newUserInvitationRequest"]
        link = link_in(last_email(api, email))
        invitee, signer = browser(api), browser(api)
        try:
            accept = submit(invitee, link, opened_form(invitee, link))
            signup_page = opened_form(signer, f"{host}/signup")
            data = {"csrf_token": csrf_from(signup_page), "email": email, "password": PASSWORD}
            responses = race([accept, post(signer, f"{host}/signup", data=data)])
        finally:
            invitee.close()
            signer.close()
        accepted, signed_up = responses
        [user] = users_with(api, tenant["id"], email)
        row = invitation_row(api, request["id"])
        if winners([accepted]):  # which side wins is up to the scheduler; both happen
            assert user["status"] == "ACTIVE"
            assert row["status"] == "COMPLETED" and row["completed_user_id"] == user["id"]
        else:
            assert accepted.status_code == 400 and SESSION_COOKIE not in accepted.cookies, accepted.text[:500]
            assert user["status"] == "PENDING_SIGNUP_ACTIVATION"
            assert row["status"] == PENDING and row["completed_user_id"] is None
        assert signed_up.status_code in (200, 302, 400), signed_up.text[:500]


def test_concurrent_reinvites_leave_exactly_one_pending_invitation(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    auth = {"Authorization": f"Bearer {api.token}"}
    for _ in range(ROUNDS):
        email = rand_email()
        clients = [browser(api) for _ in range(3)]

        try:
            body = {"tenantId": tenant["id"], "email": email}
            responses = race(
                [post(c, "/api/v1/new-user-invitation/invite-user", json=body, headers=auth) for c in clients]
            )
        finally:
            for client in clients:
                client.close()
        ok = [r for r in responses if r.status_code == 200]
        assert ok, [(r.status_code, r.text[:200]) for r in responses]
        for response in responses:
            if response.status_code != 200:
                body = response.json()
                assert response.status_code == 400 and body["type"] == "constraint_violations_error", body
                assert body["violations"]["email"][0]["code"] == "not_unique", body
        with api.services.database.transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(t.invitations.c.id, t.invitations.c.status).where(
                    (t.invitations.c.tenant_id == tenant["id"]) & (t.invitations.c.email_key == email.lower())
                )
            ).all()
        assert len(rows) == len(ok)
        pending = [r.id for r in rows if r.status == PENDING]
        assert len(pending) == 1 and {r.status for r in rows} <= {PENDING, "CANCELED"}
        assert pending[0] in {r.json()["newUserInvitationRequest"]["id"] for r in ok}


def test_accept_racing_cancel_is_all_or_nothing(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    auth = {"Authorization": f"Bearer {api.token}"}
    for _ in range(ROUNDS):
        email = rand_email()
        request = invite(api, tenant["id"], email=email)["newUserInvitationRequest"]
        link = link_in(last_email(api, email))
        invitee, admin = browser(api), browser(api)
        try:
            accept = submit(invitee, link, opened_form(invitee, link))
            body = {"newUserInvitationRequestId": request["id"]}
            cancel = post(admin, "/api/v1/new-user-invitation/cancel-invite", json=body, headers=auth)
            accepted, canceled = race([accept, cancel])
        finally:
            invitee.close()
            admin.close()
        row = invitation_row(api, request["id"])
        users = users_with(api, tenant["id"], email)
        if canceled.status_code == 200:
            assert_lost_on_the_page(accepted)
            assert row["status"] == "CANCELED" and users == []
        else:
            assert_api_error(canceled, "invitation_not_pending")
            assert winners([accepted]), accepted.text[:500]
            assert row["status"] == "COMPLETED" and [u["id"] for u in users] == [row["completed_user_id"]]
