"""``kill -9`` of the node that is *sending* mail, in the middle of a batch, with a real (slow)
SMTP server.

Node 1 takes the invitations (no dispatcher); node 0 delivers the outbox and is killed after a
few of its messages arrived, holding the rest of its claimed batch. Those messages wait for their
lease (``TENANTRY_MAIL_LEASE_SECONDS``, the shortest allowed here) and nothing else: node 0
restarted, they all arrive. Delivery is at least once: the one message that may have been in
flight at the kill can arrive twice, with the same ``Message-ID``; nothing is lost, and nothing
else is sent twice.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from tests.reliability.nodes import Cluster, Mailbox, SmtpServer, create_tenant, fresh_postgres_database

pytestmark = pytest.mark.postgres

LEASE_SECONDS = 31  # the shortest lease the settings accept
INVITATIONS = 24
SMTP_DELAY = 0.15  # seconds the server takes per message: the dispatcher is mid-batch for a while
KILL_AFTER = 3  # messages delivered before the kill


class SlowMailbox(Mailbox):
    def handle_message(self, message: Any) -> None:
        time.sleep(SMTP_DELAY)
        super().handle_message(message)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.mailbox = SlowMailbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(pg_server_url: str, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_postgres_database(pg_server_url) as url:
        started = Cluster.start(
            tmp_path_factory.mktemp("crash-dispatcher"),
            url,
            2,
            shared={"TENANTRY_SMTP_URL": smtp.url, "TENANTRY_MAIL_LEASE_SECONDS": str(LEASE_SECONDS)},
            per_node=lambda i: {"TENANTRY_MAIL_DISPATCHER": "true" if i == 0 else "false"},
        )
        try:
            yield started
        finally:
            started.stop()


def outbox_states(cluster: Cluster, tenant_id: str) -> Counter[str]:
    """Outbox rows of the tenant by state: SENT, LEASED (pending, claimed) or PENDING."""
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status, locked_until IS NOT NULL AND locked_until > CURRENT_TIMESTAMP "
                    "FROM outbox WHERE tenant_id = :t"
                ),
                {"t": tenant_id},
            ).all()
    finally:
        engine.dispose()
    return Counter("LEASED" if status == "PENDING" and leased else status for status, leased in rows)


def test_kill_9_of_the_sending_node_delays_its_batch_by_the_lease_and_loses_nothing(
    cluster: Cluster, smtp: SmtpServer
) -> None:
    sender = cluster.nodes[0]
    with cluster.client(1) as api:
        tenant = create_tenant(api)
        emails = {f"batch{n}-{secrets.token_hex(3)}@example.com" for n in range(INVITATIONS)}
        body = {"tenantId": tenant["id"]}
        with ThreadPoolExecutor(8) as pool:  # at once: the dispatcher claims them in big batches
            answers = list(
                pool.map(
                    lambda email: api.post("/api/v1/new-user-invitation/invite-user", json={**body, "email": email}),
                    sorted(emails),
                )
            )
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]

    # Kill it while it holds a claimed batch (more than the one message it may be sending).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = outbox_states(cluster, tenant["id"])
        if len(smtp.mailbox.messages()) >= KILL_AFTER and states["LEASED"] >= 3:
            break
        time.sleep(0.02)
    sender.kill()
    killed_at = time.monotonic()
    delivered_before = len(smtp.mailbox.messages())
    states = outbox_states(cluster, tenant["id"])
    assert states["LEASED"] > 0, f"the killed node held no claimed message: {states}"
    assert KILL_AFTER <= delivered_before < INVITATIONS, f"{delivered_before} delivered before the kill"

    sender.start()  # back, with its dispatcher: it must wait out its dead predecessor's lease
    sender.wait_ready()
    deadline = killed_at + LEASE_SECONDS + 60
    while time.monotonic() < deadline:
        states = outbox_states(cluster, tenant["id"])
        if set(states) == {"SENT"}:
            break
        time.sleep(0.2)
    assert set(states) == {"SENT"}, f"{states}\n{cluster.logs()}"
    smtp.mailbox.wait_for_all(emails, 10)
    time.sleep(1.0)  # a further duplicate would come from another pass: give it the time to show

    per_recipient = smtp.mailbox.per_recipient()
    assert set(per_recipient) == emails, "every invitation is delivered"
    twice = {r: n for r, n in per_recipient.items() if n > 1}
    assert sum(n - 1 for n in twice.values()) <= 1, f"only the message in flight at the kill may repeat: {twice}"
    for recipient in emails:
        ids = {str(m["Message-ID"]) for m in smtp.mailbox.to(recipient)}
        assert len(ids) == 1, f"a repeat keeps its Message-ID: {recipient} {ids}"
    print(
        f"{delivered_before} delivered before the kill, the rest after the {LEASE_SECONDS} s lease; "
        f"{len(twice)} sent twice (same Message-ID)"
    )
