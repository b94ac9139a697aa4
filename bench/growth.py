"""How the login and Create User figures change as a tenant grows (1,000 → 100,000 → 1,000,000
users) and with the workers (1 → 2).

One database per database kind, one application, one tenant that grows: before each size, the
users it lacks are written straight into the ``users`` table (batched inserts of the rows the
repository writes: ACTIVE, a shared real argon2id hash, distinct emails and names; not timed;
then ``ANALYZE`` on PostgreSQL, as autovacuum would, and on SQLite only with ``--analyze``:
Tenantry never runs it there, and with its statistics the login lookup scans the whole table).
Then, for each worker count, a fresh ``tenantry serve --workers W`` and

* **Create User**: ``--creates`` users through ``POST /api/v1/users`` into that tenant from
  ``--clients`` keep-alive clients (lean asyncio HTTP/1.1), every answer must be 201 (``create_users.py``'s API
  run, without the direct-write baselines);
* **logins**: complete password logins (``login.py``: authorize → login page → POST /login →
  token) for ``--seconds`` by ``--clients`` clients, each signing in as its own user of that
  tenant (made through the API with a password at the first size), argon2id at Tenantry's
  defaults.

The table gives each figure per size and worker count, then the change against the smallest size
(same workers) and against 1 worker (same size).

    .venv/bin/python bench/growth.py [--sizes 1000,100000,1000000] [--workers 1,2] [--db sqlite]
                                     [--creates 1000] [--clients 8] [--seconds 8] [--wait-idle 300] [--analyze]

PostgreSQL (``--db postgresql``): TENANTRY_BENCH_PG_URL, else a throwaway ``scripts/pg-test.sh``
cluster. Exits 1 when a request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    CPUS,
    PARAMS,
    Column,
    CpuMeter,
    PostgresServer,
    Server,
    client_credentials_token,
    console,
    free_port,
    report,
    run_init,
    run_load,
    tenantry_env,
    wait_idle,
)
from create_users import operator, user_request
from login import RATE_LIMITS, LoginWorld, make_world, measure, warm_up

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.users import _values as user_row_values
from tenantry.bootstrap import Services, bootstrap
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.tenants.service import CreateTenant, create_tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.settings import Settings

DATABASES = ("sqlite", "postgresql")
BATCH = 5000
GIVEN = ("Ada", "Ben", "Chloé", "Dan", "Eve", "Farid", "Gül", "Hana", "Ivan", "José", "Kim", "Lena", "Mo", "Noor")
FAMILY = ("Smith", "Okafor", "Müller", "Nguyen", "García", "Kowalski", "Haddad", "Ito", "Silva", "Dubois", "Rossi")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="users in the tenant, ascending")
    parser.add_argument("--workers", default="1,2", help="comma-separated uvicorn worker counts (default 1,2)")
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite,postgresql (default sqlite)")
    parser.add_argument("--creates", type=int, default=1000, help="users created per Create User run (default 1000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of logins per run (default 8)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS", help="wait for an idle machine")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="SQLite: ANALYZE users after seeding (PostgreSQL: always)",
    )
    args = parser.parse_args(argv)
    args.sizes = sorted(int(s) for s in str(args.sizes).split(",") if s.strip())
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.db = [d.strip() for d in str(args.db).split(",") if d.strip()]
    if set(args.db) - set(DATABASES):
        parser.error(f"unknown database(s): {', '.join(sorted(set(args.db) - set(DATABASES)))}")
    if not args.sizes or min(args.sizes) < 0 or not args.workers or min(args.workers) < 1:
        parser.error("--sizes and --workers must be positive")
    if args.creates < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--creates, --clients and --seconds must be positive")
    return args


# --------------------------------------------------------------------------- seeding


class Tenant:
    """The growing tenant: its ids, and how many users it holds."""

    def __init__(self, services: Services, application_id: str, *, analyze: bool = False) -> None:
        self.analyze = analyze
        self.domain = f"grow{secrets.token_hex(4)}"
        created = create_tenant(
            services.core, operator(application_id), CreateTenant(domain_name=self.domain, display_name="Growth")
        )
        with services.core.uow(application_id) as uow:
            provider = uow.identity_providers.get_by_name("wristband", created.id)
        if provider is None:
            raise RuntimeError("the tenant has no built-in 'wristband' identity provider")
        self.services = services
        self.application_id = application_id
        self.id = created.id
        self.provider = provider
        self.seeded = 0
        self.password_hash = services.core.hasher.hash("Seeded-" + secrets.token_urlsafe(12))

    def count(self) -> int:
        from sqlalchemy import func, select

        with self.services.database.transaction(write=False) as conn:
            query = select(func.count()).select_from(t.users).where(t.users.c.tenant_id == self.id)
            return int(conn.execute(query).scalar_one())

    def _row(self, i: int, created: datetime) -> dict[str, Any]:
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        user = User(
            id=new_id(),
            application_id=self.application_id,
            tenant_id=self.id,
            identity_provider_id=self.provider.id,
            identity_provider_name=self.provider.name,
            identity_provider_type=self.provider.type.value,
            email=f"{given.lower()}.{family.lower()}.{i}@{self.domain}.example",
            email_verified=True,
            status=UserStatus.ACTIVE,
            profile={"givenName": given, "familyName": f"{family}{i % 997}"},
            public_metadata={},
            restricted_metadata={},
            password_hash=self.password_hash,
            metadata=EntityMetadata.new(created),
        )
        return {
            "id": user.id,
            "application_id": self.application_id,
            "tenant_id": self.id,
            "identity_provider_id": self.provider.id,
            **user_row_values(user),
        }

    def grow_to(self, size: int) -> float:
        """Write users until the tenant holds ``size`` (not counting the benchmark's own); seconds taken."""
        started = time.perf_counter()
        first = datetime.now(UTC) - timedelta(days=3 * 365)
        insert = t.users.insert()
        if self.services.database.is_sqlite:
            # The seeding connection only (not the server's): a large page cache keeps the users
            # table's ten indexes in memory while they grow; the rows reach the file at each commit.
            with self.services.database.transaction(write=True) as conn:
                conn.exec_driver_sql("PRAGMA cache_size = -262144")
        while self.seeded < size:
            n = min(BATCH, size - self.seeded)
            rows = [self._row(self.seeded + k, first + timedelta(seconds=(self.seeded + k) * 60)) for k in range(n)]
            with self.services.database.transaction(write=True) as conn:
                conn.execute(insert, rows)
                conn.commit()
            self.seeded += n
            if self.seeded % 100_000 == 0:
                console.print(f"    {self.seeded:,} users ({time.perf_counter() - started:.0f} s)")
        if not self.services.database.is_sqlite:
            # What autovacuum would do by itself after so many inserts.
            with self.services.database.write_engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE users")
        elif self.analyze:
            # Tenantry never runs ANALYZE on SQLite; an operator's ``PRAGMA optimize`` would.
            with self.services.database.transaction(write=True) as conn:
                conn.exec_driver_sql("ANALYZE users")
                conn.commit()
        return time.perf_counter() - started


# --------------------------------------------------------------------------- one size, one worker count


def create_run(server: Server, token: str, tenant: Tenant, creates: int, clients: int) -> dict[str, Any]:
    make = user_request(tenant.id)
    headers = {"Authorization": f"Bearer {token}"}
    run_load(
        server.base_url,
        make,
        total=max(4 * clients, 40),
        concurrency=clients,
        expect_status=201,
        headers=headers,
        server=server,
    )
    meter = CpuMeter(server=server.processes)
    with server.sample_rss() as rss, meter:
        load = run_load(
            server.base_url, make, total=creates, concurrency=clients, expect_status=201, headers=headers, server=server
        )
    for sample in load.samples:
        console.print(f"    [red]create error[/red] {sample}")
    return {
        "createsPerSecond": load.rate,
        "createP50": load.percentile_ms(50),
        "createP99": load.percentile_ms(99),
        "createCpuMs": meter.group_seconds.get("server", 0.0) * 1000 / max(load.ok, 1),
        "createErrors": load.error_count,
        "createRssMiB": rss.peak_mib,
        "createOtherCpuPercent": 100 * meter.other_cores / CPUS,
    }


def login_run(server: Server, world: LoginWorld, seconds: float) -> dict[str, Any]:
    warm = warm_up(world, server)
    tally, meter, rss = measure(server, world, seconds)
    for sample in [*warm.samples, *tally.samples]:
        console.print(f"    [red]login error[/red] {sample}")
    return {
        "loginsPerSecond": tally.rate,
        "loginP50": tally.percentile_ms(50),
        "loginP99": tally.percentile_ms(99),
        "loginCpuMs": meter.group_seconds.get("server", 0.0) * 1000 / max(tally.ok, 1),
        "loginErrors": tally.error_count + warm.error_count,
        "loginRssMiB": rss.peak_mib,
        "loginOtherCpuPercent": 100 * meter.other_cores / CPUS,
    }


def bench_database(
    db: str, database_url: str | None, args: argparse.Namespace, rows: list[dict[str, Any]], notes: list[str]
) -> int:
    params = PARAMS["tenantry"]
    errors = 0
    with tempfile.TemporaryDirectory(prefix=f"tenantry-bench-growth-{db}-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = tenantry_env(data_dir, database_url, rate_limits=json.dumps(RATE_LIMITS))
        console.print(f"[bold]{db}[/bold]: init application 127.0.0.1:{port}")
        app = run_init(env, f"127.0.0.1:{port}")
        services = bootstrap(Settings(data_dir=data_dir, database_url=database_url), migrate=False)
        try:
            tenant = Tenant(services, app.application_id, analyze=args.analyze)
            world: LoginWorld | None = None
            for size in args.sizes:
                seconds = tenant.grow_to(size)
                console.print(f"  [bold]{size:,}[/bold] seeded users ({seconds:.0f} s to seed)")
                for workers in args.workers:
                    log_path = data_dir / f"serve-{size}-w{workers}.log"
                    with Server(env, port=port, workers=workers, log_path=log_path) as server:
                        token = client_credentials_token(server.base_url, app.client_id, app.client_secret)
                        if world is None:
                            world = make_world(
                                server, app.client_id, app.client_secret, args.clients, (tenant.id, tenant.domain)
                            )
                        wait_idle(args.wait_idle, f"{db}, {size:,} users, {workers} worker(s)", notes)
                        row: dict[str, Any] = {"db": db, "size": size, "workers": workers, "seedSeconds": seconds}
                        row.update(create_run(server, token, tenant, args.creates, args.clients))
                        row.update(login_run(server, world, args.seconds))
                        if row["createErrors"] or row["loginErrors"]:
                            console.print(f"    server log tail:\n{server.log_tail(30)}")
                    row["tenantUsers"] = tenant.count()
                    row["argon2"] = params.short
                    errors += row["createErrors"] + row["loginErrors"]
                    console.print(
                        f"  {size:,} users, {workers} worker(s): Create User {row['createsPerSecond']:,.0f}/s"
                        f" (p50 {row['createP50']:.1f} ms, {row['createCpuMs']:.2f} ms CPU),"
                        f" logins {row['loginsPerSecond']:,.1f}/s (p50 {row['loginP50']:.0f} ms,"
                        f" {row['loginCpuMs']:.1f} ms CPU); peak RSS {max(row['createRssMiB'], row['loginRssMiB']):.0f}"
                        f" MiB; tenant now {row['tenantUsers']:,} users"
                    )
                    rows.append(row)
        finally:
            services.close()
    return errors


def add_changes(rows: list[dict[str, Any]]) -> None:
    """Each figure against the smallest size (same database and workers) and against 1 worker."""
    for row in rows:
        same = [r for r in rows if r["db"] == row["db"] and r["workers"] == row["workers"]]
        base = min(same, key=lambda r: r["size"])
        one = next((r for r in rows if r["db"] == row["db"] and r["size"] == row["size"] and r["workers"] == 1), None)
        for key, short in (("createsPerSecond", "create"), ("loginsPerSecond", "login")):
            row[f"{short}VsSmallest"] = row[key] / base[key] if base[key] else None
            row[f"{short}VsOneWorker"] = row[key] / one[key] if one and one[key] else None
        row["rssMiB"] = max(row["createRssMiB"], row["loginRssMiB"])
        row["otherCpuPercent"] = max(row["createOtherCpuPercent"], row["loginOtherCpuPercent"])


COLUMNS = [
    Column("db", "database"),
    Column("size", "users in tenant", "{:,}"),
    Column("workers", "W"),
    Column("createsPerSecond", "Create User/s", "{:,.0f}"),
    Column("createVsSmallest", "x smallest", "{:.2f}"),
    Column("createVsOneWorker", "x 1 worker", "{:.2f}"),
    Column("createP50", "create p50 ms", "{:.1f}"),
    Column("createP99", "create p99 ms", "{:.1f}"),
    Column("createCpuMs", "server CPU ms/create", "{:.2f}"),
    Column("loginsPerSecond", "logins/s", "{:,.1f}"),
    Column("loginVsSmallest", "x smallest", "{:.2f}"),
    Column("loginVsOneWorker", "x 1 worker", "{:.2f}"),
    Column("loginP50", "login p50 ms", "{:.0f}"),
    Column("loginP99", "login p99 ms", "{:.0f}"),
    Column("loginCpuMs", "server CPU ms/login", "{:.1f}"),
    Column("createErrors", "create errors"),
    Column("loginErrors", "login errors"),
    Column("otherCpuPercent", "other CPU %", "{:.0f}"),
    Column("rssMiB", "server peak RSS MiB", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    meta: dict[str, Any] = {"sizes": args.sizes, "workers": args.workers, "creates": args.creates}
    meta.update(clients=args.clients, seconds=args.seconds)
    errors = 0
    if "sqlite" in args.db:
        errors += bench_database("sqlite", None, args, rows, warnings)
    if "postgresql" in args.db:
        with PostgresServer(os.environ.get("TENANTRY_BENCH_PG_URL") or None) as pg:
            meta["postgresql"] = pg.version()
            errors += bench_database("postgresql", pg.create_database(), args, rows, warnings)
    add_changes(rows)
    for row in rows:
        if row["otherCpuPercent"] > 100 * 0.2 / CPUS:
            warnings.append(
                f"{row['db']}, {row['size']:,} users, {row['workers']} worker(s): processes outside the benchmark"
                f" used up to {row['otherCpuPercent'] * CPUS / 100:.2f} CPU: figures are disturbed."
            )
    notes = [
        "users in tenant: seeded ACTIVE users in the one tenant the requests go to (plus the benchmark's own);"
        " W = tenantry serve --workers; x smallest: the figure ÷ the same figure at the smallest size (same W);"
        " x 1 worker: ÷ the same figure with 1 worker (same size).",
        f"Create User: {args.creates} POST /api/v1/users (no password) from {args.clients} keep-alive clients, every"
        f" answer 201; logins: complete hosted logins for {args.seconds:g} s from {args.clients} clients, argon2id"
        f" {PARAMS['tenantry'].short}, rate limits raised (TENANTRY_RATE_LIMITS='{json.dumps(RATE_LIMITS)}').",
        "server CPU ms: the server's process tree per created user / per complete login.",
        *warnings,
    ]
    report(
        "growth", "Create User and logins as the tenant grows, 1 and 2 workers", COLUMNS, rows, meta=meta, notes=notes
    )
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    if errors:
        console.print(f"[red]{errors} failed request(s)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
