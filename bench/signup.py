"""Signups and invitation acceptances per second, next to bare argon2id hashes (the limit) and to
fastapi-users' registration, at 1 and 16 concurrent clients, on SQLite and PostgreSQL.

Each of these requests stores a new user with a password, so each pays one argon2id hash at the
server's parameters (Tenantry's defaults, m=19456 KiB, t=2, p=1): the hash dominates, and the
figure that matters is how close the server gets to the machine's hashing rate.

* **Tenantry signup**: ``POST /api/v1/signup/provision-user`` (M2M token) with a new email and a
  password, tenant-level signup into an existing tenant with ``signupEnabled``. The user is created
  and, under the tenant's signup policy, an activation email is queued (the outbox dispatcher of
  ``tenantry serve`` hands it to the log transport, as no SMTP server is configured).
* **Tenantry accept invite**: ``POST /api/v1/new-user-invitation/accept-invite`` with the
  ``emailAuthCode`` of an EMAIL invitation and a password: the user is created ACTIVE, the
  invitation completed, and a one-time session code issued. The invitations are made beforehand
  (``invite-user``, not timed) and their codes read from the outbox's emails in the database.
* **fastapi-users register**: the peer's ``POST /auth/register`` (``bench/peers/fastapi_users``, own
  virtualenv), same argon2id parameters (pwdlib's Argon2Hasher), same uvicorn worker count, on the
  same kind of database (SQLite through aiosqlite, PostgreSQL through asyncpg).
* **bare argon2id hashes**: ``argon2.PasswordHasher.hash`` in min(clients, CPUs) processes for
  ``--bare-seconds`` right before: with one client a request can use one core at most.

Every request has its own new email, so every one should succeed (201, or 200 for the
acceptance); any other answer is counted by status code (transport errors by exception) and the
first few are printed. For Tenantry, the users in the tenant are counted through the API afterwards
and must match the successes (for fastapi-users, the rows of its ``user`` table). All servers run
on 127.0.0.1 and are driven by the same lean load generator (``common.Connection``), each client
over its own keep-alive connection, spread evenly over the workers.

    .venv/bin/python bench/signup.py [--count 200] [--clients 1,16] [--workers 1,2]
                                     [--db sqlite,postgresql] [--bare-seconds 6] [--wait-idle 300] [--no-peer]

PostgreSQL: TENANTRY_BENCH_PG_URL, else a throwaway ``scripts/pg-test.sh`` cluster (as in
``create_users.py``). Exits 1 when a Tenantry request failed or its user count is off (the peer's
failures are reported, not an error: they are the finding).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi_users_peer
import httpx
import psutil
import sqlalchemy as sa
from common import (
    CPUS,
    PARAMS,
    Argon2Params,
    BareRate,
    Column,
    Connection,
    CpuMeter,
    HttpError,
    PeakRss,
    PostgresServer,
    RequestSpec,
    Server,
    Step,
    Tally,
    balance,
    bare_argon2,
    client_credentials_token,
    closed_loop,
    console,
    free_port,
    report,
    run_async,
    run_init,
    run_load,
    tenantry_env,
    wait_idle,
)

from tenantry.adapters.sql import tables as t

DATABASES = ("sqlite", "postgresql")
NOISE_CORES = 0.2
PASSWORD_CHARS = 18
INVITE_LINK = re.compile(r"/accept-invite\?code=([\w-]+)")
OPS = {
    "signup": "Tenantry signup",
    "accept": "Tenantry accept invite",
    "register": "fastapi-users register",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="requests per measurement (default 200)")
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrent clients (default 1,16)")
    parser.add_argument("--workers", default="1,2", help="comma-separated uvicorn worker counts (default 1,2)")
    parser.add_argument("--db", default=",".join(DATABASES), help="comma-separated: sqlite,postgresql")
    parser.add_argument("--bare-seconds", type=float, default=6.0, help="seconds of bare hashing (default 6)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS", help="wait for an idle machine")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip fastapi-users")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.db = [d.strip() for d in str(args.db).split(",") if d.strip()]
    if set(args.db) - set(DATABASES):
        parser.error(f"unknown database(s): {', '.join(sorted(set(args.db) - set(DATABASES)))}")
    if args.count < 1 or not args.clients or min(args.clients) < 1 or not args.workers or min(args.workers) < 1:
        parser.error("--count, --clients and --workers must be positive")
    return args


# --------------------------------------------------------------------------- load


def raw_post(host: str, path: str, body: dict[str, Any], token: str | None = None) -> bytes:
    data = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    return (head + f"Content-Length: {len(data)}\r\n\r\n").encode("latin-1") + data


def counted(
    port: int,
    processes: Callable[[], list[psutil.Process]],
    workers: int,
    clients: int,
    total: int,
    make_raw: Callable[[int], bytes],
    expect: int,
) -> Tally:
    """``total`` requests (``make_raw(i)``, i = 0…total-1) from ``clients`` closed-loop clients on
    their own keep-alive connections, spread evenly over the server's workers. A request answered
    with another status than ``expect`` is counted under its status code."""
    counter = itertools.count()

    def make(connection: Connection) -> Step:
        async def step(tally: Tally) -> bool:
            i = next(counter)
            if i >= total:
                return False
            reply = await connection.send(make_raw(i))
            if reply.status != expect:
                raise HttpError(str(reply.status), reply.describe())
            return True

        return step

    async def go() -> Tally:
        connections = [Connection("127.0.0.1", port) for _ in range(clients)]
        try:
            await balance(connections, processes, workers)
            return await closed_loop([make(c) for c in connections], math.inf)
        finally:
            for connection in connections:
                connection.close()

    tally: Tally = run_async(go())
    return tally


@dataclass
class Measured:
    op: str
    tally: Tally
    meter: CpuMeter
    peak_mib: float
    peak_process_mib: float  # the largest single process: a worker, or the one process
    stored: int | None  # users the server stored during the run, when counted


def measure(
    op: str,
    port: int,
    processes: Callable[[], list[psutil.Process]],
    workers: int,
    clients: int,
    total: int,
    make_raw: Callable[[int], bytes],
    expect: int,
    count_users: Callable[[], int] | None,
) -> Measured:
    before = count_users() if count_users else 0
    meter = CpuMeter(server=processes)
    with PeakRss(processes) as rss, meter:
        tally = counted(port, processes, workers, clients, total, make_raw, expect)
    stored = count_users() - before if count_users else None
    return Measured(op, tally, meter, rss.peak_mib, rss.peak_process_mib, stored)


def new_email(kind: str, i: int) -> str:
    return f"{kind}-{i}-{secrets.token_hex(5)}@example.com"


# --------------------------------------------------------------------------- Tenantry


@dataclass(frozen=True)
class TenantrySide:
    server: Server
    token: str
    tenant_id: str
    database_url: str

    def count_users(self) -> int:
        response = httpx.get(
            f"{self.server.base_url}/api/v1/tenants/{self.tenant_id}/users",
            params={"count": 1},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        response.raise_for_status()
        return int(response.json()["totalResults"])


def signup_tenant(server: Server, token: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/tenants",
        json={"domainName": f"signup{secrets.token_hex(4)}", "displayName": "Signup benchmark", "signupEnabled": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 201:
        raise RuntimeError(f"create tenant: {response.status_code} {response.text}")
    tenant_id: str = response.json()["id"]
    return tenant_id


def invitation_codes(side: TenantrySide, count: int) -> list[str]:
    """``count`` EMAIL invitations to new addresses (``invite-user``), and the ``emailAuthCode`` of
    each, read from its email in the outbox."""
    emails = [new_email("invited", i) for i in range(count)]

    def make(i: int) -> RequestSpec:
        body = {"tenantId": side.tenant_id, "email": emails[i]}
        return RequestSpec("POST", "/api/v1/new-user-invitation/invite-user", {"json": body})

    made = run_load(
        side.server.base_url,
        make,
        total=count,
        concurrency=4,
        expect_status=200,
        headers={"Authorization": f"Bearer {side.token}"},
    )
    if made.error_count:
        raise RuntimeError(f"invite-user failed {made.error_count} time(s): {made.samples}")
    engine = sa.create_engine(side.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.outbox.c.recipient, t.outbox.c.text_body).where(t.outbox.c.recipient.in_(emails))
            ).all()
    finally:
        engine.dispose()
    codes: dict[str, str] = {}
    for recipient, body in rows:
        found = INVITE_LINK.search(body)
        if found:
            codes[recipient] = found.group(1)
    missing = [e for e in emails if e not in codes]
    if missing:
        raise RuntimeError(f"no invitation email found for {len(missing)} address(es), e.g. {missing[0]}")
    return [codes[e] for e in emails]


def tenantry_runs(side: TenantrySide, clients: int, count: int) -> list[Measured]:
    server = side.server
    host = server.domain
    password = secrets.token_urlsafe(PASSWORD_CHARS)

    def signup(i: int) -> bytes:
        body = {"tenantId": side.tenant_id, "email": new_email("signup", i), "password": password}
        return raw_post(host, "/api/v1/signup/provision-user", body, side.token)

    # Warm-up: connections, caches and the hasher's pool in every worker (not counted).
    counted(server.port, server.processes, server.workers, clients, 2 * clients, signup, 201)
    signed = measure(
        "signup", server.port, server.processes, server.workers, clients, count, signup, 201, side.count_users
    )
    codes = invitation_codes(side, count)

    def accept(i: int) -> bytes:
        body = {"emailAuthCode": codes[i], "password": password}
        return raw_post(host, "/api/v1/new-user-invitation/accept-invite", body, side.token)

    accepted = measure(
        "accept", server.port, server.processes, server.workers, clients, count, accept, 200, side.count_users
    )
    return [signed, accepted]


# --------------------------------------------------------------------------- fastapi-users


def peer_user_counter(peer_url: str) -> Callable[[], int]:
    """Rows of the peer's ``user`` table, read straight from its database."""
    if peer_url.startswith("sqlite"):
        path = peer_url.split(":///", 1)[1]

        def count_sqlite() -> int:
            with sqlite3.connect(path, timeout=60) as conn:
                return int(conn.execute('SELECT count(*) FROM "user"').fetchone()[0])

        return count_sqlite

    import psycopg

    dsn = "postgresql://" + peer_url.split("://", 1)[1]

    def count_pg() -> int:
        with psycopg.connect(dsn) as conn:
            row = conn.execute('SELECT count(*) FROM "user"').fetchone()
            return int(row[0]) if row else 0

    return count_pg


