"""Complete password logins per second through the hosted login, next to bare argon2id
verifications per second at the same parameters: how much the server adds to the hash.

A complete login is what a browser and the application's backend do, over plain HTTP on
127.0.0.1 with the Host header of the tenant (``{tenant}-127.0.0.1:PORT``) or of the vanity
domain (``127.0.0.1:PORT``):

1. ``GET /api/v1/oauth2/authorize?…`` (PKCE S256, state, nonce; a BACKEND_SERVER client) → 302
   to ``/login?req=…``;
2. ``GET /login?req=…`` → 200, the form's ``csrf_token`` and the ``tenantry_csrf`` cookie;
3. ``POST /login`` (``csrf_token``, ``req``, ``identifier``, ``password``, the cookie sent back) →
   302 to the redirect URI with ``code`` and the same ``state``;
4. ``POST /api/v1/oauth2/token`` (authorization_code, HTTP Basic, ``code_verifier``,
   ``redirect_uri``) → 200 with an access, an ID (whose ``nonce`` is checked) and a refresh token.

Each login is a new browser (no cookies carried over, so no session short-cuts step 1), and each
of the ``--clients`` concurrent clients signs in as its own user. The per-IP and per-identifier
login rate limits are raised for the run (``TENANTRY_RATE_LIMITS``): every request comes from
127.0.0.1 and one user signs in several times a second.

Bare argon2id: ``argon2.PasswordHasher(...).verify`` in one process per CPU for the same wall
time, right before the logins: the most verifications this machine can do, so
``ratio = logins/s ÷ verifies/s`` is the share of the hash's throughput that the server keeps (the
aim is ≥ 0.9: the server adds at most a tenth to the hash).

Run at Keycloak's defaults (argon2id m=7168 KiB, t=5, p=1) and Tenantry's (m=19456 KiB, t=2,
p=1), with ``tenantry serve --workers N`` for each N of ``--workers``.

The peer, in the same run: a FastAPI + fastapi-users app (``bench/peers/fastapi_users``, in its own
virtualenv made by its ``setup.sh``) at the same argon2id parameters and worker count, on SQLite:
its ``POST /auth/jwt/login`` (form → JWT) by the same load generator right after Tenantry's run,
one user per client. The row gets its logins/s, its ratio to the bare verifies, Tenantry ÷
fastapi-users and its peak RSS. ``--no-peer`` leaves it out.

    .venv/bin/python bench/login.py [--seconds 12] [--clients 8] [--workers 1,2]
                                    [--params keycloak,tenantry] [--sequential 100] [--wait-idle 600]
                                    [--profile] [--no-peer]

After each loaded run, ``--sequential N`` logins go through the server one request at a time, step
by step (N authorize requests, then N login pages, ...), for the server's CPU per step without any
contention: where the time besides the hash goes. ``--profile`` adds one run per parameter set
(with the first worker count) recorded with py-spy (threads holding the GIL: the server's Python
work besides the hash) and prints its hottest frames; the profiled run's rate is not reported.
Exits 1 when any login failed.

The lean HTTP/1.1 client, the closed-loop load generator and the bare argon2id measurement are in
``common.py``, shared with the token and signup benchmarks.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import fastapi_users_peer
import httpx
from common import (
    CPUS,
    PARAMS,
    RESULTS_DIR,
    Argon2Params,
    BareRate,
    Column,
    Connection,
    CpuMeter,
    HttpError,
    PeakRss,
    Server,
    Step,
    Tally,
    balance,
    bare_argon2,
    basic_auth,
    client_credentials_token,
    closed_loop,
    console,
    free_port,
    jwt_part,
    print_profile,
    profile_summary,
    report,
    run_async,
    run_init,
    tenantry_env,
    verify_rs256,
    wait_idle,
)

AIM = 0.9
NOISE_CORES = 0.2  # CPU used by processes outside the benchmark during a measurement: above this, warn
REDIRECT_URI = "https://app.test/callback"
SCOPE = "openid offline_access email profile"
RATE_LIMITS = {"login_identifier": "100000/minute", "login_ip": "100000/minute"}


# --------------------------------------------------------------------------- the login world


@dataclass(frozen=True)
class LoginWorld:
    """A tenant with one active password user per client, and a BACKEND_SERVER client."""

    port: int
    vanity: str
    tenant_host: str
    client_id: str
    client_secret: str
    users: list[tuple[str, str]]

    def jwks(self) -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/oauth2/jwks", timeout=30)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys


def make_world(
    server: Server, client_id: str, client_secret: str, users: int, tenant: tuple[str, str] | None = None
) -> LoginWorld:
    """A new tenant (or ``tenant``: its id and domain name), ``users`` ACTIVE users with passwords
    in it through the API, and a BACKEND_SERVER client."""
    token = client_credentials_token(server.base_url, client_id, client_secret)
    with httpx.Client(base_url=f"{server.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = api.post(path, json=body, timeout=60)
            if response.status_code != 201:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            created: dict[str, Any] = response.json()
            return created

        if tenant is None:
            domain = f"bench{secrets.token_hex(4)}"
            tenant_id = post("/tenants", {"domainName": domain, "displayName": "Login benchmark"})["id"]
        else:
            tenant_id, domain = tenant
        accounts = []
        for i in range(users):
            email, password = f"login-{i}-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
            body = {
                "tenantId": tenant_id,
                "identityProviderName": "wristband",
                "email": email,
                "emailVerified": True,
                "status": "ACTIVE",
                "password": password,
                "givenName": "Bench",
            }
            post("/users", body)
            accounts.append((email, password))
        client = post("/clients", {"name": f"web-{domain}", "type": "BACKEND_SERVER", "redirectUris": [REDIRECT_URI]})
    return LoginWorld(
        server.port, server.domain, f"{domain}-{server.domain}", client["id"], client["clientSecret"], accounts
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    id_token: str
    refresh_token: str


@dataclass
class Attempt:
    """One sign-in as it goes through the four steps."""

    user: int
    verifier: str
    challenge: str
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    location: str = ""
    csrf: str = ""
    cookie: str = ""
    code: str = ""

    @classmethod
    def new(cls, user: int) -> Attempt:
        return cls(user, *pkce_pair())


def _tenant_headers(world: LoginWorld) -> list[tuple[str, str]]:
    return [("Host", world.tenant_host), ("User-Agent", "tenantry-bench")]


async def step_authorize(world: LoginWorld, browser: Connection, attempt: Attempt) -> None:
    """1. ``GET /api/v1/oauth2/authorize`` → 302 to ``/login?req=…``."""
    query = {
        "client_id": world.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": attempt.state,
        "nonce": attempt.nonce,
        "code_challenge": attempt.challenge,
        "code_challenge_method": "S256",
    }
    reply = await browser.request("GET", "/api/v1/oauth2/authorize?" + urlencode(query), _tenant_headers(world))
    attempt.location = reply.header("location") or ""
    if reply.status != 302 or not attempt.location.startswith("/login?req="):
        raise HttpError(f"authorize {reply.status}", reply.describe())


async def step_page(world: LoginWorld, browser: Connection, attempt: Attempt) -> None:
    """2. ``GET /login?req=…`` → the form's CSRF token and cookie."""
    reply = await browser.request("GET", attempt.location, _tenant_headers(world))
    csrf = CSRF_FIELD.search(reply.body)
    cookie = reply.cookies().get("tenantry_csrf")
    if reply.status != 200 or csrf is None or not cookie:
        raise HttpError(f"login page {reply.status}", reply.describe())
    attempt.csrf, attempt.cookie = csrf.group(1).decode(), cookie


