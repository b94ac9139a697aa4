"""``kill -9`` of a node in the middle of a burst of email invitations and invitation acceptances,
with a real SMTP server.

Two nodes on one PostgreSQL; the requests go round-robin to both. Node 0 takes requests only
(``TENANTRY_MAIL_DISPATCHER=false``) and is killed while requests are in flight; node 1 keeps
answering and delivers the outbox; node 0 is then restarted (now dispatching too). Afterwards:

- every invitation that got a 200 has exactly one email, with its own Message-ID;
- each invitation row has its outbox message and its audit event, and each outbox message its
  invitation (one transaction: nothing half-written), checked in SQL;
- an invitation whose request got no answer (the node died under it) exists with its email
  delivered once, or does not exist at all;
- an acceptance made its user (with the activation or verification email, delivered once) and
  used up its invitation, or did neither: no user without a completed invitation or the reverse.

A node killed while *it* was sending holds the messages it had claimed until their lease runs
out (two minutes) and may then send one of them a second time with the same Message-ID (at
least once delivery, see tenantry.adapters.mail.dispatch): that is why the killed node here is
a request-only node, and why docs/deploying.md tells operators about the lease.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from tests.reliability.nodes import PASSWORD, Cluster, SmtpServer, create_tenant, fresh_postgres_database

pytestmark = pytest.mark.postgres

BURST = 60
ACCEPTS = 16
THREADS = 8
KILL_AFTER = 12  # answers from node 0 before it is killed
MAIL_SECONDS = 60.0


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(pg_server_url: str, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_postgres_database(pg_server_url) as url:
        started = Cluster.start(
            tmp_path_factory.mktemp("crash"),
            url,
            2,
            shared={"TENANTRY_SMTP_URL": smtp.url},
            per_node=lambda i: {"TENANTRY_MAIL_DISPATCHER": "false" if i == 0 else "true"},
        )
        try:
            yield started
        finally:
            started.stop()


def invite(client: httpx.Client, tenant_id: str, email: str) -> httpx.Response | None:
    """The answer, or None when the connection died without one."""
    try:
        return client.post("/api/v1/new-user-invitation/invite-user", json={"tenantId": tenant_id, "email": email})
    except httpx.TransportError:
        return None


def footprint(cluster: Cluster, tenant_id: str) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Per email: invitations, outbox messages, audit events of the invitations; and outbox statuses."""
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            invitations = conn.execute(
                text(
                    "SELECT id, email FROM invitations "
                    "WHERE tenant_id = :t AND kind = 'NEW_USER' AND invitation_type = 'EMAIL'"
                ),
                {"t": tenant_id},
            ).all()
            outbox = conn.execute(
                text("SELECT recipient, status FROM outbox WHERE tenant_id = :t AND kind = 'new_user_invitation'"),
                {"t": tenant_id},
            ).all()
            audited = set(
                conn.execute(
                    text(
                        "SELECT target_id FROM audit_events WHERE tenant_id = :t AND action = 'invitation.sent' "
                        "AND target_type = 'invitation'"
                    ),
                    {"t": tenant_id},
                ).scalars()
            )
    finally:
        engine.dispose()
    by_invitation = Counter(row.email for row in invitations)
    by_message = Counter(row.recipient for row in outbox)
    audit = Counter(row.email for row in invitations if row.id in audited)
    statuses = Counter(row.status for row in outbox)
    return by_invitation, by_message, audit, statuses


def wait_until_sent(cluster: Cluster, tenant_id: str) -> Counter[str]:
    deadline = time.monotonic() + MAIL_SECONDS
    while True:
        statuses = footprint(cluster, tenant_id)[3]
        if set(statuses) <= {"SENT"} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def link_invitation(client: httpx.Client, tenant_id: str) -> tuple[str, str]:
    """A LINK invitation made before the burst: (its id, its code)."""
    response = client.post(
        "/api/v1/new-user-invitation/invite-user", json={"tenantId": tenant_id, "invitationType": "LINK"}
    )
    assert response.status_code == 200, response.text
    code = parse_qs(urlsplit(response.json()["inviteUrl"]).query)["code"][0]
    return response.json()["newUserInvitationRequest"]["id"], code


def accept(client: httpx.Client, code: str, email: str) -> httpx.Response | None:
    try:
        body = {"inviteCode": code, "email": email, "password": PASSWORD}
        return client.post("/api/v1/new-user-invitation/accept-invite", json=body)
    except httpx.TransportError:
        return None


def acceptances(cluster: Cluster, tenant_id: str) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
    """LINK invitations (id -> status, completed user) and the tenant's users (email -> id)."""
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            invitations = conn.execute(
                text(
                    "SELECT id, status, completed_user_id FROM invitations "
                    "WHERE tenant_id = :t AND invitation_type = 'LINK'"
                ),
                {"t": tenant_id},
            ).all()
            users = conn.execute(text("SELECT email, id FROM users WHERE tenant_id = :t"), {"t": tenant_id}).all()
    finally:
        engine.dispose()
    return {row.id: (row.status, row.completed_user_id) for row in invitations}, {row.email: row.id for row in users}


