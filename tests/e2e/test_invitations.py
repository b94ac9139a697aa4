"""Invitations end to end over HTTP (Wristband API reference §4.5, §5.2-5.4, §6.3).

- new-user invitations (EMAIL and LINK): invite, resend by re-inviting, cancel, the tenant and
  application queries, the link lifetime from the email policy, and permission boundaries;
- the hosted acceptance pages on the tenant host (``/accept-invite``, ``/accept-existing-invite``)
  and the self-hosted workflow APIs (introspect / accept → ``authSessionUrl``);
- manual provisioning (PROVISIONED → ACTIVE → INACTIVE) and existing-user invitations;
- expiry (read time and the periodic sweep) and the deletion of an invitation's tenant;
- every API error path, each checked to write nothing.

Emails are read from the outbox, as in test_signup.py. Concurrency is in
tests/contract/test_invitation_races.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.adapters.sql import tables as t
from tenantry.web.workers import TenantPurger
from tests.e2e._helpers import (
    ID,
    assert_base_error,
    assert_denied,
    assert_violation,
    create_role,
    token_with_permissions,
)
from tests.e2e.oidc_helpers import (
    PASSWORD,
    World,
    authorize_params,
    browser_for,
    callback_query,
    csrf_from,
    exchange,
    login,
    pkce,
)
from tests.e2e.test_signup import last_email, link_in
from tests.support import Api, build_api, rand, rand_email

NEW = "/new-user-invitation"
EXISTING = "/existing-user-invitation"
PENDING = "PENDING_INVITE_ACCEPTANCE"
UNUSABLE = "This invitation cannot be used"
NEW_PASSWORD = "a brand new passphrase"
SESSION_COOKIE = "tenantry_session"
REQUEST_KEYS = {"id", "tenantId", "applicationId", "email", "status", "expirationTime", "metadata"}


# --- helpers ------------------------------------------------------------------------------


def host_of(api: Api, tenant: dict[str, Any]) -> str:
    return f"{tenant['domainName']}-{api.vanity}"


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)["code"][0]


def invite(
    api: Api, tenant_id: str, email: str | None = None, token: str | None = None, **extra: Any
) -> httpx.Response:
    body = {"tenantId": tenant_id, **({"email": email} if email is not None else {}), **extra}
    return api.call("POST", f"{NEW}/invite-user", token, json=body)


def invited(api: Api, tenant_id: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    """The invite-user answer: ``newUserInvitationRequest`` (and ``inviteUrl`` for LINK)."""
    response = invite(api, tenant_id, email, **extra)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def invite_existing(api: Api, user_id: str, token: str | None = None) -> httpx.Response:
    return api.call("POST", f"{EXISTING}/invite-user", token, json={"userId": user_id})


def role_ids(api: Api, tenant_id: str) -> dict[str, str]:
    """sku → id of the roles ``tenant_id`` sees (its own and the application's)."""
    response = api.call(
        "GET", f"/tenants/{tenant_id}/roles", params={"include_application_roles": "true", "count": 100}
    )
    assert response.status_code == 200, response.text
    return {r["sku"]: r["id"] for r in response.json()["items"]}


def listing(api: Api, owner: str, kind: str = "new", token: str | None = None, **params: Any) -> httpx.Response:
    """``owner`` is ``tenants/{id}`` or ``applications/{id}``."""
    name = "new-user-invitation-requests" if kind == "new" else "existing-user-invitation-requests"
    return api.call("GET", f"/{owner}/{name}", token, params=params)


def listed(api: Api, tenant_id: str, kind: str = "new", **params: Any) -> list[dict[str, Any]]:
    response = listing(api, f"tenants/{tenant_id}", kind, count=100, **params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def status_of(api: Api, tenant_id: str, invitation_id: str, kind: str = "new") -> str:
    found = [i for i in listed(api, tenant_id, kind) if i["id"] == invitation_id]
    assert len(found) == 1, found
    status: str = found[0]["status"]
    return status


def users_of(api: Api, tenant_id: str, email: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"count": 100, **({"query": f'email eq "{email}"'} if email else {})}
    response = api.call("GET", f"/tenants/{tenant_id}/users", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def assigned_skus(api: Api, user_id: str) -> set[str]:
    response = api.call("GET", f"/users/{user_id}/roles")
    assert response.status_code == 200, response.text
    return {r["sku"] for r in response.json()["items"]}


def db_rows(api: Api, table: sa.Table, *columns: str, **where: Any) -> list[tuple[Any, ...]]:
    query = sa.select(*(table.c[c] for c in columns))
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with api.services.database.transaction(write=False) as conn:
        return sorted(tuple(r) for r in conn.execute(query))


def footprint(api: Api, *tenant_ids: str) -> dict[str, Any]:
    """Everything an invitation workflow may write for these tenants, read from the database."""
    state: dict[str, Any] = {}
    for tenant_id in tenant_ids:
        state[tenant_id] = {
            "invitations": db_rows(
                api, t.invitations, "id", "status", "version", "completed_user_id", tenant_id=tenant_id
            ),
            "users": db_rows(
                api, t.users, "id", "status", "version", "email_verified", "password_hash", tenant_id=tenant_id
            ),
            "user_roles": db_rows(api, t.user_roles, "user_id", "role_id", tenant_id=tenant_id),
            "outbox": db_rows(api, t.outbox, "id", tenant_id=tenant_id),
            "email_codes": db_rows(api, t.email_codes, "id", "used_at", tenant_id=tenant_id),
            "auth_sessions": db_rows(api, t.auth_sessions, "id", tenant_id=tenant_id),
        }
    return state


def set_expired(api: Api, invitation_id: str) -> None:
    """Move the invitation's end into the past (time travel for one row)."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    with api.services.database.transaction(write=True) as conn:
        statement = sa.update(t.invitations).where(t.invitations.c.id == invitation_id).values(expires_at=past)
        assert conn.execute(statement).rowcount == 1
        conn.commit()


def stored_status(api: Api, invitation_id: str) -> str | None:
    rows = db_rows(api, t.invitations, "status", id=invitation_id)
    return rows[0][0] if rows else None


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def post_page(browser: TestClient, url: str, page_html: str, **fields: str) -> httpx.Response:
    """Submit an acceptance form (``url`` is the link: the code travels in a hidden field)."""
    data = {"csrf_token": csrf_from(page_html), "code": code_of(url), **fields}
    response: httpx.Response = browser.post(url.split("?")[0], data=data, follow_redirects=False)
    return response


def accept_on_page(api: Api, url: str, **fields: str) -> tuple[httpx.Response, TestClient]:
    """Open the link in a fresh browser and submit the form; returns the answer and the browser
    (the caller closes it)."""
    browser = TestClient(api.client.app, base_url=str(api.client.base_url))
    form = browser.get(url)
    assert form.status_code == 200, form.text[:500]
    return post_page(browser, url, form.text, **fields), browser


def signed_in_ok(response: httpx.Response) -> None:
    assert response.status_code in (200, 302), response.text[:500]
    assert SESSION_COOKIE in response.cookies, response.headers


def unusable_page(response: httpx.Response, reason: str | None = None, statuses: tuple[int, ...] = (400,)) -> None:
    """The hosted "This invitation cannot be used" page (HTML, never the API's JSON)."""
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert UNUSABLE in response.text, response.text[:800]
    if reason is not None:
        assert reason in response.text, response.text[:800]


def web_client(api: Api) -> tuple[str, str]:
    response = api.call(
        "POST",
        "/clients",
        json={
            "name": rand("web"),
            "type": "BACKEND_SERVER",
            "redirectUris": ["https://app.test/callback"],
            "loginUrl": "https://app.test/login",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["clientSecret"]


def world_for(api: Api, tenant: dict[str, Any], user: dict[str, Any]) -> World:
    client_id, secret = web_client(api)
    return World(api, tenant, user, client_id, secret, "https://app.test/callback")


def has_session(world: World, browser: TestClient) -> bool:
    """Whether ``browser`` holds a live session on the world's tenant (authorize, prompt=none)."""
    _, challenge = pkce()
    response = browser.get(
        world.tenant_url("/api/v1/oauth2/authorize"),
        params=authorize_params(world, challenge, prompt="none"),
        follow_redirects=False,
    )
    query = callback_query(response)
    return "code" in query


def refresh(world: World, refresh_token: str) -> httpx.Response:
    response: httpx.Response = world.api.client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=world.basic(),
    )
    return response


@pytest.fixture(scope="module")
def quiet_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An application on a database of its own whose background sweep never runs (the client's
    lifespan is not entered): what a reader sees *before* the sweep persists an expiry."""
    built = build_api(Path(tmp_path_factory.mktemp("quiet")))
    yield built
    built.client.close()
    built.services.close()


# --- new-user invitations: invite, resend, lifetime ---------------------------------------


def test_email_invitation_is_created_and_emailed(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    roles = role_ids(api, tenant["id"])
    email = rand_email()
    doc = invited(api, tenant["id"], email, rolesToAssign=[roles["user"], roles["user"]], language="fr-CA")
    assert set(doc) == {"newUserInvitationRequest"}  # no inviteUrl for EMAIL invitations
    request = doc["newUserInvitationRequest"]
    assert set(request) == REQUEST_KEYS | {"invitationType", "rolesToAssign", "language"}
    assert ID.match(request["id"])
    assert request["tenantId"] == tenant["id"] and request["applicationId"] == api.application_id
    assert request["email"] == email and request["invitationType"] == "EMAIL" and request["status"] == PENDING
    assert request["rolesToAssign"] == [roles["user"]] and request["language"] == "fr-CA"
    created = datetime.fromisoformat(request["metadata"]["creationTime"])
    expires = datetime.fromisoformat(request["expirationTime"])
    assert expires - created == timedelta(minutes=10080)  # the default lifetime: 7 days
    mail = last_email(api, email)
    link = link_in(mail)
    assert link.startswith(f"https://{host_of(api, tenant)}/accept-invite?code=")
    assert mail["tenant_id"] == tenant["id"]
    # The code is not stored in clear and never shown by the API.
    assert code_of(link) not in str(listed(api, tenant["id"]))
    assert db_rows(api, t.invitations, "code_hash", id=request["id"])[0][0] != code_of(link)


def test_link_invitation_returns_its_url_once_and_sends_nothing(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    doc = invited(api, tenant["id"], invitationType="LINK")
    assert set(doc) == {"newUserInvitationRequest", "inviteUrl"}
    request = doc["newUserInvitationRequest"]
    assert request["invitationType"] == "LINK" and request["email"] is None and request["status"] == PENDING
    assert doc["inviteUrl"].startswith(f"https://{host_of(api, tenant)}/accept-invite?code=")
    assert footprint(api, tenant["id"])[tenant["id"]]["outbox"] == []
    # Shown once: neither the listing nor introspection gives the URL or code back.
    items = listed(api, tenant["id"])
    assert [i["id"] for i in items] == [request["id"]] and "inviteUrl" not in items[0]
    assert code_of(doc["inviteUrl"]) not in str(items)
    seen = api.call("POST", f"{NEW}/introspect-invite", json={"inviteCode": code_of(doc["inviteUrl"])})
    assert seen.status_code == 200, seen.text
    assert seen.json()["newUserInvitationRequest"]["id"] == request["id"]
    assert code_of(doc["inviteUrl"]) not in seen.text
    # Two LINK invitations without an email do not cancel each other.
    second = invited(api, tenant["id"], invitationType="LINK")["newUserInvitationRequest"]
    assert status_of(api, tenant["id"], request["id"]) == PENDING
    assert status_of(api, tenant["id"], second["id"]) == PENDING


def test_reinvite_cancels_the_pending_invitation_case_insensitively(any_api: Api) -> None:
    api = any_api
    tenant, other = api.create_tenant(), api.create_tenant()
    email = rand_email()
    first = invited(api, tenant["id"], email.upper())["newUserInvitationRequest"]
    first_link = link_in(last_email(api, email.upper()))
    elsewhere = invited(api, other["id"], email)["newUserInvitationRequest"]  # another tenant: independent
    second = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    second_link = link_in(last_email(api, email))
    assert status_of(api, tenant["id"], first["id"]) == "CANCELED"
    assert status_of(api, tenant["id"], second["id"]) == PENDING
    assert status_of(api, other["id"], elsewhere["id"]) == PENDING
    pending = listed(api, tenant["id"], query=f'status eq "{PENDING}"')
    assert [i["id"] for i in pending] == [second["id"]]
    with browser_for(api) as browser:
        unusable_page(browser.get(first_link), "no longer valid")
    done, browser = accept_on_page(api, second_link, password=PASSWORD)
    browser.close()
    signed_in_ok(done)
    assert [u["email"] for u in users_of(api, tenant["id"])] == [email]


@pytest.mark.parametrize("status", ["PROVISIONED", "ACTIVE"])
def test_inviting_a_member_of_the_tenant_is_a_clear_400(api: Api, status: str) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    user = api.create_user(tenant["id"], status=status)
    before = footprint(api, tenant["id"])
    for email in (user["email"], user["email"].upper()):
        for kind in ("EMAIL", "LINK"):
            refused = invite(api, tenant["id"], email, invitationType=kind)
            body = assert_base_error(refused, 400, "user_already_exists")
            assert email in body["message"]
    assert footprint(api, tenant["id"]) == before
    # The same address may be invited where it is not a user yet.
    assert invited(api, other["id"], user["email"])["newUserInvitationRequest"]["status"] == PENDING


def test_email_policy_sets_the_link_lifetime(api: Api) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    policy = api.call("PUT", f"/tenants/{tenant['id']}/email-policies", json={"invitationMinutes": 30})
    assert policy.status_code == 200 and policy.json()["invitationMinutes"] == 30, policy.text
    for minutes in (9, 10081, 0, -5, "30", True):
        bad = api.call("PUT", f"/tenants/{tenant['id']}/email-policies", json={"invitationMinutes": minutes})
        assert bad.status_code == 400 and bad.json()["type"] in ("constraint_violations_error", "base_error"), bad.text
    request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    created = datetime.fromisoformat(request["metadata"]["creationTime"])
    assert datetime.fromisoformat(request["expirationTime"]) - created == timedelta(minutes=30)
    link = invited(api, tenant["id"], invitationType="LINK")["newUserInvitationRequest"]
    assert datetime.fromisoformat(link["expirationTime"]) - datetime.fromisoformat(
        link["metadata"]["creationTime"]
    ) == timedelta(minutes=30)
    user = api.create_user(tenant["id"])
    existing = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    assert datetime.fromisoformat(existing["expirationTime"]) - datetime.fromisoformat(
        existing["metadata"]["creationTime"]
    ) == timedelta(minutes=30)
    # The override is the tenant's own; the bounds are inclusive.
    elsewhere = invited(api, other["id"], rand_email())["newUserInvitationRequest"]
    assert datetime.fromisoformat(elsewhere["expirationTime"]) - datetime.fromisoformat(
        elsewhere["metadata"]["creationTime"]
    ) == timedelta(minutes=10080)
    for minutes in (10, 10080):
        ok = api.call("PUT", f"/tenants/{tenant['id']}/email-policies", json={"invitationMinutes": minutes})
        assert ok.status_code == 200 and ok.json()["invitationMinutes"] == minutes


# --- new-user invitations: API errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "tenantId", "required"),
        ({"tenantId": None}, "tenantId", None),
        ({"tenantId": 42}, "tenantId", None),
        ({"email": None}, "email", "required"),
        ({"email": "   "}, "email", "required"),
        ({"email": "not-an-email"}, "email", None),
        ({"email": "x" * 200 + "@example.com"}, "email", None),
        ({"invitationType": "SMS"}, "invitationType", "invalid_value"),
        ({"invitationType": "email"}, "invitationType", "invalid_value"),
        ({"rolesToAssign": "admin"}, "rolesToAssign", "invalid_type"),
        ({"rolesToAssign": [f"r{i}" for i in range(51)]}, "rolesToAssign", "too_many"),
        ({"language": "x" * 36}, "language", "too_long"),
    ],
)
def test_invite_body_violations_write_nothing(api: Api, body: dict[str, Any], field: str, code: str | None) -> None:
    tenant = api.create_tenant()
    full = {"tenantId": tenant["id"], "email": rand_email(), **body}
    if field == "tenantId" and not body:
        full.pop("tenantId")
    before = footprint(api, tenant["id"])
    response = api.call("POST", f"{NEW}/invite-user", json=full)
    assert_violation(response, field, code)
    assert footprint(api, tenant["id"]) == before


@pytest.mark.parametrize("raw", ["not json", "[]", '"text"', "{"])
def test_invite_requires_a_json_object(api: Api, raw: str) -> None:
    response = api.call("POST", f"{NEW}/invite-user", content=raw, headers={"Content-Type": "application/json"})
    assert_base_error(response, 400, "invalid_request")


def test_invite_with_unknown_or_wrong_kinds_of_ids_writes_nothing(api: Api) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    user = api.create_user(tenant["id"])
    foreign_role = create_role(api, other["id"], ["user:read"])
    before = footprint(api, tenant["id"], other["id"])
    for tenant_id in ("nosuchtenant", user["id"], foreign_role["id"], "x" * 300):
        assert_base_error(invite(api, tenant_id, rand_email()), 404, "tenant_not_found")
    for roles in (["nosuchrole"], [foreign_role["id"]], [tenant["id"]], [user["id"]], [""]):
        assert_violation(invite(api, tenant["id"], rand_email(), rolesToAssign=roles), "rolesToAssign", "invalid_value")
    assert footprint(api, tenant["id"], other["id"]) == before
    # A tenant being deleted takes no invitations.
    doomed = api.create_tenant()
    assert api.call("DELETE", f"/tenants/{doomed['id']}").status_code in (202, 204)
    assert_base_error(invite(api, doomed["id"], rand_email()), 404, "tenant_not_found")


def test_invite_and_cancel_require_a_token(api: Api) -> None:
    tenant = api.create_tenant()
    request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    before = footprint(api, tenant["id"])
    calls = [
        ("POST", f"/api/v1{NEW}/invite-user", {"tenantId": tenant["id"], "email": rand_email()}),
        ("POST", f"/api/v1{NEW}/cancel-invite", {"newUserInvitationRequestId": request["id"]}),
        ("GET", f"/api/v1/tenants/{tenant['id']}/new-user-invitation-requests", None),
        ("POST", f"/api/v1{EXISTING}/invite-user", {"userId": "whoever"}),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = api.client.request(method, path, json=body, headers=headers)
            assert_base_error(response, 401)
    assert footprint(api, tenant["id"]) == before


# --- cancel -------------------------------------------------------------------------------


def test_cancel_new_user_invitation(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    email = rand_email()
    request = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    canceled = api.call("POST", f"{NEW}/cancel-invite", json={"newUserInvitationRequestId": request["id"]})
    assert canceled.status_code == 200, canceled.text
    doc = canceled.json()["newUserInvitationRequest"]
    assert doc["id"] == request["id"] and doc["status"] == "CANCELED"
    assert status_of(api, tenant["id"], request["id"]) == "CANCELED"
    assert stored_status(api, request["id"]) == "CANCELED"
    with browser_for(api) as browser:
        unusable_page(browser.get(link), "no longer valid")
    refused = api.call("POST", f"{NEW}/accept-invite", json={"emailAuthCode": code_of(link), "password": PASSWORD})
    assert_base_error(refused, 400, "invalid_invitation")
    before = footprint(api, tenant["id"])
    again = api.call("POST", f"{NEW}/cancel-invite", json={"newUserInvitationRequestId": request["id"]})
    assert_base_error(again, 400, "invitation_not_pending")
    assert footprint(api, tenant["id"]) == before
    assert users_of(api, tenant["id"]) == []


def test_cancel_errors_write_nothing(api: Api) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    new_request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    existing_request = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    accepted = invited(api, tenant["id"], rand_email())
    code = code_of(link_in(last_email(api, accepted["newUserInvitationRequest"]["email"])))
    done = api.call("POST", f"{NEW}/accept-invite", json={"emailAuthCode": code, "password": PASSWORD})
    assert done.status_code == 200, done.text
    before = footprint(api, tenant["id"])
    new_cancel, existing_cancel = f"{NEW}/cancel-invite", f"{EXISTING}/cancel-invite"
    for unknown in ("nosuchinvitation", tenant["id"], user["id"], "x" * 300):
        response = api.call("POST", new_cancel, json={"newUserInvitationRequestId": unknown})
        assert_base_error(response, 404, "invitation_request_not_found")
        response = api.call("POST", existing_cancel, json={"existingUserInvitationRequestId": unknown})
        assert_base_error(response, 404, "invitation_request_not_found")
    # Wrong kind: each cancel endpoint knows only its own kind of request.
    wrong = api.call("POST", new_cancel, json={"newUserInvitationRequestId": existing_request["id"]})
    assert_base_error(wrong, 404, "invitation_request_not_found")
    wrong = api.call("POST", existing_cancel, json={"existingUserInvitationRequestId": new_request["id"]})
    assert_base_error(wrong, 404, "invitation_request_not_found")
    completed = api.call(
        "POST", new_cancel, json={"newUserInvitationRequestId": accepted["newUserInvitationRequest"]["id"]}
    )
    assert_base_error(completed, 400, "invitation_not_pending")
    assert_violation(api.call("POST", new_cancel, json={}), "newUserInvitationRequestId", "required")
    assert_violation(api.call("POST", existing_cancel, json={}), "existingUserInvitationRequestId", "required")
    assert_violation(api.call("POST", new_cancel, json={"newUserInvitationRequestId": 7}), "newUserInvitationRequestId")
    assert_base_error(
        api.call("POST", new_cancel, content="nope", headers={"Content-Type": "application/json"}),
        400,
        "invalid_request",
    )
    assert footprint(api, tenant["id"]) == before
    assert status_of(api, tenant["id"], new_request["id"]) == PENDING
    assert status_of(api, tenant["id"], existing_request["id"], "existing") == PENDING


@pytest.mark.parametrize("kind", ["new", "existing"])
def test_cancel_answer_is_the_stored_request(api: Api, kind: str) -> None:
    """The request in the cancel answer is the one a later read returns (status and metadata)."""
    tenant = api.create_tenant()
    if kind == "new":
        request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
        path, key, envelope = f"{NEW}/cancel-invite", "newUserInvitationRequestId", "newUserInvitationRequest"
    else:
        user = api.create_user(tenant["id"])
        request = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
        path, key, envelope = (
            f"{EXISTING}/cancel-invite",
            "existingUserInvitationRequestId",
            "existingUserInvitationRequest",
        )
    time.sleep(0.01)  # a later lastModifiedTime, at millisecond precision
    answer = api.call("POST", path, json={key: request["id"]})
    assert answer.status_code == 200, answer.text
    [stored] = [i for i in listed(api, tenant["id"], kind) if i["id"] == request["id"]]
    assert answer.json()[envelope] == stored
    assert int(stored["metadata"]["version"]) == int(request["metadata"]["version"]) + 1


# --- queries ------------------------------------------------------------------------------


def test_queries_by_tenant_and_application_filter_page_and_sort(any_api: Api) -> None:
    api = any_api
    tenant, other = api.create_tenant(), api.create_tenant()
    emails = [rand_email() for _ in range(4)]
    made = [invited(api, tenant["id"], e)["newUserInvitationRequest"] for e in emails]
    api.call("POST", f"{NEW}/cancel-invite", json={"newUserInvitationRequestId": made[0]["id"]})
    theirs = invited(api, other["id"], rand_email())["newUserInvitationRequest"]
    user = api.create_user(tenant["id"])
    existing = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]

    everything = listing(api, f"tenants/{tenant['id']}").json()
    assert everything["totalResults"] == 4 and everything["startIndex"] == 1
    assert {i["id"] for i in everything["items"]} == {m["id"] for m in made}  # own tenant, own kind only
    pending = listed(api, tenant["id"], query=f'status eq "{PENDING}"')
    assert {i["id"] for i in pending} == {m["id"] for m in made[1:]}
    not_pending = listed(api, tenant["id"], query=f'status ne "{PENDING}" and status ne "COMPLETED"')
    assert [i["id"] for i in not_pending] == [made[0]["id"]]
    assert listing(api, f"tenants/{tenant['id']}", count=0).json() == {
        "totalResults": 4,
        "startIndex": 1,
        "itemsPerPage": 0,
        "items": [],
    }
    by_email = listed(api, tenant["id"], query=f'email eq "{emails[2].upper()}"')
    assert [i["id"] for i in by_email] == [made[2]["id"]]

    # Sorting and paging.
    sorted_ids = [i["id"] for i in listed(api, tenant["id"], sort_by="status:asc,id:desc")]
    expected = sorted(made, key=lambda m: m["id"], reverse=True)
    canceled_first = [made[0]["id"]] + [m["id"] for m in expected if m["id"] != made[0]["id"]]
    assert sorted_ids == canceled_first  # CANCELED < PENDING_INVITE_ACCEPTANCE
    pages = [
        listing(api, f"tenants/{tenant['id']}", sort_by="status:asc,id:desc", start_index=s, count=2).json()
        for s in (1, 3, 5)
    ]
    assert [[i["id"] for i in p["items"]] for p in pages] == [canceled_first[:2], canceled_first[2:], []]
    assert [p["itemsPerPage"] for p in pages] == [2, 2, 0] and {p["totalResults"] for p in pages} == {4}
    camel = listing(api, f"tenants/{tenant['id']}", sort_by="status:asc,id:desc", startIndex=2, count=1).json()
    assert [i["id"] for i in camel["items"]] == canceled_first[1:2]

    # Field selection, as on every list.
    slim = listing(api, f"tenants/{tenant['id']}", fields="id,status", sort_by="creationTime:desc").json()["items"]
    assert [set(i) for i in slim] == [{"id", "status"}] * 4
    assert [i["id"] for i in slim] == [m["id"] for m in reversed(made)]

    # The application query spans tenants; each kind has its own.
    app_items = listing(api, f"applications/{api.application_id}", count=100, query=f'tenantId eq "{other["id"]}"')
    assert [i["id"] for i in app_items.json()["items"]] == [theirs["id"]]
    app_existing = listing(
        api, f"applications/{api.application_id}", "existing", count=100, query=f'userId eq "{user["id"]}"'
    )
    assert [i["id"] for i in app_existing.json()["items"]] == [existing["id"]]
    existing_items = listed(api, tenant["id"], "existing")
    assert [i["id"] for i in existing_items] == [existing["id"]]
    assert existing_items[0]["userId"] == user["id"] and existing_items[0]["email"] == user["email"]


@pytest.mark.parametrize("kind", ["new", "existing"])
def test_query_errors(api: Api, kind: str) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    owner = f"tenants/{tenant['id']}"
    for params in (
        {"query": 'nosuchattr eq "x"'},
        {"query": "status eq PENDING_INVITE_ACCEPTANCE"},
        {"query": 'status sw "PENDING"'},
        {"sort_by": "nosuchattr:asc"},
        {"sort_by": "status:sideways"},
        {"count": "-1"},
        {"count": "many"},
        {"start_index": "-1"},
    ):
        assert_base_error(listing(api, owner, kind, **params), 400, "invalid_request")
    for unknown in ("nosuchtenant", user["id"]):
        assert_base_error(listing(api, f"tenants/{unknown}", kind), 404, "tenant_not_found")
    for unknown in ("nosuchapp", tenant["id"]):
        assert_base_error(listing(api, f"applications/{unknown}", kind), 404, "application_not_found")


# --- permissions and boundaries -----------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_tenants(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Tenant A with its own tenant-admin client, tenant B with pending invitations of both kinds."""
    api: Api = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    a, b = api.create_tenant(displayName="Tenant A"), api.create_tenant(displayName="Tenant B")
    token_a = api.token_for(*api.create_m2m_client(a["id"]))
    b_email = rand_email()
    b_new = invited(api, b["id"], b_email)["newUserInvitationRequest"]
    b_link = invited(api, b["id"], invitationType="LINK")
    b_user = api.create_user(b["id"])
    b_existing = invite_existing(api, b_user["id"]).json()["existingUserInvitationRequest"]
    return {
        "api": api,
        "a": a,
        "b": b,
        "token_a": token_a,
        "b_new": b_new,
        "b_code": code_of(link_in(last_email(api, b_email))),
        "b_link_code": code_of(b_link["inviteUrl"]),
        "b_user": b_user,
        "b_existing": b_existing,
        "b_existing_code": code_of(link_in(last_email(api, b_user["email"]))),
    }


def test_a_tenant_client_invites_into_its_own_tenant_only(two_tenants: dict[str, Any]) -> None:
    w = two_tenants
    api, a, b, token = w["api"], w["a"], w["b"], w["token_a"]
    mine = invite(api, a["id"], rand_email(), token)
    assert mine.status_code == 200, mine.text
    a_user = api.create_user(a["id"])
    assert invite_existing(api, a_user["id"], token).status_code == 200
    before = footprint(api, b["id"])
    assert_base_error(invite(api, b["id"], rand_email(), token), 404, "tenant_not_found")
    assert_base_error(invite(api, b["id"], token=token, invitationType="LINK"), 404, "tenant_not_found")
    assert_base_error(invite_existing(api, w["b_user"]["id"], token), 404, "user_not_found")
    cancel_new = api.call("POST", f"{NEW}/cancel-invite", token, json={"newUserInvitationRequestId": w["b_new"]["id"]})
    assert_base_error(cancel_new, 404, "invitation_request_not_found")
    body = {"existingUserInvitationRequestId": w["b_existing"]["id"]}
    assert_base_error(
        api.call("POST", f"{EXISTING}/cancel-invite", token, json=body), 404, "invitation_request_not_found"
    )
    for kind in ("new", "existing"):
        assert_base_error(listing(api, f"tenants/{b['id']}", kind, token), 404, "tenant_not_found")
        # The application-wide query is limited to what the token reaches.
        items = listing(api, f"applications/{api.application_id}", kind, token, count=100).json()["items"]
        assert items and {i["tenantId"] for i in items} == {a["id"]}
    for path, body in (
        (f"{NEW}/introspect-invite", {"emailAuthCode": w["b_code"]}),
        (f"{NEW}/introspect-invite", {"inviteCode": w["b_link_code"]}),
        (f"{NEW}/accept-invite", {"emailAuthCode": w["b_code"], "password": PASSWORD}),
        (f"{NEW}/accept-invite", {"inviteCode": w["b_link_code"], "email": rand_email(), "password": PASSWORD}),
        (f"{EXISTING}/introspect-invite", {"emailAuthCode": w["b_existing_code"]}),
        (f"{EXISTING}/accept-invite", {"emailAuthCode": w["b_existing_code"], "password": PASSWORD}),
    ):
        assert_denied(api.call("POST", path, token, json=body))
    assert footprint(api, b["id"]) == before
    assert status_of(api, b["id"], w["b_new"]["id"]) == PENDING


def test_roles_an_inviter_may_grant_are_limited_to_what_it_holds(api: Api) -> None:
    a = api.create_tenant()
    roles = role_ids(api, a["id"])
    own = create_role(api, a["id"], ["user:read"])
    narrow = token_with_permissions(api, a["id"], ["new-user-invitation-workflow:execute", "tenant:read"])
    tenant_admin = api.token_for(*api.create_m2m_client(a["id"]))
    before = footprint(api, a["id"])
    # A holder of the workflow permission alone may invite, but not hand out permissions.
    for granted in ([roles["tenant-admin"]], [roles["admin-client"]], [own["id"]], [roles["user"]]):
        assert_base_error(invite(api, a["id"], rand_email(), narrow, rolesToAssign=granted), 403, "forbidden")
    # A tenant admin may grant tenant-bounded roles, never the application-wide admin role.
    assert_base_error(invite(api, a["id"], rand_email(), tenant_admin, rolesToAssign=[roles["admin-client"]]), 403)
    mixed = [roles["user"], roles["admin-client"]]
    assert_base_error(invite(api, a["id"], rand_email(), tenant_admin, rolesToAssign=mixed), 403, "forbidden")
    assert footprint(api, a["id"]) == before
    assert invite(api, a["id"], rand_email(), narrow).status_code == 200
    ok = invite(
        api, a["id"], rand_email(), tenant_admin, rolesToAssign=[roles["tenant-admin"], roles["user"], own["id"]]
    )
    assert ok.status_code == 200, ok.text


def test_permissions_are_checked_per_operation(api: Api) -> None:
    a = api.create_tenant()
    user = api.create_user(a["id"])
    request = invited(api, a["id"], rand_email())["newUserInvitationRequest"]
    reader = token_with_permissions(api, a["id"], ["tenant:read", "user:read"])
    lister = token_with_permissions(api, a["id"], ["tenant:read", "new-user-invitation-request:read"])
    before = footprint(api, a["id"])
    assert_base_error(invite(api, a["id"], rand_email(), reader), 403, "forbidden")
    assert_base_error(invite_existing(api, user["id"], reader), 403, "forbidden")
    cancel = api.call("POST", f"{NEW}/cancel-invite", reader, json={"newUserInvitationRequestId": request["id"]})
    assert_denied(cancel)
    assert_base_error(listing(api, f"tenants/{a['id']}", "new", reader), 403, "forbidden")
    assert_base_error(listing(api, f"applications/{api.application_id}", "new", reader), 403, "forbidden")
    assert listing(api, f"tenants/{a['id']}", "new", lister).status_code == 200
    assert_base_error(listing(api, f"tenants/{a['id']}", "existing", lister), 403, "forbidden")
    assert_base_error(invite(api, a["id"], rand_email(), lister), 403, "forbidden")
    assert footprint(api, a["id"]) == before


# --- the hosted acceptance page -----------------------------------------------------------


def test_email_invitation_accepted_on_the_page(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    roles = role_ids(api, tenant["id"])
    email = rand_email()
    request = invited(api, tenant["id"], email, rolesToAssign=[roles["tenant-admin"], roles["user"]])
    request = request["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    with browser_for(api) as browser:
        form = browser.get(link)
        assert form.status_code == 200 and email in form.text
        assert 'name="email"' not in form.text and 'name="password"' in form.text  # EMAIL type: the address is known
        done = post_page(browser, link, form.text, password=PASSWORD, email="someone-else@example.com")
        signed_in_ok(done)
        [user] = users_of(api, tenant["id"])
        assert user["email"] == email and user["status"] == "ACTIVE" and user["emailVerified"] is True
        assert user["hasPassword"] is True and user["metadata"]["activationTime"]
        assert assigned_skus(api, user["id"]) == {"tenant-admin", "user"}
        world = world_for(api, tenant, user)
        assert has_session(world, browser)  # the cookie is a live session on the tenant host
        unusable_page(browser.get(link), "already been accepted")
        replay = post_page(browser, link, form.text, password=PASSWORD)
        unusable_page(replay, "already been accepted")
    doc = next(i for i in listed(api, tenant["id"]) if i["id"] == request["id"])
    assert doc["status"] == "COMPLETED" and int(doc["metadata"]["version"]) > 1
    assert db_rows(api, t.invitations, "completed_user_id", id=request["id"]) == [(user["id"],)]
    assert len(users_of(api, tenant["id"])) == 1
    # The invitee signs in with the chosen password.
    verifier, challenge = pkce()
    with browser_for(api) as fresh:
        query = callback_query(login(world, fresh, authorize_params(world, challenge)))
    assert exchange(world, query["code"], verifier).status_code == 200


def test_page_asks_the_schema_fields_and_keeps_the_invitation_on_errors(api: Api) -> None:
    tenant = api.create_tenant()
    schema = api.call("PUT", f"/tenants/{tenant['id']}/user-schemas", json={"requiredFields": ["givenName"]})
    assert schema.status_code == 200, schema.text
    email = rand_email()
    request = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    with browser_for(api) as browser:
        form = browser.get(link)
        assert 'name="givenName"' in form.text
        before = footprint(api, tenant["id"])
        weak = post_page(browser, link, form.text, password="password", givenName="Ada")
        assert weak.status_code == 400 and 'name="password"' in weak.text and SESSION_COOKIE not in weak.cookies
        too_long = post_page(browser, link, form.text, password=PASSWORD, givenName="x" * 201)
        assert too_long.status_code == 400 and SESSION_COOKIE not in too_long.cookies
        no_password = post_page(browser, link, form.text, givenName="Ada")
        assert no_password.status_code == 400
        no_csrf = browser.post(link.split("?")[0], data={"code": code_of(link), "password": PASSWORD})
        assert no_csrf.status_code == 403
        wrong_csrf = browser.post(
            link.split("?")[0], data={"code": code_of(link), "password": PASSWORD, "csrf_token": "forged"}
        )
        assert wrong_csrf.status_code == 403
        assert footprint(api, tenant["id"]) == before
        assert status_of(api, tenant["id"], request["id"]) == PENDING
        done = post_page(browser, link, form.text, password=PASSWORD, givenName="Ada")
        signed_in_ok(done)
    [user] = users_of(api, tenant["id"])
    assert user["givenName"] == "Ada"


def test_link_invitation_follows_the_activation_policy(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    roles = role_ids(api, tenant["id"])
    doc = invited(api, tenant["id"], invitationType="LINK", rolesToAssign=[roles["user"]])
    request, url = doc["newUserInvitationRequest"], doc["inviteUrl"]
    email = rand_email()
    with browser_for(api) as browser:
        form = browser.get(url)
        assert form.status_code == 200 and 'name="email"' in form.text
        bad = post_page(browser, url, form.text, email="not-an-email", password=PASSWORD)
        assert bad.status_code == 400 and users_of(api, tenant["id"]) == []
        done = post_page(browser, url, form.text, email=email, password=PASSWORD)
        assert done.status_code == 200 and SESSION_COOKIE not in done.cookies
        assert "email" in done.text.lower()
        [user] = users_of(api, tenant["id"])
        assert user["email"] == email and user["status"] == "PENDING_INVITE_ACTIVATION"
        assert user["emailVerified"] is False and assigned_skus(api, user["id"]) == {"user"}
        assert status_of(api, tenant["id"], request["id"]) == "PENDING_EMAIL_VERIFICATION"
        unusable_page(browser.get(url))  # the link is used up
        activation = link_in(last_email(api, email))
        assert activation.startswith(f"https://{host_of(api, tenant)}/activate?code=")
        activated = browser.get(activation, follow_redirects=False)
        assert activated.status_code in (200, 302) and SESSION_COOKIE in activated.cookies
    after = api.call("GET", f"/users/{user['id']}").json()
    assert after["status"] == "ACTIVE" and after["emailVerified"] is True
    assert status_of(api, tenant["id"], request["id"]) == "COMPLETED"


def test_link_invitation_with_email_verification_signs_in_at_once(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    policy = api.call("PUT", f"/tenants/{tenant['id']}/signup-policies", json={"verification": "EMAIL_VERIFICATION"})
    assert policy.status_code == 200, policy.text
    doc = invited(api, tenant["id"], invitationType="LINK")
    request, url = doc["newUserInvitationRequest"], doc["inviteUrl"]
    email = rand_email()
    done, browser = accept_on_page(api, url, email=email, password=PASSWORD)
    try:
        signed_in_ok(done)
        [user] = users_of(api, tenant["id"])
        assert user["status"] == "ACTIVE" and user["emailVerified"] is False
        assert status_of(api, tenant["id"], request["id"]) == "PENDING_EMAIL_VERIFICATION"
        assert has_session(world_for(api, tenant, user), browser)
        verification = link_in(last_email(api, email))
        assert "/verify-email?code=" in verification
        assert browser.get(verification).status_code == 200
    finally:
        browser.close()
    assert api.call("GET", f"/users/{user['id']}").json()["emailVerified"] is True
    assert status_of(api, tenant["id"], request["id"]) == "COMPLETED"


@pytest.mark.parametrize(
    ("verification", "resend", "path"),
    [
        ("ACTIVATION_LINK", "/user-activation/request-user-activation", "/activate?code="),
        ("EMAIL_VERIFICATION", "/email-verification/request-email-verification", "/verify-email?code="),
    ],
    ids=["activation", "verification"],
)
def test_link_invitation_completes_when_a_resent_email_is_used(
    api: Api, verification: str, resend: str, path: str
) -> None:
    """The invitee loses the first activation (or verification) email and an admin resends it.
    Proving the address with the new email must complete the invitation as the first would have."""
    tenant = api.create_tenant()
    policy = api.call("PUT", f"/tenants/{tenant['id']}/signup-policies", json={"verification": verification})
    assert policy.status_code == 200, policy.text
    doc = invited(api, tenant["id"], invitationType="LINK")
    request, url = doc["newUserInvitationRequest"], doc["inviteUrl"]
    email = rand_email()
    done, browser = accept_on_page(api, url, email=email, password=PASSWORD)
    browser.close()
    assert done.status_code in (200, 302)
    [user] = users_of(api, tenant["id"])
    first = link_in(last_email(api, email))
    resent = api.call("POST", resend, json={"userId": user["id"]})
    assert resent.status_code == 204, resent.text
    second = link_in(last_email(api, email))
    assert second != first and path in second
    assert status_of(api, tenant["id"], request["id"]) == "PENDING_EMAIL_VERIFICATION"
    with browser_for(api) as fresh:
        assert fresh.get(first, follow_redirects=False).status_code == 400  # superseded
        assert fresh.get(second, follow_redirects=False).status_code in (200, 302)
    after = api.call("GET", f"/users/{user['id']}").json()
    assert after["status"] == "ACTIVE" and after["emailVerified"] is True
    assert status_of(api, tenant["id"], request["id"]) == "COMPLETED"


def test_link_invitation_refuses_an_email_that_is_already_a_member(api: Api) -> None:
    tenant = api.create_tenant()
    member = api.create_user(tenant["id"], status="ACTIVE", password=PASSWORD)
    doc = invited(api, tenant["id"], invitationType="LINK")
    before = footprint(api, tenant["id"])
    done, browser = accept_on_page(api, doc["inviteUrl"], email=member["email"].upper(), password=PASSWORD)
    browser.close()
    assert done.status_code == 400 and SESSION_COOKIE not in done.cookies
    assert footprint(api, tenant["id"]) == before
    api_done = api.call(
        "POST",
        f"{NEW}/accept-invite",
        json={"inviteCode": code_of(doc["inviteUrl"]), "email": member["email"], "password": PASSWORD},
    )
    assert_violation(api_done, "email", "not_unique")
    assert footprint(api, tenant["id"]) == before


def test_an_invitee_who_became_a_user_meanwhile_gets_a_clear_error(api: Api) -> None:
    """The address was invited, then the admin created the user by hand: accepting must not
    make a second user, and says why."""
    tenant = api.create_tenant()
    email = rand_email()
    request = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    api.create_user(tenant["id"], email=email)
    before = footprint(api, tenant["id"])
    done, browser = accept_on_page(api, link, password=PASSWORD)
    browser.close()
    assert done.status_code == 400 and SESSION_COOKIE not in done.cookies
    assert 'role="alert"' in done.text, done.text[:800]
    by_api = api.call("POST", f"{NEW}/accept-invite", json={"emailAuthCode": code_of(link), "password": PASSWORD})
    assert_violation(by_api, "email", "not_unique")
    assert footprint(api, tenant["id"]) == before
    assert status_of(api, tenant["id"], request["id"]) == PENDING


def test_dead_links_show_a_clear_page_and_create_nothing(api: Api) -> None:
    tenant, other = api.create_tenant(), api.create_tenant()
    user = api.create_user(tenant["id"])
    host = f"https://{host_of(api, tenant)}"

    canceled_email = rand_email()
    canceled = invited(api, tenant["id"], canceled_email)["newUserInvitationRequest"]
    canceled_link = link_in(last_email(api, canceled_email))
    api.call("POST", f"{NEW}/cancel-invite", json={"newUserInvitationRequestId": canceled["id"]})
    expired_email = rand_email()
    expired = invited(api, tenant["id"], expired_email)["newUserInvitationRequest"]
    expired_link = link_in(last_email(api, expired_email))
    set_expired(api, expired["id"])
    assert wait_for(lambda: stored_status(api, expired["id"]) == "EXPIRED")  # let the sweep settle
    used_email = rand_email()
    invited(api, tenant["id"], used_email)
    used_link = link_in(last_email(api, used_email))
    done, browser = accept_on_page(api, used_link, password=PASSWORD)
    browser.close()
    signed_in_ok(done)
    invite_existing(api, user["id"])
    existing_link = link_in(last_email(api, user["email"]))
    foreign_email = rand_email()
    invited(api, other["id"], foreign_email)
    foreign_link = link_in(last_email(api, foreign_email))

    cases = [
        (canceled_link, "no longer valid"),
        (expired_link, "has expired"),
        (used_link, "already been accepted"),
        (f"{host}/accept-invite?code=nosuchcode", None),
        (f"{host}/accept-invite?code=", None),
        (f"{host}/accept-invite", None),
        (f"{host}/accept-invite?code={'x' * 500}", None),
        # An existing-user code on the new-user page, and the other way around.
        (f"{host}/accept-invite?code={code_of(existing_link)}", None),
        (f"{host}/accept-existing-invite?code={code_of(used_link)}", None),
        # Another tenant's link on this tenant's host.
        (f"{host}/accept-invite?code={code_of(foreign_link)}", None),
    ]
    before = footprint(api, tenant["id"], other["id"])
    with browser_for(api) as browser:
        csrf_page = browser.get(existing_link)  # any form of this host gives a CSRF token
        assert csrf_page.status_code == 200
        for url, reason in cases:
            unusable_page(browser.get(url), reason)
            path = urlsplit(url).path
            data = {"csrf_token": csrf_from(csrf_page.text), "code": code_of(url) if "code=" in url else ""}
            posted = browser.post(f"{host}{path}", data={**data, "password": PASSWORD, "email": rand_email()})
            unusable_page(posted, reason)
    assert footprint(api, tenant["id"], other["id"]) == before


# --- self-hosted pages: the workflow APIs -------------------------------------------------


def test_introspect_and_accept_new_user_invite_by_api(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    roles = role_ids(api, tenant["id"])
    email = rand_email()
    request = invited(api, tenant["id"], email, rolesToAssign=[roles["user"]])["newUserInvitationRequest"]
    code = code_of(link_in(last_email(api, email)))
    seen = api.call("POST", f"{NEW}/introspect-invite", json={"emailAuthCode": code})
    assert seen.status_code == 200, seen.text
    assert seen.json()["newUserInvitationRequest"] == request
    accepted = api.call(
        "POST", f"{NEW}/accept-invite", json={"emailAuthCode": code, "password": PASSWORD, "givenName": "Grace"}
    )
    assert accepted.status_code == 200, accepted.text
    doc = accepted.json()
    assert set(doc) == {"userId", "tenantId", "status", "authSessionCode", "authSessionUrl"}
    assert doc["tenantId"] == tenant["id"] and doc["status"] == "ACTIVE"
    host = host_of(api, tenant)
    assert doc["authSessionUrl"] == f"https://{host}/api/v1/auth-sessions/create?code={doc['authSessionCode']}"
    user = api.call("GET", f"/users/{doc['userId']}").json()
    assert user["email"] == email and user["emailVerified"] is True and user["givenName"] == "Grace"
    assert assigned_skus(api, user["id"]) == {"user"}
    assert status_of(api, tenant["id"], request["id"]) == "COMPLETED"
    with browser_for(api) as browser:
        session = browser.get(doc["authSessionUrl"], follow_redirects=False)
        assert session.status_code == 302 and SESSION_COOKIE in session.cookies
        assert has_session(world_for(api, tenant, user), browser)
        again = browser.get(doc["authSessionUrl"], follow_redirects=False)  # single use
        assert again.status_code == 400 and SESSION_COOKIE not in again.cookies
    with browser_for(api) as elsewhere:  # the code belongs to its tenant's host
        other = api.create_tenant()
        wrong_host = elsewhere.get(
            f"https://{host_of(api, other)}/api/v1/auth-sessions/create?code={doc['authSessionCode']}",
            follow_redirects=False,
        )
        assert SESSION_COOKIE not in wrong_host.cookies
    before = footprint(api, tenant["id"])
    for path, body in (
        (f"{NEW}/accept-invite", {"emailAuthCode": code, "password": PASSWORD}),
        (f"{NEW}/introspect-invite", {"emailAuthCode": code}),
    ):
        assert_base_error(api.call("POST", path, json=body), 400, "invalid_invitation")
    assert footprint(api, tenant["id"]) == before


def test_link_invite_accepted_by_api(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    doc = invited(api, tenant["id"], invitationType="LINK")
    code = code_of(doc["inviteUrl"])
    email = rand_email()
    accepted = api.call("POST", f"{NEW}/accept-invite", json={"inviteCode": code, "email": email, "password": PASSWORD})
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "PENDING_INVITE_ACTIVATION" and "authSessionUrl" not in body  # the email comes first
    assert status_of(api, tenant["id"], doc["newUserInvitationRequest"]["id"]) == "PENDING_EMAIL_VERIFICATION"
    activation = code_of(link_in(last_email(api, email)))
    activated = api.call("POST", "/user-activation/activate-user", json={"emailAuthCode": activation})
    assert activated.status_code == 200, activated.text
    assert status_of(api, tenant["id"], doc["newUserInvitationRequest"]["id"]) == "COMPLETED"

    verified_first = api.create_tenant()
    api.call("PUT", f"/tenants/{verified_first['id']}/signup-policies", json={"verification": "EMAIL_VERIFICATION"})
    link = invited(api, verified_first["id"], invitationType="LINK")["inviteUrl"]
    now = api.call(
        "POST",
        f"{NEW}/accept-invite",
        json={"inviteCode": code_of(link), "email": rand_email(), "password": PASSWORD},
    )
    assert now.status_code == 200 and now.json()["status"] == "ACTIVE" and "authSessionUrl" in now.json()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "emailAuthCode", "required_one_of"),
        ({"emailAuthCode": "", "inviteCode": ""}, "emailAuthCode", "required_one_of"),
        ({"emailAuthCode": "BOTH", "inviteCode": "BOTH"}, "emailAuthCode", "required_one_of"),
        ({"emailAuthCode": "CODE"}, "password", "required"),
        ({"emailAuthCode": "CODE", "password": "password"}, "password", None),
        ({"emailAuthCode": "CODE", "password": 12345678}, "password", "invalid_type"),
        ({"emailAuthCode": "CODE", "password": PASSWORD, "givenName": "x" * 201}, "givenName", None),
        ({"emailAuthCode": "CODE", "password": PASSWORD, "phoneNumber": "12345"}, "phoneNumber", None),
        ({"inviteCode": "LINK", "password": PASSWORD}, "email", None),
        ({"inviteCode": "LINK", "password": PASSWORD, "email": "not-an-email"}, "email", None),
    ],
)
def test_accept_new_user_invite_violations_write_nothing(
    api: Api, body: dict[str, Any], field: str, code: str | None
) -> None:
    tenant = api.create_tenant()
    email = rand_email()
    invited(api, tenant["id"], email)
    email_code = code_of(link_in(last_email(api, email)))
    link_code = code_of(invited(api, tenant["id"], invitationType="LINK")["inviteUrl"])
    values = {"CODE": email_code, "LINK": link_code, "BOTH": email_code}
    filled = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    if body.get("inviteCode") == "BOTH":
        filled["inviteCode"] = link_code
    before = footprint(api, tenant["id"])
    assert_violation(api.call("POST", f"{NEW}/accept-invite", json=filled), field, code)
    assert footprint(api, tenant["id"]) == before


def test_accept_and_introspect_with_unknown_or_wrong_kinds_of_codes(api: Api) -> None:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    invite_existing(api, user["id"])
    existing_code = code_of(link_in(last_email(api, user["email"])))
    email = rand_email()
    invited(api, tenant["id"], email)
    new_code = code_of(link_in(last_email(api, email)))
    before = footprint(api, tenant["id"])
    for code in ("nosuchcode", "x" * 500, existing_code, tenant["id"]):
        for body in ({"emailAuthCode": code}, {"inviteCode": code}):
            assert_base_error(api.call("POST", f"{NEW}/introspect-invite", json=body), 400, "invalid_invitation")
            accept = {**body, "password": PASSWORD, "email": rand_email()}
            assert_base_error(api.call("POST", f"{NEW}/accept-invite", json=accept), 400, "invalid_invitation")
    for code in ("nosuchcode", new_code):
        body = {"emailAuthCode": code}
        assert_base_error(api.call("POST", f"{EXISTING}/introspect-invite", json=body), 400, "invalid_invitation")
        accept = {**body, "password": PASSWORD}
        assert_base_error(api.call("POST", f"{EXISTING}/accept-invite", json=accept), 400, "invalid_invitation")
    assert_violation(api.call("POST", f"{EXISTING}/accept-invite", json={}), "emailAuthCode", "required")
    assert_violation(api.call("POST", f"{EXISTING}/introspect-invite", json={}), "emailAuthCode")
    for path in (f"{NEW}/accept-invite", f"{NEW}/introspect-invite", f"{EXISTING}/accept-invite"):
        raw = api.call("POST", path, content="[]", headers={"Content-Type": "application/json"})
        assert_base_error(raw, 400, "invalid_request")
        assert_base_error(api.client.post(f"/api/v1{path}", json={"emailAuthCode": new_code}), 401)
    assert footprint(api, tenant["id"]) == before


def test_workflow_permission_is_needed_to_accept_by_api(api: Api) -> None:
    tenant = api.create_tenant()
    email = rand_email()
    invited(api, tenant["id"], email)
    code = code_of(link_in(last_email(api, email)))
    user = api.create_user(tenant["id"])
    invite_existing(api, user["id"])
    existing_code = code_of(link_in(last_email(api, user["email"])))
    reader = token_with_permissions(api, tenant["id"], ["tenant:read", "user:read"])
    before = footprint(api, tenant["id"])
    for path, body in (
        (f"{NEW}/introspect-invite", {"emailAuthCode": code}),
        (f"{NEW}/accept-invite", {"emailAuthCode": code, "password": PASSWORD}),
        (f"{EXISTING}/introspect-invite", {"emailAuthCode": existing_code}),
        (f"{EXISTING}/accept-invite", {"emailAuthCode": existing_code, "password": PASSWORD}),
    ):
        assert_base_error(api.call("POST", path, reader, json=body), 403, "forbidden")
    assert footprint(api, tenant["id"]) == before


# --- manual provisioning ------------------------------------------------------------------


def test_provisioned_user_signs_in_only_after_manual_activation(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], password=PASSWORD)
    assert user["status"] == "PROVISIONED" and user["hasPassword"] is True and user["emailVerified"] is False
    world = world_for(api, tenant, user)
    _, challenge = pkce()
    with browser_for(api) as browser:
        refused = login(world, browser, authorize_params(world, challenge))
        assert refused.status_code in (400, 401, 403) and "location" not in refused.headers
        assert SESSION_COOKIE not in refused.cookies

    verified = api.call("PATCH", f"/users/{user['id']}", json={"emailVerified": True})
    assert verified.status_code == 200, verified.text
    assert verified.json()["emailVerified"] is True and verified.json()["metadata"]["lastVerificationTime"]
    assert verified.json()["status"] == "PROVISIONED"
    activated = api.call("PATCH", f"/users/{user['id']}", json={"status": "ACTIVE"})
    assert activated.status_code == 200 and activated.json()["status"] == "ACTIVE"
    assert activated.json()["metadata"]["activationTime"]

    verifier, challenge = pkce()
    browser = TestClient(api.client.app, base_url=str(api.client.base_url))
    try:
        query = callback_query(login(world, browser, authorize_params(world, challenge)))
        tokens = exchange(world, query["code"], verifier)
        assert tokens.status_code == 200, tokens.text
        refresh_token = tokens.json()["refresh_token"]
        assert has_session(world, browser)

        deactivated = api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"})
        assert deactivated.status_code == 200 and deactivated.json()["status"] == "INACTIVE"
        assert not has_session(world, browser)
    finally:
        browser.close()
    gone = refresh(world, refresh_token)
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
    assert db_rows(api, t.auth_sessions, "id", user_id=user["id"]) == []
    _, challenge = pkce()
    with browser_for(api) as again:
        assert "location" not in login(world, again, authorize_params(world, challenge)).headers


def test_request_user_activation(api: Api) -> None:
    tenant = api.create_tenant()
    link = invited(api, tenant["id"], invitationType="LINK")["inviteUrl"]
    email = rand_email()
    done = api.call(
        "POST", f"{NEW}/accept-invite", json={"inviteCode": code_of(link), "email": email, "password": PASSWORD}
    )
    user_id = done.json()["userId"]
    path = "/user-activation/request-user-activation"
    assert api.call("POST", path, json={"userId": user_id}).status_code == 204
    assert "/activate?code=" in link_in(last_email(api, email))
    provisioned = api.create_user(tenant["id"])
    active = api.create_user(tenant["id"], status="ACTIVE")
    before = footprint(api, tenant["id"])
    for other in (provisioned, active):
        assert_base_error(api.call("POST", path, json={"userId": other["id"]}), 400, "user_not_pending_activation")
    for unknown in ("nosuchuser", tenant["id"]):
        assert_base_error(api.call("POST", path, json={"userId": unknown}), 404, "user_not_found")
    assert_violation(api.call("POST", path, json={}), "userId", "required")
    assert footprint(api, tenant["id"]) == before


# --- existing-user invitations ------------------------------------------------------------


@pytest.mark.parametrize("start", ["PROVISIONED", "INACTIVE"])
def test_existing_user_invitation_activates_on_the_page(any_api: Api, start: str) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], givenName="Lin")
    if start == "INACTIVE":
        api.call("PATCH", f"/users/{user['id']}", json={"status": "ACTIVE"})
        assert api.call("PATCH", f"/users/{user['id']}", json={"status": "INACTIVE"}).json()["status"] == "INACTIVE"
    response = invite_existing(api, user["id"])
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"existingUserInvitationRequest"}
    request = response.json()["existingUserInvitationRequest"]
    assert set(request) == REQUEST_KEYS | {"userId"}
    assert request["status"] == PENDING and request["userId"] == user["id"] and request["email"] == user["email"]
    mail = last_email(api, user["email"])
    link = link_in(mail)
    assert link.startswith(f"https://{host_of(api, tenant)}/accept-existing-invite?code=")
    with browser_for(api) as browser:
        form = browser.get(link)
        assert form.status_code == 200 and user["email"] in form.text
        assert 'name="password"' in form.text and 'name="email"' not in form.text  # built-in IdP: a password
        weak = post_page(browser, link, form.text, password="password")
        assert weak.status_code == 400 and status_of(api, tenant["id"], request["id"], "existing") == PENDING
        done = post_page(browser, link, form.text, password=NEW_PASSWORD)
        signed_in_ok(done)
        after = api.call("GET", f"/users/{user['id']}").json()
        assert after["status"] == "ACTIVE" and after["emailVerified"] is True and after["hasPassword"] is True
        world = world_for(api, tenant, after)
        assert has_session(world, browser)
        unusable_page(browser.get(link), "already been accepted")
    assert status_of(api, tenant["id"], request["id"], "existing") == "COMPLETED"
    assert len(users_of(api, tenant["id"])) == 1
    _, challenge = pkce()
    with browser_for(api) as fresh:
        assert "code" in callback_query(login(world, fresh, authorize_params(world, challenge), password=NEW_PASSWORD))


def test_existing_user_invitation_by_api(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], password=PASSWORD)
    request = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    code = code_of(link_in(last_email(api, user["email"])))
    seen = api.call("POST", f"{EXISTING}/introspect-invite", json={"emailAuthCode": code})
    assert seen.status_code == 200 and seen.json()["existingUserInvitationRequest"] == request
    no_password = api.create_user(tenant["id"])
    invite_existing(api, no_password["id"])
    needs_one = code_of(link_in(last_email(api, no_password["email"])))
    before = footprint(api, tenant["id"])
    assert_violation(api.call("POST", f"{EXISTING}/accept-invite", json={"emailAuthCode": needs_one}), "password")
    weak = {"emailAuthCode": code, "password": user["email"]}
    assert_violation(api.call("POST", f"{EXISTING}/accept-invite", json=weak), "password")
    assert footprint(api, tenant["id"]) == before
    # A user with a password may keep it.
    accepted = api.call("POST", f"{EXISTING}/accept-invite", json={"emailAuthCode": code})
    assert accepted.status_code == 200, accepted.text
    doc = accepted.json()
    assert doc["userId"] == user["id"] and doc["status"] == "ACTIVE"
    assert doc["authSessionUrl"].startswith(f"https://{host_of(api, tenant)}/api/v1/auth-sessions/create?code=")
    with browser_for(api) as browser:
        landed = browser.get(doc["authSessionUrl"], follow_redirects=False)
        assert landed.status_code == 302 and SESSION_COOKIE in landed.cookies
    after = api.call("GET", f"/users/{user['id']}").json()
    assert after["status"] == "ACTIVE" and after["emailVerified"] is True
    assert status_of(api, tenant["id"], request["id"], "existing") == "COMPLETED"
    again = api.call("POST", f"{EXISTING}/accept-invite", json={"emailAuthCode": code})
    assert_base_error(again, 400, "invalid_invitation")


def test_existing_user_invitation_only_for_provisioned_or_inactive_users(api: Api) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    active = api.create_user(tenant["id"], status="ACTIVE")
    signup = api.call(
        "POST", "/signup/provision-user", json={"tenantId": tenant["id"], "email": rand_email(), "password": PASSWORD}
    )
    assert signup.status_code == 201, signup.text
    pending_signup = signup.json()["user"]
    link = invited(api, tenant["id"], invitationType="LINK")["inviteUrl"]
    accepted = api.call(
        "POST", f"{NEW}/accept-invite", json={"inviteCode": code_of(link), "email": rand_email(), "password": PASSWORD}
    )
    pending_invite = accepted.json()["userId"]
    before = footprint(api, tenant["id"])
    for user_id in (active["id"], pending_signup["id"], pending_invite):
        assert_base_error(invite_existing(api, user_id), 400, "user_not_invitable")
    for unknown in ("nosuchuser", tenant["id"], "x" * 300):
        assert_base_error(invite_existing(api, unknown), 404, "user_not_found")
    assert_violation(api.call("POST", f"{EXISTING}/invite-user", json={}), "userId", "required")
    assert_violation(api.call("POST", f"{EXISTING}/invite-user", json={"userId": ["a"]}), "userId")
    raw = api.call("POST", f"{EXISTING}/invite-user", content="{", headers={"Content-Type": "application/json"})
    assert_base_error(raw, 400, "invalid_request")
    assert footprint(api, tenant["id"]) == before


def test_existing_user_has_one_pending_invitation(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"])
    first = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    first_link = link_in(last_email(api, user["email"]))
    second = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    second_link = link_in(last_email(api, user["email"]))
    assert status_of(api, tenant["id"], first["id"], "existing") == "CANCELED"
    assert [i["id"] for i in listed(api, tenant["id"], "existing", query=f'status eq "{PENDING}"')] == [second["id"]]
    with browser_for(api) as browser:
        unusable_page(browser.get(first_link), "no longer valid")
    canceled = api.call("POST", f"{EXISTING}/cancel-invite", json={"existingUserInvitationRequestId": second["id"]})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["existingUserInvitationRequest"]["status"] == "CANCELED"
    with browser_for(api) as browser:
        unusable_page(browser.get(second_link), "no longer valid")
    again = api.call("POST", f"{EXISTING}/cancel-invite", json={"existingUserInvitationRequestId": second["id"]})
    assert_base_error(again, 400, "invitation_not_pending")
    assert api.call("GET", f"/users/{user['id']}").json()["status"] == "PROVISIONED"
    # The application query sees both, filtered by status.
    app_items = listing(
        api, f"applications/{api.application_id}", "existing", count=100, query=f'userId eq "{user["id"]}"'
    ).json()["items"]
    assert {(i["id"], i["status"]) for i in app_items} == {(first["id"], "CANCELED"), (second["id"], "CANCELED")}


# --- expiry -------------------------------------------------------------------------------


def test_expired_invitations_read_expired_and_the_sweep_persists_it(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    email = rand_email()
    request = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    user = api.create_user(tenant["id"])
    existing = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    existing_link = link_in(last_email(api, user["email"]))
    set_expired(api, request["id"])
    set_expired(api, existing["id"])
    assert status_of(api, tenant["id"], request["id"]) == "EXPIRED"
    assert status_of(api, tenant["id"], existing["id"], "existing") == "EXPIRED"
    with browser_for(api) as browser:
        unusable_page(browser.get(link), "has expired")
        unusable_page(browser.get(existing_link), "has expired")
    before = footprint(api, tenant["id"])
    accept = api.call("POST", f"{NEW}/accept-invite", json={"emailAuthCode": code_of(link), "password": PASSWORD})
    assert_base_error(accept, 400, "invalid_invitation")
    accept = api.call(
        "POST", f"{EXISTING}/accept-invite", json={"emailAuthCode": code_of(existing_link), "password": PASSWORD}
    )
    assert_base_error(accept, 400, "invalid_invitation")
    assert wait_for(lambda: stored_status(api, request["id"]) == stored_status(api, existing["id"]) == "EXPIRED")
    assert users_of(api, tenant["id"]) == [api.call("GET", f"/users/{user['id']}").json()]
    assert api.call("GET", f"/users/{user['id']}").json()["status"] == "PROVISIONED"
    after = footprint(api, tenant["id"])
    assert after[tenant["id"]]["users"] == before[tenant["id"]]["users"]
    expired = listed(api, tenant["id"], query='status eq "EXPIRED"')
    assert [i["id"] for i in expired] == [request["id"]]
    # An expired invitation is not pending: re-inviting makes a fresh one.
    fresh = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    assert fresh["status"] == PENDING and status_of(api, tenant["id"], request["id"]) == "EXPIRED"


def test_query_filters_on_the_status_a_reader_sees_before_the_sweep(quiet_api: Api) -> None:
    api = quiet_api
    tenant = api.create_tenant()
    request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    live = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    set_expired(api, request["id"])
    assert stored_status(api, request["id"]) == PENDING  # no sweep has run in this application
    assert status_of(api, tenant["id"], request["id"]) == "EXPIRED"
    expired = listed(api, tenant["id"], query='status eq "EXPIRED"')
    assert [i["id"] for i in expired] == [request["id"]]
    pending = listed(api, tenant["id"], query=f'status eq "{PENDING}"')
    assert [i["id"] for i in pending] == [live["id"]]


def test_an_expired_invitation_cannot_be_canceled_before_the_sweep(quiet_api: Api) -> None:
    api = quiet_api
    tenant = api.create_tenant()
    request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    set_expired(api, request["id"])
    assert status_of(api, tenant["id"], request["id"]) == "EXPIRED"
    canceled = api.call("POST", f"{NEW}/cancel-invite", json={"newUserInvitationRequestId": request["id"]})
    assert_base_error(canceled, 400, "invitation_not_pending")
    assert status_of(api, tenant["id"], request["id"]) == "EXPIRED"


def test_the_sweep_records_the_change_in_the_metadata(quiet_api: Api) -> None:
    api = quiet_api
    tenant = api.create_tenant()
    request = invited(api, tenant["id"], rand_email())["newUserInvitationRequest"]
    set_expired(api, request["id"])
    TenantPurger(api.services).run_once()  # one pass of the periodic sweep
    assert stored_status(api, request["id"]) == "EXPIRED"
    [doc] = [i for i in listed(api, tenant["id"]) if i["id"] == request["id"]]
    assert doc["metadata"]["lastModifiedTime"] > request["metadata"]["lastModifiedTime"]
    assert int(doc["metadata"]["version"]) == int(request["metadata"]["version"]) + 1


# --- tenant deletion ----------------------------------------------------------------------


def test_a_deleted_tenants_invitations_die_with_it(any_api: Api) -> None:
    api = any_api
    tenant = api.create_tenant()
    email = rand_email()
    request = invited(api, tenant["id"], email)["newUserInvitationRequest"]
    link = link_in(last_email(api, email))
    link_doc = invited(api, tenant["id"], invitationType="LINK")
    user = api.create_user(tenant["id"])
    existing = invite_existing(api, user["id"]).json()["existingUserInvitationRequest"]
    existing_link = link_in(last_email(api, user["email"]))
    assert api.call("DELETE", f"/tenants/{tenant['id']}").status_code in (202, 204)
    # While the deletion runs, nothing can be accepted.
    doomed = api.call("POST", f"{NEW}/accept-invite", json={"emailAuthCode": code_of(link), "password": PASSWORD})
    assert_base_error(doomed, 400, "invalid_invitation")
    assert wait_for(lambda: api.call("GET", f"/tenants/{tenant['id']}").status_code == 404)
    assert wait_for(lambda: db_rows(api, t.invitations, "id", tenant_id=tenant["id"]) == [])
    app_items = listing(api, f"applications/{api.application_id}", count=100, query=f'tenantId eq "{tenant["id"]}"')
    assert app_items.json()["totalResults"] == 0
    ids = {request["id"], link_doc["newUserInvitationRequest"]["id"], existing["id"]}
    assert not ids & {r[0] for r in db_rows(api, t.invitations, "id")}
    for path, body in (
        (f"{NEW}/accept-invite", {"emailAuthCode": code_of(link), "password": PASSWORD}),
        (f"{NEW}/accept-invite", {"inviteCode": code_of(link_doc["inviteUrl"]), "email": email, "password": PASSWORD}),
        (f"{EXISTING}/accept-invite", {"emailAuthCode": code_of(existing_link), "password": PASSWORD}),
    ):
        assert_base_error(api.call("POST", path, json=body), 400, "invalid_invitation")
    assert db_rows(api, t.users, "id", tenant_id=tenant["id"]) == []
    # The invitee who clicks an old link reads a page that says so (gone: 400 or 404).
    with browser_for(api) as browser:
        for url in (link, link_doc["inviteUrl"], existing_link):
            unusable_page(browser.get(url), statuses=(400, 404, 410))
