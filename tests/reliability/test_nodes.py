"""Two ``tenantry serve`` nodes on one PostgreSQL behind the test's own round-robin client.

Signups (API and hosted page), Create User calls, invitation acceptances and invitation resends
race on the same emails from many threads, half of them through each node. Whatever the
interleaving: no 5xx, exactly one user per (tenant, identity provider, email) in the database,
every loser gets the documented 400 (``not_unique`` or ``invalid_invitation``) — except a signup,
which is answered as a repeated signup is — and each winner reads the same through both nodes.
Tokens issued by one node are accepted by the other (the signing keys live in the database).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from tests.reliability.nodes import PASSWORD, Cluster, RoundRobin, create_tenant, error_code, fresh_postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_postgres_database(pg_server_url) as url:
        started = Cluster.start(tmp_path_factory.mktemp("two-nodes"), url, 2)
        try:
            yield started
        finally:
            started.stop()


Call = Callable[[], httpx.Response]


def race(calls: list[tuple[str, Call]]) -> list[tuple[str, httpx.Response]]:
    """Runs every call at once, one thread each (a barrier releases them together); returns
    (key, response) per call."""
    barrier = threading.Barrier(len(calls))

    def run(item: tuple[str, Call]) -> tuple[str, httpx.Response]:
        barrier.wait(timeout=30)
        return item[0], item[1]()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_no_server_error(results: list[tuple[str, httpx.Response]], cluster: Cluster) -> None:
    failed = [(key, r.status_code, r.text[:300]) for key, r in results if r.status_code >= 500]
    assert not failed, f"{len(failed)} server errors, e.g. {failed[:3]}\n{cluster.logs()}"


def users_per_email(cluster: Cluster, tenant_id: str) -> dict[str, int]:
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT email_key, identity_provider_id, count(*) FROM users WHERE tenant_id = :t "
                    "GROUP BY email_key, identity_provider_id"
                ),
                {"t": tenant_id},
            ).all()
    finally:
        engine.dispose()
    assert len({row[1] for row in rows}) <= 1, "users of this test live in the built-in identity provider"
    return {row[0]: row[2] for row in rows}


def assert_same_through_both_nodes(cluster: Cluster, tenant_id: str, user_ids: set[str]) -> None:
    """Both nodes list exactly the winners, and each winner reads the same through each node."""
    seen: list[dict[str, Any]] = []
    for index in range(len(cluster.nodes)):
        with cluster.client(index) as client:
            listed = client.get(f"/api/v1/tenants/{tenant_id}/users", params={"count": "1000"})
            assert listed.status_code == 200, listed.text
            assert {u["id"] for u in listed.json()["items"]} == user_ids, f"the listing on {index} differs"
            docs = {uid: client.get(f"/api/v1/users/{uid}") for uid in sorted(user_ids)}
            assert all(r.status_code == 200 for r in docs.values()), [r.text for r in docs.values()]
            seen.append({uid: r.json() for uid, r in docs.items()})
    for other in seen[1:]:
        assert other == seen[0], "a user reads differently through the nodes"


def variants(email: str) -> list[str]:
    """The same address as different clients might type it."""
    local, domain = email.split("@")
    return [email, email.upper(), f"{local.capitalize()}@{domain}", f" {email} "]


def colliding_create_user_calls(cluster: Cluster, balancer: RoundRobin) -> None:
    tenant = create_tenant(balancer)
    emails = [f"cu{secrets.token_hex(4)}@example.com" for _ in range(8)]
    calls: list[tuple[str, Call]] = []
    for email in emails:
        for typed in variants(email) * 2:
            body = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": typed.strip()}
            calls.append((email, partial(balancer.post, "/api/v1/users", json=body)))
    results = race(calls)
    assert_no_server_error(results, cluster)
    winners: dict[str, list[str]] = defaultdict(list)
    for email, response in results:
        if response.status_code == 201:
            winners[email].append(response.json()["id"])
        else:
            assert response.status_code == 400, response.text
            assert error_code(response) == "not_unique", response.text
    assert {e: len(ids) for e, ids in winners.items()} == dict.fromkeys(emails, 1)
    assert users_per_email(cluster, tenant["id"]) == dict.fromkeys(emails, 1)
    assert_same_through_both_nodes(cluster, tenant["id"], {ids[0] for ids in winners.values()})


def colliding_signups_and_create_user_calls(cluster: Cluster, balancer: RoundRobin) -> None:
    """The signup API and Create User on the same addresses. A signup that finds its own pending
    signup answers 201 again (a retry resends the activation email) with the same user."""
    tenant = create_tenant(balancer, signupEnabled=True)
    emails = [f"su{secrets.token_hex(4)}@example.com" for _ in range(8)]
    calls: list[tuple[str, Call]] = []
    for n, email in enumerate(emails):
        for i, typed in enumerate(variants(email)):
            signup = {"tenantId": tenant["id"], "email": typed.strip(), "password": PASSWORD}
            calls.append((email, partial(balancer.post, "/api/v1/signup/provision-user", json=signup)))
            if n % 2 == 0 and i % 2 == 0:  # half of the addresses also meet Create User
                create = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": typed.strip()}
                calls.append((email, partial(balancer.post, "/api/v1/users", json=create)))
    results = race(calls)
    assert_no_server_error(results, cluster)
    winners: dict[str, set[str]] = defaultdict(set)
    for email, response in results:
        if response.status_code == 201:
            doc = response.json()
            winners[email].add(doc["user"]["id"] if "user" in doc else doc["id"])
        else:
            assert response.status_code == 400, response.text
            assert error_code(response) == "not_unique", response.text
    assert {e: len(ids) for e, ids in winners.items()} == dict.fromkeys(emails, 1)
    assert users_per_email(cluster, tenant["id"]) == dict.fromkeys(emails, 1)
    assert_same_through_both_nodes(cluster, tenant["id"], {next(iter(ids)) for ids in winners.values()})


def _invite_link(balancer: RoundRobin, tenant_id: str) -> str:
    response = balancer.post(
        "/api/v1/new-user-invitation/invite-user", json={"tenantId": tenant_id, "invitationType": "LINK"}
    )
    assert response.status_code == 200, response.text
    link: str = response.json()["inviteUrl"]
    return parse_qs(urlsplit(link).query)["code"][0]


def one_invitation_accepted_on_both_nodes_at_once(cluster: Cluster, balancer: RoundRobin) -> None:
    """Each invitation is accepted four times at once (twice through each node); for half of
    them a Create User call races for the same address too."""
    tenant = create_tenant(balancer)
    codes = {f"ia{secrets.token_hex(4)}@example.com": _invite_link(balancer, tenant["id"]) for _ in range(6)}
    calls: list[tuple[str, Call]] = []
    for n, (email, code) in enumerate(codes.items()):
        for typed in variants(email):
            accept = {"inviteCode": code, "email": typed.strip(), "password": PASSWORD}
            calls.append((email, partial(balancer.post, "/api/v1/new-user-invitation/accept-invite", json=accept)))
        if n % 2 == 0:
            create = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email}
            calls.append((email, partial(balancer.post, "/api/v1/users", json=create)))
    results = race(calls)
    assert_no_server_error(results, cluster)
    winners: dict[str, set[str]] = defaultdict(set)
    accepted: dict[str, int] = defaultdict(int)
    for email, response in results:
        if response.status_code in (200, 201):
            doc: dict[str, Any] = response.json()
            winners[email].add(doc.get("userId") or doc["id"])
            accepted[email] += "userId" in doc
        else:
            assert response.status_code == 400, response.text
            assert error_code(response) in ("invalid_invitation", "not_unique"), response.text
    assert {e: len(ids) for e, ids in winners.items()} == dict.fromkeys(codes, 1)
    assert all(count <= 1 for count in accepted.values()), accepted
    assert users_per_email(cluster, tenant["id"]) == dict.fromkeys(codes, 1)
    # An invitation is used up exactly when its acceptance won; the others are still pending.
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT completed_user_id, status FROM invitations WHERE tenant_id = :t"), {"t": tenant["id"]}
            ).all()
    finally:
        engine.dispose()
    used = {row[0] for row in rows if row[0] is not None}
    accepted_ids = {next(iter(winners[e])) for e, count in accepted.items() if count}
    assert used == accepted_ids
    assert sum(1 for row in rows if row[1] == "PENDING_INVITE_ACCEPTANCE") == len(codes) - len(accepted_ids)
    assert_same_through_both_nodes(cluster, tenant["id"], {next(iter(ids)) for ids in winners.values()})


def colliding_invitations(cluster: Cluster, balancer: RoundRobin) -> None:
    """Resending an invitation cancels the pending one; four resends of it at once (two through
    each node) leave exactly one pending invitation, and an email for each resend that said 200."""
    tenant = create_tenant(balancer)
    emails = [f"ri{secrets.token_hex(4)}@example.com" for _ in range(6)]
    path = "/api/v1/new-user-invitation/invite-user"
    for email in emails:
        first = balancer.post(path, json={"tenantId": tenant["id"], "email": email})
        assert first.status_code == 200, first.text
    calls: list[tuple[str, Call]] = [
        (email, partial(balancer.post, path, json={"tenantId": tenant["id"], "email": typed.strip()}))
        for email in emails
        for typed in variants(email)
    ]
    results = race(calls)
    assert_no_server_error(results, cluster)
    sent: dict[str, int] = dict.fromkeys(emails, 1)
    for email, response in results:
        if response.status_code == 200:
            sent[email] += 1
        else:
            assert response.status_code == 400, response.text
            assert error_code(response) == "not_unique", response.text
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            pending: dict[str, int] = dict(
                conn.execute(
                    text(
                        "SELECT email_key, count(*) FROM invitations WHERE tenant_id = :t "
                        "AND status = 'PENDING_INVITE_ACCEPTANCE' GROUP BY email_key"
                    ),
                    {"t": tenant["id"]},
                ).all()
            )
            mailed = Counter(
                recipient.lower()  # as typed: the variants differ in case
                for recipient in conn.execute(
                    text("SELECT recipient FROM outbox WHERE tenant_id = :t"), {"t": tenant["id"]}
                ).scalars()
            )
    finally:
        engine.dispose()
    assert pending == dict.fromkeys(emails, 1)
    assert dict(mailed) == sent


def page_signup(client: httpx.Client, email: str) -> httpx.Response:
    """The hosted signup page as a browser uses it: GET (CSRF cookie and field), then POST."""
    page = client.get("/signup")
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, "no CSRF field on the signup page"
    cookie = f"tenantry_csrf={page.cookies['tenantry_csrf']}"  # a Secure cookie: sent by hand over HTTP
    return client.post(
        "/signup",
        data={"csrf_token": found.group(1), "email": email, "password": PASSWORD},
        headers={"Cookie": cookie},
    )


def colliding_page_signups(cluster: Cluster, balancer: RoundRobin) -> None:
    """The hosted page answers a signup of a taken address exactly like a new one (no
    enumeration), also when the other signup of the address is racing it on the other node."""
    tenant = create_tenant(balancer, signupEnabled=True)
    host = cluster.tenant_host(tenant["domainName"])
    pages = [cluster.client(i, host=host, bearer=False) for i in range(len(cluster.nodes))]
    try:
        emails = [f"ps{secrets.token_hex(4)}@example.com" for _ in range(6)]
        calls: list[tuple[str, Call]] = [
            (email, partial(page_signup, pages[i % len(pages)], email)) for email in emails for i in range(4)
        ]
        results = race(calls)
    finally:
        for client in pages:
            client.close()
    assert_no_server_error(results, cluster)
    answers = {(r.status_code, "check your email" in r.text.lower() or "sent you" in r.text) for _, r in results}
    assert answers == {(200, True)}, [(r.status_code, r.text[:2000]) for _, r in results if r.status_code != 200][:2]
    assert users_per_email(cluster, tenant["id"]) == dict.fromkeys(emails, 1)


def both_nodes_verify_each_others_tokens(cluster: Cluster) -> None:
    """The signing keys live in the database: a token from one node is good on the other."""
    for index in range(len(cluster.nodes)):
        with cluster.client(index, bearer=False) as client:
            assert cluster.app is not None
            issued = client.post(
                "/api/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(cluster.app.m2m_id, cluster.app.m2m_secret),
            )
            assert issued.status_code == 200, issued.text
            token = issued.json()["access_token"]
        for other in range(len(cluster.nodes)):
            with cluster.client(other, bearer=False) as client:
                listed = client.get(
                    f"/api/v1/applications/{cluster.app.application_id}/tenants",
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert listed.status_code == 200, listed.text


def test_two_nodes_one_database_under_colliding_registrations(cluster: Cluster) -> None:
    """One test (one pair of nodes to start, however pytest-xdist spreads the tests)."""
    balancer = RoundRobin([cluster.client(0), cluster.client(1)])
    try:
        both_nodes_verify_each_others_tokens(cluster)
        colliding_create_user_calls(cluster, balancer)
        colliding_signups_and_create_user_calls(cluster, balancer)
        one_invitation_accepted_on_both_nodes_at_once(cluster, balancer)
        colliding_invitations(cluster, balancer)
        colliding_page_signups(cluster, balancer)
    finally:
        balancer.close()