async def step_submit(world: LoginWorld, browser: Connection, attempt: Attempt) -> None:
    """3. ``POST /login`` → 302 to the redirect URI with the code and our state."""
    email, password = world.users[attempt.user]
    req = parse_qs(urlsplit(attempt.location).query)["req"][0]
    fields = {"csrf_token": attempt.csrf, "req": req, "identifier": email, "password": password}
    reply = await browser.request(
        "POST",
        "/login",
        [*_tenant_headers(world), ("Content-Type", FORM), ("Cookie", f"tenantry_csrf={attempt.cookie}")],
        urlencode(fields).encode(),
    )
    callback = reply.header("location") or ""
    if reply.status != 302 or not callback.startswith(REDIRECT_URI):
        raise HttpError(f"login submit {reply.status}", reply.describe())
    answer = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    if answer.get("state") != attempt.state or "code" not in answer:
        raise HttpError("callback", callback[:300])
    attempt.code = answer["code"]


async def step_token(world: LoginWorld, backend: Connection, attempt: Attempt) -> LoginResult:
    """4. ``POST /api/v1/oauth2/token`` (the application's backend) → the tokens."""
    exchange = {
        "grant_type": "authorization_code",
        "code": attempt.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": attempt.verifier,
    }
    reply = await backend.request(
        "POST",
        "/api/v1/oauth2/token",
        [
            ("Host", world.vanity),
            ("Authorization", basic_auth(world.client_id, world.client_secret)),
            ("Content-Type", FORM),
        ],
        urlencode(exchange).encode(),
    )
    if reply.status != 200:
        raise HttpError(f"token {reply.status}", reply.describe())
    doc = reply.json()
    if jwt_part(doc["id_token"], 1).get("nonce") != attempt.nonce:
        raise HttpError("id_token nonce", "the ID token's nonce is not the request's")
    return LoginResult(doc["access_token"], doc["id_token"], doc["refresh_token"])


