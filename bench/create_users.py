"""Create User API vs direct repository writes: users created per second, on SQLite and PostgreSQL.

For each database (a fresh one per run):

* direct: in-process, one ``SqlUnitOfWork`` (one transaction) per user, exactly the write the
  API's use case ends with (``uow.users.add(user); uow.commit()``), from one thread, and again
  from ``--clients`` threads; then the whole use case in-process (``create_user``: validation,
  tenant and identity-provider reads, the write), one thread: the API's work without HTTP;
* API: a real ``tenantry serve --workers N`` subprocess (plain HTTP on 127.0.0.1) and
  ``--clients`` concurrent keep-alive clients POSTing ``/api/v1/users``; every answer must be 201.

No password is set on either side: hashing (argon2) would dominate both figures and is what the
login benchmark measures. The aim is an API rate of at least half the single-thread direct rate.

    .venv/bin/python bench/create_users.py [--users 2000] [--clients 8] [--workers 1,2]
                                           [--db sqlite,postgresql] [--wait-idle 600] [--profile]

PostgreSQL: the server named by TENANTRY_BENCH_PG_URL, else a throwaway one that
``scripts/pg-test.sh`` starts on port 54339 (and deletes afterwards). Exits 1 when any request
failed, 0 otherwise (missing the aim is reported, not an error).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    CPUS,
    RESULTS_DIR,
    Column,
    CpuMeter,
    LoadResult,
    PostgresServer,
    RequestSpec,
    Server,
    client_credentials_token,
    console,
    free_port,
    print_profile,
    profile_summary,
    report,
    run_init,
    run_load,
    tenantry_env,
    wait_idle,
)

from tenantry.bootstrap import Services, bootstrap
from tenantry.core.access import Principal
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.roles.model import Boundary, all_permissions
from tenantry.core.tenants.service import CreateTenant, create_tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.service import CreateUser, create_user
from tenantry.settings import Settings

AIM = 0.5
DIRECT_WARMUP = 20
BUSY_PERCENT = 15.0  # host CPU busy before a database's run: above this, warn
NOISE_CORES = 0.2  # CPU of processes outside the benchmark during a measurement: above this, warn
DATABASES = ("sqlite", "postgresql")
NO_PASSWORD_NOTE = (
    "No password is sent or stored on either side: argon2 hashing would dominate both figures "
    "and is measured by the login benchmark."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000, help="users per measurement (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients / direct threads (default 8)")
    parser.add_argument("--workers", default="1", help="comma-separated uvicorn worker counts (default 1)")
    parser.add_argument("--db", default=",".join(DATABASES), help="comma-separated: sqlite,postgresql")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on a shared machine: wait up to SECONDS for it to be idle before each database (default 0)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="record the server with py-spy during the API run (slows it)"
    )
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.db = [d.strip() for d in str(args.db).split(",") if d.strip()]
    unknown = set(args.db) - set(DATABASES)
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    if args.users < 1 or args.clients < 1 or not args.workers or min(args.workers) < 1:
        parser.error("--users, --clients and --workers must be positive")
    return args


def operator(application_id: str) -> Principal:
    return Principal(application_id, "bench", "operator", None, all_permissions(Boundary.APPLICATION))


def random_email() -> str:
    return f"bench-{secrets.token_hex(8)}@example.com"


# --------------------------------------------------------------------------- direct writes


@dataclass(frozen=True)
class Target:
    """Where the users go: an application, a tenant and its built-in identity provider."""

    application_id: str
    tenant_id: str
    provider_id: str
    provider_name: str
    provider_type: str


def prepare_target(services: Services, application_id: str) -> Target:
    tenant = create_tenant(
        services.core,
        operator(application_id),
        CreateTenant(domain_name=f"bench{secrets.token_hex(4)}", display_name="Benchmark tenant"),
    )
    with services.core.uow(application_id) as uow:
        provider = uow.identity_providers.get_by_name("wristband", tenant.id)
    if provider is None:
        raise RuntimeError("the application has no built-in 'wristband' identity provider")
    return Target(application_id, tenant.id, provider.id, provider.name, provider.type.value)


def write_user(services: Services, target: Target, i: int) -> None:
    """What ``create_user`` builds and writes, without its reads and validation."""
    now = services.core.clock.now()
    user = User(
        id=new_id(),
        application_id=target.application_id,
        tenant_id=target.tenant_id,
        identity_provider_id=target.provider_id,
        identity_provider_name=target.provider_name,
        identity_provider_type=target.provider_type,
        email=random_email(),
        email_verified=False,
        status=UserStatus.PROVISIONED,
        profile={"givenName": "Bench", "familyName": f"User{i}"},
        public_metadata={},
        restricted_metadata={},
        password_hash=None,
        metadata=EntityMetadata.new(now),
    )
    with services.core.uow(target.application_id, write=True) as uow:
        uow.users.add(user)
        uow.commit()


def direct_rate(services: Services, target: Target, users: int, threads: int) -> float:
    """Users per second written in ``threads`` threads, one transaction per user."""
    if threads == 1:
        started = time.perf_counter()
        for i in range(users):
            write_user(services, target, i)
        return users / (time.perf_counter() - started)
    lock = threading.Lock()
    next_index = iter(range(users))

    def work() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            write_user(services, target, i)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    return users / (time.perf_counter() - started)


def usecase_rate(services: Services, target: Target, users: int) -> float:
    """Users per second through the whole use case in-process (validation, tenant and identity
    provider reads, the write), one thread: the API's work without HTTP."""
    actor = operator(target.application_id)
    started = time.perf_counter()
    for i in range(users):
        create_user(
            services.core,
            actor,
            CreateUser(
                tenant_id=target.tenant_id,
                identity_provider_name="wristband",
                email=random_email(),
                profile={"givenName": "Bench", "familyName": f"User{i}"},
            ),
        )
    return users / (time.perf_counter() - started)


