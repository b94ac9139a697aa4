"""The mail server goes away; two dispatching ``tenantry serve`` nodes keep answering.

The outage has two faces: first nothing listens on the SMTP port (connections refused), then a
black hole accepts connections and never says a word (every send hangs until the transport's
timeout, with both nodes' dispatchers stuck in it). Meanwhile invitations, Create User calls and
reads go round-robin to both nodes: every one is answered, none with a 5xx, none waits on the
mail server, and the mail queues (PENDING, with the error recorded). Then a real SMTP server
(aiosmtpd) starts on the port: every queued email is delivered, none lost, none twice, although
both nodes dispatch the same outbox.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from tests.reliability.nodes import Cluster, RoundRobin, SmtpServer, create_tenant, fresh_postgres_database

pytestmark = pytest.mark.postgres

SMTP_TIMEOUT = 10.0  # seconds per socket operation of the transport (TENANTRY_SMTP_URL ?timeout=)
PER_PHASE = 24
THREADS = 8
MAIL_SECONDS = 90.0


class BlackHole:
    """Accepts TCP connections on the port and never answers (no SMTP greeting)."""

    def __init__(self, port: int) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)
            self.accepted += 1

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()  # not started: the test starts it after the outage
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(pg_server_url: str, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = f"smtp://127.0.0.1:{smtp.port}?timeout={SMTP_TIMEOUT:g}"
    with fresh_postgres_database(pg_server_url) as database_url:
        started = Cluster.start(
            tmp_path_factory.mktemp("smtp-outage"), database_url, 2, shared={"TENANTRY_SMTP_URL": url}
        )
        try:
            yield started
        finally:
            started.stop()


def outbox_of(cluster: Cluster, tenant_id: str) -> list[tuple[str, str, int, str | None]]:
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT recipient, status, attempts, last_error FROM outbox WHERE tenant_id = :t"),
                {"t": tenant_id},
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def burst(balancer: RoundRobin, tenant_id: str, prefix: str) -> tuple[list[str], list[tuple[int, float, str]]]:
    """Invitations, Create User calls and reads, all at once; returns the invited addresses and
    (status, seconds, what) per call."""
    emails = [f"{prefix}{n}-{secrets.token_hex(3)}@example.com" for n in range(PER_PHASE)]

    def call(index: int) -> tuple[int, float, str]:
        start = time.monotonic()
        if index < PER_PHASE:
            body = {"tenantId": tenant_id, "email": emails[index]}
            response: httpx.Response = balancer.post("/api/v1/new-user-invitation/invite-user", json=body)
            what = "invite"
        elif index % 2:
            body = {"tenantId": tenant_id, "identityProviderName": "wristband", "email": f"u-{emails[index % 8]}"}
            response = balancer.post("/api/v1/users", json=body)
            what = "create user"
        else:
            response = balancer.get(f"/api/v1/tenants/{tenant_id}/users", params={"count": "5"})
            what = "list users"
        return response.status_code, time.monotonic() - start, what

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(call, range(PER_PHASE + PER_PHASE // 2)))
    return emails, results


def assert_answered_without_waiting_for_mail(results: list[tuple[int, float, str]]) -> None:
    errors = [r for r in results if r[0] >= 500]
    assert not errors, errors
    assert all(status == 200 for status, _, what in results if what in ("invite", "list users")), results
    assert all(status in (201, 400) for status, _, what in results if what == "create user"), results
    slowest = max(seconds for _, seconds, _ in results)
    # A request that touched the mail server would have waited for its timeout in the black hole.
    assert slowest < SMTP_TIMEOUT, f"a request took {slowest:.1f} s during the outage"


def test_smtp_outage_queues_mail_and_delivers_each_exactly_once(cluster: Cluster, smtp: SmtpServer) -> None:
    balancer = RoundRobin([cluster.client(0), cluster.client(1)])
    hole: BlackHole | None = None
    try:
        tenant = create_tenant(balancer)

        refused, results = burst(balancer, tenant["id"], "refused")  # nothing listens on the port
        assert_answered_without_waiting_for_mail(results)
        deadline = time.monotonic() + 30
        while not all(error for _, _, _, error in outbox_of(cluster, tenant["id"])) and time.monotonic() < deadline:
            time.sleep(0.1)
        queued = outbox_of(cluster, tenant["id"])
        assert len(queued) == PER_PHASE and {row[1] for row in queued} == {"PENDING"}, queued
        assert all(error for _, _, _, error in queued), "the dispatchers did not try while the server was down"

        hole = BlackHole(smtp.port)  # now it accepts and hangs
        hanging, results = burst(balancer, tenant["id"], "hanging")
        assert_answered_without_waiting_for_mail(results)
        with cluster.client(0) as client:
            assert client.get("/health").status_code == 200
        deadline = time.monotonic() + 10
        while hole.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hole.accepted > 0, "no dispatcher reached the black hole"
        assert smtp.mailbox.messages() == []
        assert {row[1] for row in outbox_of(cluster, tenant["id"])} == {"PENDING"}

        hole.close()
        hole = None
        smtp.start()
        expected = set(refused) | set(hanging)
        deadline = time.monotonic() + MAIL_SECONDS
        while time.monotonic() < deadline:
            if {row[1] for row in outbox_of(cluster, tenant["id"])} == {"SENT"}:
                break
            time.sleep(0.2)
        rows = outbox_of(cluster, tenant["id"])
        assert {row[1] for row in rows} == {"SENT"}, [r for r in rows if r[1] != "SENT"][:5]
        assert {row[0] for row in rows} == expected
        smtp.mailbox.wait_for_all(expected, 10)
        time.sleep(1.0)  # a second send would come from the other node's next pass: let it show
        counts = smtp.mailbox.per_recipient()
        assert {r: n for r, n in counts.items() if r in expected} == dict.fromkeys(expected, 1), [
            (r, n) for r, n in counts.items() if n != 1
        ]
        assert set(counts) == expected
        ids = [str(m["Message-ID"]) for m in smtp.mailbox.messages()]
        assert len(set(ids)) == len(ids) == len(expected)
    finally:
        if hole is not None:
            hole.close()
        balancer.close()