async def login(world: LoginWorld, browser: Connection, backend: Connection, user: int, tally: Tally) -> LoginResult:
    """One complete login (the four requests); raises ``HttpError`` on anything unexpected."""
    attempt = Attempt.new(user)
    t0 = time.perf_counter()
    await step_authorize(world, browser, attempt)
    t1 = time.perf_counter()
    await step_page(world, browser, attempt)
    t2 = time.perf_counter()
    await step_submit(world, browser, attempt)
    t3 = time.perf_counter()
    result = await step_token(world, backend, attempt)
    t4 = time.perf_counter()
    for name, seconds in (("authorize", t1 - t0), ("page", t2 - t1), ("submit", t3 - t2), ("token", t4 - t3)):
        tally.step(name, seconds)
    return result


def step_cpu(server: Server, world: LoginWorld, logins: int) -> dict[str, float]:
    """The server's CPU ms per step of a login, one request at a time: ``logins`` sign-ins go
    through step 1 one after the other, then all through step 2, and so on, and each step's CPU
    is the server's (whole process tree) over its batch. Unlike the loaded run, nothing else
    runs in the server meanwhile, so each step's own cost shows."""

    async def go() -> dict[str, float]:
        attempts = [Attempt.new(i % len(world.users)) for i in range(logins)]
        cpu: dict[str, float] = {}
        async with Connection("127.0.0.1", world.port) as browser, Connection("127.0.0.1", world.port) as backend:
            for name, run in (
                ("authorize", lambda a: step_authorize(world, browser, a)),
                ("page", lambda a: step_page(world, browser, a)),
                ("submit", lambda a: step_submit(world, browser, a)),
                ("token", lambda a: step_token(world, backend, a)),
            ):
                before = server.cpu_seconds()
                for attempt in attempts:
                    await run(attempt)
                cpu[name] = 1000 * (server.cpu_seconds() - before) / logins
        return cpu

    found: dict[str, float] = run_async(go())
    return found


def login_steps(world: LoginWorld, connections: list[tuple[Connection, Connection]]) -> list[Step]:
    def make(user: int, browser: Connection, backend: Connection) -> Step:
        async def step(tally: Tally) -> bool:
            result = await login(world, browser, backend, user, tally)
            tally.keep_token(result.id_token)
            tally.keep_token(result.access_token)
            return True

        return step

    return [make(i, b, k) for i, (b, k) in enumerate(connections)]


def run_logins(world: LoginWorld, seconds: float, server: Server | None = None) -> Tally:
    """Logins from one client per user for ``seconds``; with ``server``, the connections are
    first spread evenly over its workers (``balance``)."""

    async def go() -> Tally:
        connections = [(Connection("127.0.0.1", world.port), Connection("127.0.0.1", world.port)) for _ in world.users]
        try:
            if server is not None:
                await balance([c for pair in connections for c in pair], server.processes, server.workers)
            return await closed_loop(login_steps(world, connections), seconds)
        finally:
            for browser, backend in connections:
                browser.close()
                backend.close()

    tally: Tally = run_async(go())
    return tally


# --------------------------------------------------------------------------- the fastapi-users peer


@dataclass
class PeerRun:
    """fastapi-users' ``POST /auth/jwt/login`` under the same load."""

    tally: Tally
    meter: CpuMeter
    peak_mib: float
    warm_errors: int
    log_tail: str