def count_users(services: Services, target: Target) -> int:
    from sqlalchemy import func, select

    from tenantry.adapters.sql import tables as t

    with services.database.transaction(write=False) as conn:
        query = select(func.count()).select_from(t.users).where(t.users.c.tenant_id == target.tenant_id)
        return int(conn.execute(query).scalar_one())


# --------------------------------------------------------------------------- API


def user_request(tenant_id: str) -> Any:
    def make(i: int) -> RequestSpec:
        body = {
            "tenantId": tenant_id,
            "identityProviderName": "wristband",
            "email": random_email(),
            "givenName": "Bench",
            "familyName": f"User{i}",
        }
        return RequestSpec("POST", "/api/v1/users", {"json": body})

    return make


@dataclass
class ApiRun:
    load: LoadResult
    warmup_errors: int
    peak_rss_mib: float
    cpu: CpuMeter
    profile: dict[str, Any] | None


def api_warmup(clients: int) -> int:
    return max(4 * clients, 40)


def api_run(
    server: Server,
    token: str,
    target: Target,
    args: argparse.Namespace,
    database_url: str | None,
    profile_to: Path | None,
) -> ApiRun:
    users, clients = args.users, args.clients
    make = user_request(target.tenant_id)

    def load(total: int) -> LoadResult:
        return run_load(
            server.base_url,
            make,
            total=total,
            concurrency=clients,
            expect_status=201,
            headers={"Authorization": f"Bearer {token}"},
            server=server,
        )

    # Warm-up: connections, caches (host → application, token → principal) in every worker.
    warmup = load(api_warmup(clients))
    for sample in warmup.samples:
        console.print(f"  [red]warm-up error[/red] {sample}")
    summary = None
    meter = cpu_meter(database_url, server=server.processes)
    with server.sample_rss() as rss:
        if profile_to is None:
            with meter:
                measured = load(users)
        else:
            with server.py_spy(profile_to) as recorded, meter:
                measured = load(users)
            if recorded is not None and recorded.exists():
                summary = profile_summary(recorded, tenantry_top=25)
    return ApiRun(measured, warmup.error_count, rss.peak_mib, meter, summary)


def cpu_meter(database_url: str | None, **groups: Any) -> CpuMeter:
    """A meter that also counts the PostgreSQL backends of the benchmark's database."""
    if database_url:
        groups["postgres"] = lambda: PostgresServer.backends(database_url)
    return CpuMeter(**groups)


