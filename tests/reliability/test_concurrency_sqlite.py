"""Concurrent registrations against one real ``tenantry serve --workers 2`` on SQLite (the default).

16 signups through the API, 16 through the hosted signup page and 32 Create User calls, all at
once and some on the same addresses: SQLite takes one writer at a time, and every request must
still get its answer (201/400 from the API, the page's 200 or redirect), never a 500 "database
is locked"; the database ends up with exactly one user per address.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.reliability.nodes import PASSWORD, Cluster, create_tenant, error_code

REGISTRATIONS = 16
CREATES = 32
WORKERS = 2  # two processes on one SQLite file: writers meet on its lock, not only in one pool
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster.start(tmp_path_factory.mktemp("sqlite-node"), None, 1, workers=WORKERS)
    try:
        yield started
    finally:
        started.stop()


def hosted_signup(cluster: Cluster, tenant_host: str, email: str, barrier: threading.Barrier) -> httpx.Response:
    """The signup page as a browser uses it: GET (CSRF cookie and field), then POST the form."""
    with cluster.client(0, host=tenant_host, bearer=False) as client:
        page = client.get("/signup")
        assert page.status_code == 200, page.text[:500]
        found = CSRF.search(page.text)
        assert found is not None, "no CSRF field on the signup page"
        cookie = page.cookies.get("tenantry_csrf")
        assert cookie, "no CSRF cookie"
        barrier.wait(timeout=30)
        return client.post(
            "/signup",
            data={"csrf_token": found.group(1), "email": email, "password": PASSWORD},
            headers={"Cookie": f"tenantry_csrf={cookie}"},  # Secure cookie: sent by hand over plain HTTP
        )


def test_concurrent_registrations_on_sqlite_are_all_answered(cluster: Cluster) -> None:
    with cluster.client(0) as admin:
        tenant = create_tenant(admin, signupEnabled=True)
    host = cluster.tenant_host(tenant["domainName"])
    api_emails = [f"api{n}-{secrets.token_hex(3)}@example.com" for n in range(REGISTRATIONS // 2)] * 2
    page_emails = [f"page{n}-{secrets.token_hex(3)}@example.com" for n in range(REGISTRATIONS // 2)] * 2
    create_emails = [f"cu{n}-{secrets.token_hex(3)}@example.com" for n in range(CREATES // 2)] * 2
    barrier = threading.Barrier(REGISTRATIONS * 2 + CREATES)
    clients = [cluster.client(0) for _ in range(4)]

    def api_call(path: str, body: dict[str, Any], index: int) -> httpx.Response:
        barrier.wait(timeout=30)
        return clients[index % len(clients)].post(path, json=body)

    jobs: list[tuple[str, str, Any]] = []
    for i, email in enumerate(api_emails):
        body = {"tenantId": tenant["id"], "email": email, "password": PASSWORD}
        jobs.append(("signup api", email, lambda b=body, i=i: api_call("/api/v1/signup/provision-user", b, i)))
    for email in page_emails:
        jobs.append(("signup page", email, lambda e=email: hosted_signup(cluster, host, e, barrier)))
    for i, email in enumerate(create_emails):
        body = {"tenantId": tenant["id"], "identityProviderName": "wristband", "email": email}
        jobs.append(("create user", email, lambda b=body, i=i: api_call("/api/v1/users", b, i)))

    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = [(kind, email, pool.submit(job)) for kind, email, job in jobs]
            results = [(kind, email, future.result()) for kind, email, future in futures]
    finally:
        for client in clients:
            client.close()

    server_errors = [(kind, r.status_code, r.text[:200]) for kind, _, r in results if r.status_code >= 500]
    assert not server_errors, f"{server_errors}\n{cluster.logs()}"
    for kind, _email, response in results:
        if kind == "signup page":
            assert response.status_code in (200, 302, 303), (kind, response.status_code, response.text[:300])
            assert "Please try again" not in response.text
        elif response.status_code == 400:
            assert error_code(response) == "not_unique", response.text
        else:
            assert response.status_code == 201, (kind, response.text)
    created = {e for kind, e, r in results if kind == "create user" and r.status_code == 201}
    assert created == set(create_emails), "each address is created once"

    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            per_email: dict[str, int] = dict(
                conn.execute(
                    text("SELECT email_key, count(*) FROM users WHERE tenant_id = :t GROUP BY email_key"),
                    {"t": tenant["id"]},
                ).all()
            )
    finally:
        engine.dispose()
    assert per_email == dict.fromkeys({*api_emails, *page_emails, *create_emails}, 1)