def run_peer_logins(peer: fastapi_users_peer.PeerServer, accounts: Sequence[tuple[str, str]], seconds: float) -> Tally:
    """One client per account, each logging in again and again (a form POST answered with a JWT),
    its connections first spread evenly over the peer's workers."""
    host = f"127.0.0.1:{peer.port}"

    def make(email: str, password: str, connection: Connection) -> Step:
        raw = fastapi_users_peer.login_request(host, email, password)

        async def step(tally: Tally) -> bool:
            fastapi_users_peer.check_login(await connection.send(raw))
            return True

        return step

    async def go() -> Tally:
        connections = [Connection("127.0.0.1", peer.port) for _ in accounts]
        try:
            await balance(connections, peer.processes, peer.workers)
            return await closed_loop([make(e, p, c) for (e, p), c in zip(accounts, connections, strict=True)], seconds)
        finally:
            for connection in connections:
                connection.close()

    tally: Tally = run_async(go())
    return tally


def measure_peer(params: Argon2Params, workers: int, clients: int, seconds: float, data_dir: Path) -> PeerRun:
    """The peer at the same argon2id parameters and worker count, on SQLite like Tenantry here."""
    with fastapi_users_peer.PeerServer(
        params=params,
        database_url=fastapi_users_peer.async_url(None, data_dir / f"fastapi-users-w{workers}"),
        workers=workers,
        log_path=data_dir / f"fastapi-users-w{workers}.log",
    ) as peer:
        accounts = peer.register_users(clients)
        warm = run_peer_logins(peer, accounts, 1.0)
        meter = CpuMeter(server=peer.processes)
        with PeakRss(peer.processes) as rss, meter:
            tally = run_peer_logins(peer, accounts, seconds)
        log_tail = peer.log_tail() if tally.error_count or warm.error_count else ""
    tally.samples.extend(warm.samples)
    return PeerRun(tally, meter, rss.peak_mib, warm.error_count, log_tail)


def peer_fields(row: dict[str, Any], run: PeerRun, bare: BareRate, workers: int) -> None:
    """Add the peer's figures to a row and print them."""
    tally, ok = run.tally, max(run.tally.ok, 1)
    server_ms = run.meter.group_seconds.get("server", 0.0) * 1000 / ok
    row.update(
        {
            "peerLoginsPerSecond": tally.rate,
            "peerRatio": tally.rate / bare.rate if bare.rate else 0.0,
            "vsPeer": row["loginsPerSecond"] / tally.rate if tally.rate else None,
            "peerErrors": tally.error_count + run.warm_errors,
            "peerErrorsByKind": dict(tally.errors),
            "peerP50": tally.percentile_ms(50),
            "peerP99": tally.percentile_ms(99),
            "peerServerCpuMs": server_ms,
            "peerHashShare": bare.cpu_ms / server_ms if server_ms > 0 else 0.0,
            "peerRssMiB": run.peak_mib,
            "peerOtherCpuPercent": 100 * run.meter.other_cores / CPUS,
            "peerWorkerCpuSplit": "/".join(f"{100 * s:.0f}" for s in run.meter.shares("server", workers)),
        }
    )
    vs = f"{row['vsPeer']:.2f}" if row["vsPeer"] is not None else "-"
    console.print(
        f"  fastapi-users POST /auth/jwt/login, {workers} worker(s): {tally.rate:,.1f} logins/s"
        f" = {row['peerRatio']:.2f} of bare (p50 {row['peerP50']:.0f} ms, p99 {row['peerP99']:.0f} ms);"
        f" {row['peerErrors']} error(s); server CPU ms/login {server_ms:.1f}; peak RSS {run.peak_mib:.0f} MiB"
        + (f" (worker CPU split % {row['peerWorkerCpuSplit']})" if workers > 1 else "")
        + f"; Tenantry ÷ fastapi-users = {vs}"
    )
    for sample in tally.samples:
        console.print(f"    [red]fastapi-users error[/red] {sample}")
    if run.log_tail:
        console.print(f"    fastapi-users log tail:\n{run.log_tail}")