# --------------------------------------------------------------------------- one database


@dataclass
class Direct:
    single: float
    threaded: float
    usecase: float
    other_cores: float


def direct_runs(services: Services, target: Target, args: argparse.Namespace, database_url: str | None) -> Direct:
    direct_rate(services, target, DIRECT_WARMUP, 1)
    with cpu_meter(database_url) as meter1:
        single = direct_rate(services, target, args.users, 1)
    console.print(f"  direct, 1 thread: {single:,.0f} users/s")
    with cpu_meter(database_url) as meter_c:
        threaded = direct_rate(services, target, args.users, args.clients)
    console.print(f"  direct, {args.clients} threads: {threaded:,.0f} users/s")
    with cpu_meter(database_url) as meter_u:
        usecase = usecase_rate(services, target, args.users)
    console.print(f"  use case in-process, 1 thread: {usecase:,.0f} users/s")
    return Direct(single, threaded, usecase, max(meter1.other_cores, meter_c.other_cores, meter_u.other_cores))


def bench_database(
    db: str, database_url: str | None, args: argparse.Namespace, rows: list[dict[str, Any]], notes: list[str]
) -> int:
    """Measure one database; append one row per worker count; return the number of errors."""
    errors = 0
    wait_idle(args.wait_idle, db, notes, busy_percent=BUSY_PERCENT, before="the run")
    with tempfile.TemporaryDirectory(prefix=f"tenantry-bench-{db}-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = tenantry_env(data_dir, database_url)
        console.print(f"[bold]{db}[/bold]: init application 127.0.0.1:{port}")
        app = run_init(env, f"127.0.0.1:{port}")
        services = bootstrap(Settings(data_dir=data_dir, database_url=database_url), migrate=False)
        try:
            target = prepare_target(services, app.application_id)
            direct = direct_runs(services, target, args, database_url)
            for workers in args.workers:
                before = count_users(services, target)
                with Server(env, port=port, workers=workers, log_path=data_dir / f"serve-w{workers}.log") as server:
                    token = client_credentials_token(server.base_url, app.client_id, app.client_secret)
                    profile_to = RESULTS_DIR / f"create_users-{db}-w{workers}.pyspy.txt" if args.profile else None
                    if profile_to is not None:
                        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                    run = api_run(server, token, target, args, database_url, profile_to)
                    log_tail = server.log_tail(30) if run.load.error_count or run.warmup_errors else ""
                created = count_users(services, target) - before
                row = api_row(db, workers, args, direct, run)
                errors += row["errors"]
                for sample in run.load.samples:
                    console.print(f"    [red]error[/red] {sample}")
                if any(status.startswith("5") for status in run.load.errors):
                    console.print(f"    [red]server error (5xx): a bug.[/red] server log tail:\n{log_tail}")
                expected = run.load.ok + api_warmup(args.clients) - run.warmup_errors
                if created != expected:
                    console.print(f"    [red]rows written: {created}, 201 answers: {expected}[/red]")
                    row["errors"] += abs(created - expected)
                    errors += abs(created - expected)
                noise = max(direct.other_cores, run.cpu.other_cores)
                if noise > NOISE_CORES:
                    warning = (
                        f"{db}, {workers} worker(s): processes outside the benchmark used {noise:.2f} CPU "
                        "during the measurements: figures are disturbed."
                    )
                    console.print(f"[yellow]warning:[/yellow] {warning}")
                    notes.append(warning)
                rows.append(row)
                if run.profile is not None:
                    print_profile(f"{db}, {workers} worker(s)", run.profile)
        finally:
            services.close()
    return errors


def api_row(db: str, workers: int, args: argparse.Namespace, direct: Direct, run: ApiRun) -> dict[str, Any]:
    load, cpu = run.load, run.cpu
    ok = max(load.ok, 1)
    row: dict[str, Any] = {
        "db": db,
        "workers": workers,
        "clients": args.clients,
        "users": args.users,
        "direct1": direct.single,
        "directC": direct.threaded,
        "usecase": direct.usecase,
        "api": load.rate,
        "ratio": load.rate / direct.single,
        "ratioC": load.rate / direct.threaded,
        "aim": "yes" if load.rate / direct.single >= AIM else "NO",
        "errors": load.error_count + run.warmup_errors,
        "errorsByStatus": dict(load.errors),
        "p50": load.percentile_ms(50),
        "p99": load.percentile_ms(99),
        "rssMiB": run.peak_rss_mib,
        "serverCpuMs": cpu.group_seconds.get("server", 0.0) * 1000 / ok,
        "clientCpuMs": cpu.self_seconds * 1000 / max(load.requests, 1),
        "postgresCpuMs": cpu.group_seconds["postgres"] * 1000 / ok if "postgres" in cpu.group_seconds else None,
        "hostCpuPercent": 100 * cpu.host_cores / CPUS,
        # uvicorn's supervisor and resource tracker use ~0: the top ``workers`` are the workers.
        "workerSplit": "/".join(f"{100 * share:.0f}" for share in cpu.shares("server", workers)),
        "otherCpuPercent": 100 * max(direct.other_cores, cpu.other_cores) / CPUS,
        "profiled": args.profile,
        "profile": run.profile,
    }
    console.print(
        f"  API, {workers} worker(s), {args.clients} clients: {load.rate:,.0f} users/s"
        f" (p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms), {row['errors']} error(s);"
        f" CPU ms/user: server {row['serverCpuMs']:.2f}, client {row['clientCpuMs']:.2f}"
        + (f", postgres {row['postgresCpuMs']:.2f}" if row["postgresCpuMs"] is not None else "")
        + f"; host {row['hostCpuPercent']:.0f}% busy"
        + (f"; worker CPU split % {row['workerSplit']}" if workers > 1 else "")
    )
    return row


COLUMNS = [
    Column("db", "database"),
    Column("workers", "workers"),
    Column("clients", "clients"),
    Column("direct1", "direct/s 1 thread", "{:,.0f}"),
    Column("directC", "direct/s C threads", "{:,.0f}"),
    Column("usecase", "use case/s 1 thread", "{:,.0f}"),
    Column("api", "API/s", "{:,.0f}"),
    Column("ratio", "API/direct", "{:.2f}"),
    Column("aim", "≥ 0.5"),
    Column("errors", "errors"),
    Column("p50", "p50 ms", "{:.1f}"),
    Column("p99", "p99 ms", "{:.1f}"),
    Column("serverCpuMs", "server CPU ms/user", "{:.2f}"),
    Column("clientCpuMs", "client CPU ms/req", "{:.2f}"),
    Column("postgresCpuMs", "PG CPU ms/user", "{:.2f}"),
    Column("workerSplit", "worker CPU split %"),
    Column("hostCpuPercent", "host CPU %", "{:.0f}"),
    Column("otherCpuPercent", "other CPU %", "{:.0f}"),
    Column("rssMiB", "server peak RSS MiB", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    errors = 0
    meta: dict[str, Any] = {"users": args.users, "clients": args.clients, "workers": args.workers}
    if "sqlite" in args.db:
        errors += bench_database("sqlite", None, args, rows, warnings)
    if "postgresql" in args.db:
        with PostgresServer(os.environ.get("TENANTRY_BENCH_PG_URL") or None) as pg:
            meta["postgresql"] = pg.version()
            errors += bench_database("postgresql", pg.create_database(), args, rows, warnings)
    notes = [
        f"{args.users} users per measurement; C = {args.clients} concurrent API clients / direct threads; "
        "ratio = API users/s ÷ direct users/s (1 thread, one transaction per user); aim ≥ 0.5.",
        NO_PASSWORD_NOTE,
        "CPU ms/user: CPU time of the server's process tree / of the load generator (lean asyncio HTTP/1.1 "
        "client, this process) / of the PostgreSQL backends, per user created. host CPU %: whole machine "
        f"during the API run ({CPUS} CPUs = 100%); other CPU %: processes outside the benchmark (noise).",
        *warnings,
    ]
    if args.profile:
        notes.append("Profiled with py-spy during the API runs: the API rates are lower than without it.")
    report("create_users", "Create User API vs direct writes", COLUMNS, rows, meta=meta, notes=notes)
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    if errors:
        console.print(f"[red]{errors} failed request(s)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