def peer_runs(
    params: Argon2Params, database_url: str | None, workers: int, clients: Sequence[int], count: int, data_dir: Path
) -> dict[int, Measured]:
    peer_url = fastapi_users_peer.async_url(database_url, data_dir / f"fastapi-users-w{workers}")
    found: dict[int, Measured] = {}
    with fastapi_users_peer.PeerServer(
        params=params, database_url=peer_url, workers=workers, log_path=data_dir / f"fastapi-users-w{workers}.log"
    ) as peer:
        host = f"127.0.0.1:{peer.port}"
        password = secrets.token_urlsafe(PASSWORD_CHARS)

        def register(i: int) -> bytes:
            return fastapi_users_peer.register_request(host, new_email("fu", i), password)

        counter = peer_user_counter(peer_url)
        for c in clients:
            counted(peer.port, peer.processes, workers, c, 2 * c, register, 201)  # warm-up
            found[c] = measure("register", peer.port, peer.processes, workers, c, count, register, 201, counter)
            if found[c].tally.error_count:
                console.print(f"    fastapi-users log tail:\n{peer.log_tail(12)}")
    return found


# --------------------------------------------------------------------------- one database


def bench_database(
    db: str,
    database_url: str | None,
    peer_database: Callable[[], str | None],
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    notes: list[str],
) -> int:
    params = PARAMS["tenantry"]
    failures = 0
    with tempfile.TemporaryDirectory(prefix=f"tenantry-bench-signup-{db}-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = tenantry_env(data_dir, database_url)
        console.print(f"[bold]{db}[/bold]: init application 127.0.0.1:{port}")
        app = run_init(env, f"127.0.0.1:{port}")
        sql_url = database_url or f"sqlite:///{(data_dir / 'tenantry.db').resolve()}"
        for workers in args.workers:
            bare: dict[int, BareRate] = {}
            measured: dict[int, list[Measured]] = {}
            log_path = data_dir / f"serve-w{workers}.log"
            with Server(env, port=port, workers=workers, log_path=log_path) as server:
                token = client_credentials_token(server.base_url, app.client_id, app.client_secret)
                side = TenantrySide(server, token, signup_tenant(server, token), sql_url)
                for c in args.clients:
                    wait_idle(args.wait_idle, f"{db}, {workers} worker(s), {c} client(s)", notes)
                    bare[c] = bare_argon2(params, args.bare_seconds, min(c, CPUS), operation="hash")
                    console.print(
                        f"  bare argon2id hashes, {bare[c].processes} process(es): {bare[c].rate:,.1f}/s"
                        f" ({bare[c].cpu_ms:.1f} ms CPU each)"
                    )
                    measured[c] = tenantry_runs(side, c, args.count)
                    for run in measured[c]:
                        rows.append(make_row(db, workers, c, "Tenantry", run, bare[c]))
                        failures += rows[-1]["failed"] + abs(rows[-1]["storedMismatch"])
                if any(r.tally.error_count for runs in measured.values() for r in runs):
                    console.print(f"    Tenantry log tail:\n{server.log_tail(30)}")
            if args.peer:
                for c, run in peer_runs(params, peer_database(), workers, args.clients, args.count, data_dir).items():
                    rows.append(make_row(db, workers, c, "fastapi-users", run, bare[c]))
    for row in rows:
        if row["db"] == db and row["otherCpuPercent"] > 100 * NOISE_CORES / CPUS:
            notes.append(
                f"{db}, {row['workers']} worker(s), {row['clients']} client(s), {row['operation']}: processes outside"
                f" the benchmark used {row['otherCpuPercent'] * CPUS / 100:.2f} CPU: figures are disturbed."
            )
    return failures


def make_row(db: str, workers: int, clients: int, server: str, run: Measured, bare: BareRate) -> dict[str, Any]:
    tally, meter = run.tally, run.meter
    ok = max(tally.ok, 1)
    server_ms = meter.group_seconds.get("server", 0.0) * 1000 / ok
    failed = tally.error_count
    stored_mismatch = (run.stored - tally.ok) if run.stored is not None else 0
    row: dict[str, Any] = {
        "db": db,
        "workers": workers,
        "clients": clients,
        "server": server,
        "operation": OPS[run.op],
        "requests": tally.ok + failed,
        "ok": tally.ok,
        "rate": tally.rate,
        "hashRate": bare.rate,
        "hashProcesses": bare.processes,
        "ratio": tally.rate / bare.rate if bare.rate else 0.0,
        "failed": failed,
        "failedShare": failed / max(tally.ok + failed, 1),
        "failures": ", ".join(f"{k}: {v}" for k, v in sorted(tally.errors.items())) or "-",
        "stored": run.stored,
        "storedMismatch": stored_mismatch,
        "p50": tally.percentile_ms(50),
        "p99": tally.percentile_ms(99),
        "hashCpuMs": bare.cpu_ms,
        "serverCpuMs": server_ms,
        "clientCpuMs": 1000 * tally.client_cpu_seconds / max(tally.ok + failed, 1),
        "hostCpuPercent": 100 * meter.host_cores / CPUS,
        "otherCpuPercent": 100 * meter.other_cores / CPUS,
        "rssMiB": run.peak_mib,
        "rssProcessMiB": run.peak_process_mib,
        "samples": tally.samples,
    }
    console.print(
        f"  {row['operation']}, {db}, {workers} worker(s), {clients} client(s): {tally.rate:,.1f}/s"
        f" = {row['ratio']:.2f} of bare hashes; {tally.ok}/{row['requests']} answered as expected"
        + (f" [red]failures {row['failures']}[/red]" if failed else "")
        + (f" [red]{run.stored} users stored for {tally.ok} successes[/red]" if stored_mismatch else "")
        + f"; p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms; server CPU ms {server_ms:.1f};"
        f" peak RSS {run.peak_mib:.0f} MiB (largest process {run.peak_process_mib:.0f});"
        f" host {row['hostCpuPercent']:.0f}% busy"
    )
    for sample in tally.samples[:3]:
        console.print(f"    [red]{server} error[/red] {sample}")
    return row


COLUMNS = [
    Column("db", "database"),
    Column("workers", "W"),
    Column("clients", "clients"),
    Column("operation", "operation"),
    Column("rate", "per s", "{:,.1f}"),
    Column("hashRate", "bare hashes/s", "{:,.1f}"),
    Column("ratio", "÷ hashes", "{:.2f}"),
    Column("ok", "ok"),
    Column("failed", "failed"),
    Column("failedShare", "failed share", "{:.0%}"),
    Column("failures", "failures by status"),
    Column("p50", "p50 ms", "{:.0f}"),
    Column("p99", "p99 ms", "{:.0f}"),
    Column("serverCpuMs", "server CPU ms/op", "{:.1f}"),
    Column("hashCpuMs", "hash CPU ms", "{:.1f}"),
    Column("hostCpuPercent", "host CPU %", "{:.0f}"),
    Column("otherCpuPercent", "other CPU %", "{:.0f}"),
    Column("rssMiB", "server peak RSS MiB", "{:.0f}"),
    Column("rssProcessMiB", "largest process MiB", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    meta: dict[str, Any] = {"count": args.count, "clients": args.clients, "workers": args.workers}
    if args.peer:
        meta["fastapiUsers"] = fastapi_users_peer.ensure_installed()
    failures = 0
    if "sqlite" in args.db:
        failures += bench_database("sqlite", None, lambda: None, args, rows, notes)
    if "postgresql" in args.db:
        with PostgresServer(os.environ.get("TENANTRY_BENCH_PG_URL") or None) as pg:
            meta["postgresql"] = pg.version()
            failures += bench_database("postgresql", pg.create_database(), pg.create_database, args, rows, notes)
    params = PARAMS["tenantry"]
    report(
        "signup",
        "Signups and invitation acceptances vs bare argon2id hashes and fastapi-users",
        COLUMNS,
        rows,
        meta=meta,
        notes=[
            f"{args.count} requests per row, each a new user with a password; argon2id {params.short} on every"
            " server (Tenantry's defaults); W = uvicorn workers of the server in the row.",
            "bare hashes/s: argon2-cffi PasswordHasher.hash in min(clients, CPUs) processes for"
            f" {args.bare_seconds:g} s right before; ÷ hashes = the row's rate ÷ that limit.",
            "Tenantry signup: POST /api/v1/signup/provision-user (tenant-level, signupEnabled; an activation email"
            " is queued); Tenantry accept invite: POST /api/v1/new-user-invitation/accept-invite with an EMAIL"
            " invitation's emailAuthCode (user ACTIVE, session code issued); fastapi-users register: POST"
            f" /auth/register of fastapi-users {meta.get('fastapiUsers', '-')} on the same database kind (aiosqlite,"
            " asyncpg) and worker count.",
            "failures by status: answers other than 201 (200 for accept-invite), by status code; the users stored"
            " (counted in the database or through the API) matched the successes unless printed otherwise.",
            "server CPU ms/op: the server's process tree per successful request; hash CPU ms: per bare hash.",
            "server peak RSS: the process tree's (with W > 1 the supervisor and every worker); largest process: the"
            " largest single one (a worker, or the one process with W = 1).",
            *notes,
        ],
    )
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    if failures:
        console.print(f"[red]{failures} failed Tenantry request(s) or user count mismatch(es)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