# --------------------------------------------------------------------------- one parameter set


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds per measurement (default 12)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent browser+backend clients (default 8)")
    parser.add_argument("--workers", default="1,2", help="comma-separated tenantry serve --workers (default 1,2)")
    parser.add_argument(
        "--params",
        default="keycloak,tenantry",
        help="argon2 parameter sets: keycloak,tenantry; floor (the smallest hash) is a diagnostic",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on a shared machine: wait up to SECONDS for it to be idle before each measurement (default 0)",
    )
    parser.add_argument(
        "--sequential",
        type=int,
        default=100,
        metavar="N",
        help="also measure the server's CPU per step with N logins one at a time (default 100; 0: skip)",
    )
    parser.add_argument("--profile", action="store_true", help="one more run per parameter set under py-spy")
    parser.add_argument(
        "--no-peer", dest="peer", action="store_false", help="skip the fastapi-users peer (bench/peers/fastapi_users)"
    )
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.params = [p.strip() for p in str(args.params).split(",") if p.strip()]
    unknown = set(args.params) - set(PARAMS)
    if unknown:
        parser.error(f"unknown parameter set(s): {', '.join(sorted(unknown))} (known: {', '.join(PARAMS)})")
    if args.seconds <= 0 or args.clients < 1 or not args.workers or min(args.workers) < 1:
        parser.error("--seconds, --clients and --workers must be positive")
    return args


def warm_up(world: LoginWorld, server: Server) -> Tally:
    """One login per client plus a second of load: connections, caches and the threadpool."""
    return run_logins(world, 1.0, server)


def measure(server: Server, world: LoginWorld, seconds: float) -> tuple[Tally, CpuMeter, PeakRss]:
    meter = CpuMeter(server=server.processes)
    with server.sample_rss() as rss, meter:
        tally = run_logins(world, seconds, server)
    return tally, meter, rss


def profile_run(server: Server, world: LoginWorld, seconds: float, name: str) -> dict[str, Any] | None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"login-{name}.pyspy.txt"
    # Every running thread, not only the GIL holder: most of a login's work runs in worker
    # threads (the page, POST /login, the token grant), which --gil sampling undercounts.
    with server.py_spy(path, gil=False) as recorded:
        run_logins(world, seconds, server)
    if recorded is None or not recorded.exists():
        return None
    return profile_summary(recorded)


def bench_params(params: Argon2Params, args: argparse.Namespace, rows: list[dict[str, Any]], notes: list[str]) -> int:
    """Measure one parameter set at each worker count; return the number of failed logins."""
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tenantry-bench-login-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = tenantry_env(
            data_dir,
            None,
            argon2_memory_kib=str(params.memory_kib),
            argon2_time_cost=str(params.time_cost),
            argon2_parallelism=str(params.parallelism),
            rate_limits=json.dumps(RATE_LIMITS),
        )
        console.print(f"[bold]{params.label}[/bold]: init application 127.0.0.1:{port}")
        app = run_init(env, f"127.0.0.1:{port}")
        world: LoginWorld | None = None
        for workers in args.workers:
            with Server(env, port=port, workers=workers, log_path=data_dir / f"serve-w{workers}.log") as server:
                if world is None:
                    world = make_world(server, app.client_id, app.client_secret, args.clients)
                warm = warm_up(world, server)
                wait_idle(args.wait_idle, f"{params.name}, {workers} worker(s)", notes)
                bare = bare_argon2(params, args.seconds)
                console.print(
                    f"  bare argon2id, {bare.processes} processes: {bare.rate:,.1f} verifies/s"
                    f" ({bare.cpu_ms:.1f} ms CPU each)"
                )
                tally, meter, rss = measure(server, world, args.seconds)
                good, problems = verify_rs256(tally.tokens, world.jwks())
                steps = step_cpu(server, world, args.sequential) if args.sequential else {}
                log_tail = server.log_tail(30) if tally.error_count or warm.error_count else ""
                profile = None
                if args.profile and workers == args.workers[0]:
                    profile = profile_run(server, world, args.seconds, f"{params.name}-w{workers}")
            row = make_row(params, workers, args.clients, bare, tally, meter, rss, warm, good, problems)
            if args.peer:
                peer = measure_peer(params, workers, args.clients, args.seconds, data_dir)
                peer_fields(row, peer, bare, workers)
                failures += row["peerErrors"]
                if peer.meter.other_cores > NOISE_CORES:
                    warning = (
                        f"{params.name}, {workers} worker(s), fastapi-users: processes outside the benchmark used "
                        f"{peer.meter.other_cores:.2f} CPU during the measurement: figures are disturbed."
                    )
                    console.print(f"[yellow]warning:[/yellow] {warning}")
                    notes.append(warning)
            if steps:
                row["sequentialCpuMs"] = steps
                row["sequentialTotalMs"] = sum(steps.values())
                row["sequentialOverheadMs"] = row["sequentialTotalMs"] - bare.cpu_ms
                console.print(
                    f"  one login at a time ({args.sequential} logins), server CPU ms per step: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
                    + f"; total {row['sequentialTotalMs']:.1f}"
                    + f" = hash {bare.cpu_ms:.1f} + {row['sequentialOverheadMs']:.1f}"
                )
            row["profile"] = profile
            rows.append(row)
            failures += row["errors"]
            for sample in [*warm.samples, *tally.samples, *problems[:5]]:
                console.print(f"    [red]error[/red] {sample}")
            if log_tail:
                console.print(f"    server log tail:\n{log_tail}")
            if meter.other_cores > NOISE_CORES:
                warning = (
                    f"{params.name}, {workers} worker(s): processes outside the benchmark used "
                    f"{meter.other_cores:.2f} CPU during the measurement: figures are disturbed."
                )
                console.print(f"[yellow]warning:[/yellow] {warning}")
                notes.append(warning)
            if profile is not None:
                print_profile(f"{params.name}, {workers} worker(s)", profile)
    return failures