def test_kill_9_mid_burst_loses_no_invitation_and_writes_none_by_half(cluster: Cluster, smtp: SmtpServer) -> None:
    victim = cluster.nodes[0]
    clients = [cluster.client(0), cluster.client(1)]
    try:
        tenant = create_tenant(clients[1])
        emails = [f"crash{n}-{secrets.token_hex(3)}@example.com" for n in range(BURST)]
        links = {
            f"join{n}-{secrets.token_hex(3)}@example.com": link_invitation(clients[1], tenant["id"])
            for n in range(ACCEPTS)
        }
        jobs = [("invite", e) for e in emails]
        for n, email in enumerate(links):  # the acceptances spread through the burst
            jobs.insert(n * len(jobs) // ACCEPTS, ("accept", email))
        answers: dict[str, httpx.Response | None] = {}
        victims: set[str] = set()  # what was sent to node 0
        answered_by_victim = 0
        lock = threading.Lock()
        killed = threading.Event()

        def send(index: int) -> None:
            nonlocal answered_by_victim
            kind, email = jobs[index]
            client = clients[index % 2]
            if kind == "invite":
                response = invite(client, tenant["id"], email)
            else:
                response = accept(client, links[email][1], email)
            with lock:
                answers[email] = response
                if index % 2 == 0:
                    victims.add(email)
                    if response is not None:
                        answered_by_victim += 1
                        if answered_by_victim == KILL_AFTER and not killed.is_set():
                            victim.kill()  # requests of other threads are in flight on it right now
                            killed.set()

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(send, range(len(jobs))))
        assert killed.is_set(), "the burst ended before node 0 was killed"

        server_errors = {e: r.text for e, r in answers.items() if r is not None and r.status_code >= 500}
        assert not server_errors, f"{server_errors}\n{cluster.logs()}"
        refused = {e: r.text for e, r in answers.items() if r is not None and r.status_code != 200}
        assert not refused, refused
        ok = {e for e, r in answers.items() if r is not None and e in emails}
        accepted = {e for e, r in answers.items() if r is not None and e in links}
        unanswered = {e for e, r in answers.items() if r is None}
        assert unanswered, "no request was cut off by the kill"
        assert unanswered <= victims, "only node 0 died"

        # The survivor never stopped answering; the victim comes back, dispatching this time.
        victim.env["TENANTRY_MAIL_DISPATCHER"] = "true"
        victim.start()
        victim.wait_ready()
        after = f"after-restart-{secrets.token_hex(3)}@example.com"
        with cluster.client(0) as fresh:  # not the pool of connections to the killed process
            again = invite(fresh, tenant["id"], after)
        assert again is not None and again.status_code == 200, again.text if again else "no answer"
        ok.add(after)

        statuses = wait_until_sent(cluster, tenant["id"])
        assert set(statuses) == {"SENT"}, statuses
        invitations, messages, audit, _ = footprint(cluster, tenant["id"])
        # One transaction per request: an invitation, its outbox message and its audit event, or nothing.
        assert invitations == messages == audit, (invitations, messages, audit)
        assert set(invitations.values()) == {1}
        assert ok <= set(invitations), f"answered 200 but not stored: {ok - set(invitations)}"
        assert set(invitations) <= ok | unanswered
        stored_unanswered = unanswered & set(invitations)

        # An acceptance made its user and used up its invitation, or did neither.
        link_rows, users = acceptances(cluster, tenant["id"])
        assert set(users) <= set(links), "only acceptances make users here"
        for email, (invitation_id, _) in links.items():
            status, completed_by = link_rows[invitation_id]
            if email in users:
                assert completed_by == users[email] and status != "PENDING_INVITE_ACCEPTANCE", (email, status)
            else:
                assert email in unanswered, f"{email} was accepted (200) but has no user"
                assert (status, completed_by) == ("PENDING_INVITE_ACCEPTANCE", None), (email, status)
        assert accepted <= set(users)

        # The acceptances' activation or verification emails count too: each user gets one.
        expected = ok | stored_unanswered | set(users)
        smtp.mailbox.wait_for_all(expected, MAIL_SECONDS)
        time.sleep(1.0)  # a duplicate would come from a second dispatcher pass: give it the time to show
        received = smtp.mailbox.per_recipient()
        ours = {r: n for r, n in received.items() if r in expected or r in links or r in emails}
        assert ours == dict.fromkeys(expected, 1), {r: n for r, n in ours.items() if n != 1 or r not in expected}
        ids = [str(m["Message-ID"]) for m in smtp.mailbox.messages() if str(m["X-RcptTo"]).lower() in expected]
        assert len(set(ids)) == len(ids) == len(expected)
        print(
            f"burst of {len(jobs)}: {len(unanswered)} cut off by the kill "
            f"({len(stored_unanswered)} invitations and {len(unanswered & set(users))} acceptances committed), "
            f"{len(expected)} emails delivered once"
        )
    finally:
        for client in clients:
            client.close()