def make_row(
    params: Argon2Params,
    workers: int,
    clients: int,
    bare: BareRate,
    tally: Tally,
    meter: CpuMeter,
    rss: PeakRss,
    warm: Tally,
    good_tokens: int,
    problems: list[str],
) -> dict[str, Any]:
    ok = max(tally.ok, 1)
    server_ms = meter.group_seconds.get("server", 0.0) * 1000 / ok
    ratio = tally.rate / bare.rate if bare.rate else 0.0
    row: dict[str, Any] = {
        "params": params.name,
        "argon2": f"m={params.memory_kib} t={params.time_cost} p={params.parallelism}",
        "workers": workers,
        "clients": clients,
        "logins": tally.ok,
        "loginsPerSecond": tally.rate,
        "verifiesPerSecond": bare.rate,
        "bareProcesses": bare.processes,
        "ratio": ratio,
        "aim": "yes" if ratio >= AIM else "NO",
        "errors": tally.error_count + warm.error_count + len(problems),
        "errorsByKind": dict(tally.errors + warm.errors),
        "p50": tally.percentile_ms(50),
        "p99": tally.percentile_ms(99),
        "stepsP50": {name: tally.percentile_ms(50, values) for name, values in tally.steps.items()},
        "submitP50": tally.percentile_ms(50, tally.steps.get("submit", [])),
        "hashCpuMs": bare.cpu_ms,
        "serverCpuMs": server_ms,
        "overheadCpuMs": server_ms - bare.cpu_ms,
        "hashShare": bare.cpu_ms / server_ms if server_ms > 0 else 0.0,
        "clientCpuMs": 1000 * tally.client_cpu_seconds / ok,
        "hostCpuPercent": 100 * meter.host_cores / CPUS,
        "otherCpuPercent": 100 * meter.other_cores / CPUS,
        "rssMiB": rss.peak_mib,
        "rssProcessMiB": rss.peak_process_mib,
        "tokensVerified": good_tokens,
        "workerCpuSplit": "/".join(f"{100 * share:.0f}" for share in meter.shares("server", workers)),
    }
    steps = ", ".join(f"{k} {v:.1f}" for k, v in row["stepsP50"].items())
    console.print(
        f"  logins, {workers} worker(s), {clients} clients: {tally.rate:,.1f} logins/s = {ratio:.2f} of bare"
        f" (p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms; step p50 ms: {steps}); {row['errors']} error(s);"
        f" CPU ms/login: server {server_ms:.1f} (hash {bare.cpu_ms:.1f}), client {row['clientCpuMs']:.1f};"
        f" host {row['hostCpuPercent']:.0f}% busy"
        + (f" (worker CPU split % {row['workerCpuSplit']})" if workers > 1 else "")
        + f"; peak RSS {rss.peak_mib:.0f} MiB (largest process {rss.peak_process_mib:.0f});"
        + f" {good_tokens} RS256 tokens verified"
    )
    return row


COLUMNS = [
    Column("argon2", "argon2id"),
    Column("workers", "W"),
    Column("clients", "clients"),
    Column("loginsPerSecond", "logins/s", "{:,.1f}"),
    Column("verifiesPerSecond", "verifies/s", "{:,.1f}"),
    Column("ratio", "ratio", "{:.2f}"),
    Column("aim", "≥ 0.9"),
    Column("errors", "errors"),
    Column("p50", "p50 ms", "{:.0f}"),
    Column("p99", "p99 ms", "{:.0f}"),
    Column("submitP50", "POST /login p50 ms", "{:.0f}"),
    Column("hashCpuMs", "hash CPU ms", "{:.1f}"),
    Column("serverCpuMs", "server CPU ms/login", "{:.1f}"),
    Column("hashShare", "hash ÷ server CPU", "{:.2f}"),
    Column("sequentialTotalMs", "server CPU ms/login, 1 at a time", "{:.1f}"),
    Column("clientCpuMs", "client CPU ms/login", "{:.1f}"),
    Column("hostCpuPercent", "host CPU %", "{:.0f}"),
    Column("otherCpuPercent", "other CPU %", "{:.0f}"),
    Column("rssMiB", "server peak RSS MiB", "{:.0f}"),
    Column("rssProcessMiB", "largest process MiB", "{:.0f}"),
    Column("peerLoginsPerSecond", "fastapi-users logins/s", "{:,.1f}"),
    Column("peerRatio", "fastapi-users ÷ verifies", "{:.2f}"),
    Column("vsPeer", "Tenantry ÷ fastapi-users", "{:.2f}"),
    Column("peerErrors", "fastapi-users errors"),
    Column("peerP50", "fastapi-users p50 ms", "{:.0f}"),
    Column("peerServerCpuMs", "fastapi-users CPU ms/login", "{:.1f}"),
    Column("peerRssMiB", "fastapi-users peak RSS MiB", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    meta: dict[str, Any] = {"seconds": args.seconds, "clients": args.clients, "workers": args.workers}
    meta["rateLimits"] = RATE_LIMITS
    if args.peer:
        meta["fastapiUsers"] = fastapi_users_peer.ensure_installed()
    failures = sum(bench_params(PARAMS[name], args, rows, warnings) for name in args.params)
    notes = [
        "W = tenantry serve --workers; verifies/s = bare argon2id verifications per second in one process per CPU;"
        " ratio = logins/s ÷ verifies/s (aim ≥ 0.9); p50/p99 = latency of a complete login.",
        f"{args.seconds:g} s per measurement; {args.clients} concurrent clients, one user each; a login = authorize"
        " → GET /login → POST /login → POST /oauth2/token (authorization_code + PKCE), checked end to end.",
        f"bare verifies/s: argon2-cffi PasswordHasher.verify in {CPUS} processes (one per CPU) for the same wall"
        f" time, right before the logins. Aim: logins/s ÷ verifies/s ≥ {AIM}.",
        f"Rate limits raised for the run: TENANTRY_RATE_LIMITS='{json.dumps(RATE_LIMITS)}' (all requests come"
        " from 127.0.0.1; each user signs in several times a second).",
        "hash CPU ms: CPU per bare verification; server CPU ms/login: the server's process tree per login (the hash"
        " included); hash ÷ server CPU: the same ratio in CPU time, which other load on the machine disturbs much less"
        " than the rates; 1 at a time: the same with one request in the server at a time (--sequential), without"
        " contention; client CPU: this load generator. host CPU %: the whole machine; other CPU %: processes"
        " outside the benchmark (noise).",
        *(
            [
                f"fastapi-users {meta['fastapiUsers']} (bench/peers/fastapi_users, its own virtualenv): POST"
                " /auth/jwt/login (form username/password → JWT bearer token, HS256) by the same load generator, one"
                " user per client, on the same number of uvicorn workers and SQLite (aiosqlite), its hasher pwdlib's"
                " Argon2Hasher at the row's parameters; measured right after Tenantry, with Tenantry stopped."
                " Tenantry ÷ fastapi-users compares complete logins (4 requests, 2 RS256 signatures) with one form"
                " POST. fastapi-users CPU ms/login: its process tree per login.",
            ]
            if args.peer
            else []
        ),
        *warnings,
    ]
    report("login", "Complete password logins vs bare argon2id verifications", COLUMNS, rows, meta=meta, notes=notes)
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    if failures:
        console.print(f"[red]{failures} failed login(s) or token check(s)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
