"""Tokens per second from Tenantry next to oidc-provider (npm, OpenID Certified), on the same cores:
the client-credentials grant, then the refresh-token grant, both issuing RS256 JWT access tokens.

Both servers run side by side in one run, over plain HTTP on 127.0.0.1, each loaded in turn by the
same load generator: ``--clients`` concurrent keep-alive connections (this process; asyncio, a
lean HTTP/1.1 client), each sending its next request as soon as the previous answer is in, every
request with HTTP Basic client authentication.

* client_credentials: Tenantry's M2M client from ``tenantry init`` (``POST /api/v1/oauth2/token``);
  oidc-provider's ``bench-cc`` client (``POST /token``), whose tokens are JWTs because
  ``resourceIndicators`` gives it a default resource with ``accessTokenFormat: 'jwt'``.
* refresh_token: each client first signs in once (Tenantry: the hosted login with PKCE, see
  ``login.py``; oidc-provider: its dev interaction pages), then refreshes again and again with the
  newest refresh token. Both rotate the refresh token on every use and answer with a new access
  token and a new ID token (two RS256 signatures). Tenantry keeps its tokens in SQLite (the
  default database), oidc-provider in memory.

``--workers W`` (each of the list): W Tenantry workers (``tenantry serve --workers W``) and W
oidc-provider processes (node:cluster; Node runs JavaScript on one thread). When W is less than
the machine's CPUs, both servers (every thread of every process) are pinned to CPUs 0..W-1 and the
load generator to the others, so the servers are compared on the same W cores and the load
generator does not take from them; with W = the CPU count nothing is pinned (the load generator
then shares the cores). The defaults, ``--workers 1,2`` on 2 CPUs, give a one-core comparison
(``taskset -c 0`` alike) and a two-core one. With W > 1 the clients' connections are first spread
evenly over each server's processes (``login.balance``): uvicorn's workers share one listening
socket and one of them may otherwise accept every keep-alive connection.

A sample of each run's access tokens (and ID tokens) is checked to be RS256 JWTs that the server's
JWKS verifies. The aim: Tenantry ahead of oidc-provider (ratio ≥ 1).

    .venv/bin/python bench/tokens.py [--seconds 10] [--clients 16] [--workers 1,2]
                                     [--grants client_credentials,refresh_token] [--wait-idle 600] [--floor]
                                     [--profile]

``--floor`` adds, for client_credentials, the same load on a bare token endpoint in Python on the same
uvicorn: plain ASGI code, and a FastAPI app with that one route (see ``floor_app``): how far Tenantry
is from what its stack allows, as opposed to what the language or server allow.

The first run installs the peer's npm package (``npm install`` in ``bench/peers/oidc_provider``)
when its ``node_modules`` is missing. ``--profile`` adds, per grant and worker count, a run of
Tenantry under py-spy (threads holding the GIL) and prints its hottest frames; that run's rate is
not reported. Exits 1 when any request failed or a token did not verify.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import psutil
from common import (
    CPUS,
    RESULTS_DIR,
    ROOT,
    Column,
    Connection,
    CpuMeter,
    HttpError,
    PeakRss,
    Server,
    Step,
    Tally,
    balance,
    basic_auth,
    closed_loop,
    console,
    free_port,
    print_profile,
    process_tree,
    profile_summary,
    report,
    run_async,
    run_init,
    tenantry_env,
    verify_rs256,
    wait_idle,
)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from login import (
    FORM,
    NOISE_CORES,
    RATE_LIMITS,
    LoginWorld,
    login,
    make_world,
)

PEER_DIR = ROOT / "bench" / "peers" / "oidc_provider"
PEER_CC = ("bench-cc", "bench-cc-secret")
PEER_RP = ("bench-rp", "bench-rp-secret")
PEER_REDIRECT = "https://app.test/callback"
GRANTS = ("client_credentials", "refresh_token")
WARMUP_SECONDS = 2.0
AIM = 1.0


# --------------------------------------------------------------------------- processes


def pin(processes: Sequence[psutil.Process], cpus: set[int]) -> None:
    """Pin every thread of ``processes`` to ``cpus`` (what ``taskset -a -p`` does). Threads they
    start later inherit the mask from the thread that starts them."""
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for thread in proc.threads():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.sched_setaffinity(thread.id, cpus)


# --------------------------------------------------------------------------- the peer


def ensure_peer_installed() -> str:
    """Install the peer's npm packages when missing; return the installed oidc-provider version."""
    package = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not package.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise RuntimeError("node and npm are needed for the peer (oidc-provider): install Node.js 20+")
        console.print(f"installing the peer: npm install in {PEER_DIR.relative_to(ROOT)}")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0 or not package.exists():
            raise RuntimeError(f"npm install failed ({done.returncode}):\n{done.stderr[-3000:]}")
    version: str = json.loads(package.read_text())["version"]
    return version


class PeerServer:
    """``node server.mjs`` (oidc-provider) on 127.0.0.1 and a free port, ``workers`` processes."""

    def __init__(self, *, workers: int, log_path: Path, ready_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        env = {**os.environ, "PORT": str(self.port), "WORKERS": str(self.workers)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["node", "server.mjs"],
                cwd=PEER_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + self.ready_timeout
            while "READY" not in self.log_path.read_text(errors="replace"):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oidc-provider did not start:\n{self.log_path.read_text(errors='replace')}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def processes(self) -> list[psutil.Process]:
        return process_tree(self.process.pid) if self.process is not None else []

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the primary stops its cluster workers
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)  # its own session: only what it started
                proc.wait(timeout=10)

    def jwks(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/jwks", timeout=30)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    def refresh_token(self) -> str:
        """Sign in once through the dev interaction pages (login form, then consent; authorization
        code + PKCE) and return the refresh token."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        query = {
            "client_id": PEER_RP[0],
            "response_type": "code",
            "redirect_uri": PEER_REDIRECT,
            "scope": "openid offline_access email api",
            "state": state,
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with httpx.Client(base_url=self.base_url, timeout=30) as browser:

            def follow(response: httpx.Response) -> httpx.Response | str:
                while response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(PEER_REDIRECT):
                        return location
                    response = browser.get(location)
                return response

            answer: httpx.Response | str = browser.get("/auth?" + urlencode(query))
            for form in ({"prompt": "login", "login": f"user-{secrets.token_hex(4)}", "password": "x"}, {}):
                page = follow(answer) if isinstance(answer, httpx.Response) else answer
                if isinstance(page, str):
                    break
                action = re.search(r'action="([^"]+)"', page.text)
                if action is None:
                    raise RuntimeError(f"oidc-provider interaction page without a form: {page.text[:500]}")
                answer = browser.post(urljoin(str(page.url), action.group(1)), data=form or {"prompt": "consent"})
            callback = follow(answer) if isinstance(answer, httpx.Response) else answer
            if not isinstance(callback, str):
                raise RuntimeError(
                    f"oidc-provider login did not come back: {callback.status_code} {callback.text[:300]}"
                )
        params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        if params.get("state") != state:
            raise RuntimeError(f"oidc-provider callback without our state: {callback}")
        exchange = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": PEER_REDIRECT,
            "code_verifier": verifier,
        }
        response = httpx.post(f"{self.base_url}/token", data=exchange, auth=PEER_RP, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"oidc-provider code exchange: {response.status_code} {response.text}")
        token: str = response.json()["refresh_token"]
        return token


# --------------------------------------------------------------------------- the floor (--floor)


FLOOR_CLIENT = ("floor-client", "floor-client-secret")
FLOOR_KEY_ENV = "TENANTRY_BENCH_FLOOR_KEY"


def floor_app() -> Any:
    """``--floor``: the least a Python server on the same uvicorn (uvloop, httptools) can do per
    client_credentials token. ``POST /raw/token`` is answered by plain ASGI code, ``POST /token``
    by a FastAPI app with that one async route; both read the form, check HTTP Basic against one
    client (SHA-256 of the secret, as Tenantry), and sign the claims of Tenantry's M2M token with
    RS256 (joserfc, the 2048-bit key in TENANTRY_BENCH_FLOOR_KEY, shared by the workers).
    Nothing else: no database, routing table, dependencies or middleware. Run by uvicorn as
    ``tokens:floor_app --factory``."""
    import hmac
    from urllib.parse import parse_qsl

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.import_key(os.environ[FLOOR_KEY_ENV])
    secret_hash = hashlib.sha256(FLOOR_CLIENT[1].encode()).hexdigest()
    issuer = "http://floor.test"
    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}

    def issue(authorization: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        try:
            raw = base64.b64decode((authorization or "").removeprefix("Basic ")).decode()
        except ValueError:
            return 401, {"error": "invalid_client"}
        client_id, _, secret = raw.partition(":")
        expected = hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), secret_hash)
        if client_id != FLOOR_CLIENT[0] or not expected:
            return 401, {"error": "invalid_client"}
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": client_id,
            "aud": [issuer],
            "client_id": client_id,
            "app_id": "floor-application",
            "iat": now,
            "exp": now + 3600,
            "jti": secrets.token_hex(13),
        }
        token = jwt.encode({"alg": "RS256", "kid": "floor", "typ": "JWT"}, claims, key, algorithms=["RS256"])
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    api = FastAPI()

    @api.post("/token")
    async def token(request: Request) -> JSONResponse:
        status, doc = issue(request.headers.get("authorization"), await request.body())
        return JSONResponse(doc, status, headers=no_store)

    @api.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [{**key.as_dict(private=False), "kid": "floor", "alg": "RS256", "use": "sig"}]}

    async def app(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        if scope["type"] != "http" or scope["path"] != "/raw/token":
            await api(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        status, doc = issue(authorization, body)
        payload = json.dumps(doc).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
            (b"pragma", b"no-cache"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


class FloorServer:
    """``uvicorn tokens:floor_app --factory --workers W`` on 127.0.0.1 and a free port."""

    def __init__(self, *, workers: int, log_path: Path, ready_timeout: float = 60.0) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        from joserfc.jwk import RSAKey

        pem = RSAKey.generate_key(2048, private=True).as_pem(private=True)
        env = {**os.environ, FLOOR_KEY_ENV: pem.decode()}
        command = [sys.executable, "-m", "uvicorn", "tokens:floor_app", "--factory"]
        command += ["--app-dir", str(Path(__file__).resolve().parent), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--log-level", "warning", "--no-access-log"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + self.ready_timeout
            ready = 0
            while ready < 3:  # a few answers in a row: with several workers, let them all start
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the floor server did not start:\n{self.log_path.read_text(errors='replace')}")
                try:
                    ready = ready + 1 if httpx.get(f"http://127.0.0.1:{self.port}/jwks", timeout=2).is_success else 0
                except httpx.HTTPError:
                    ready = 0
                time.sleep(0.5 if ready else 0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def processes(self) -> list[psutil.Process]:
        return process_tree(self.process.pid) if self.process is not None else []

    def jwks(self) -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{self.port}/jwks", timeout=30)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)  # its own session: only what it started
                proc.wait(timeout=10)


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Target:
    """One server's token endpoint as the load generator sees it."""

    name: str
    port: int
    host: str
    path: str
    processes: Callable[[], list[psutil.Process]]
    jwks: Callable[[], dict[str, Any]]


class TokenClient:
    """One load client: its connection and, for the refresh grant, its newest refresh token."""

    def __init__(self, target: Target, authorization: str, grant: str, refresh_token: str | None = None) -> None:
        self.target = target
        self.grant = grant
        self.refresh_token = refresh_token
        self.connection = Connection("127.0.0.1", target.port)
        self.broken = False
        head = (
            f"POST {target.path} HTTP/1.1\r\nHost: {target.host}\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: {FORM}\r\n"
        )
        self._head = head.encode("latin-1")
        self._cc = self._request(b"grant_type=client_credentials")

    def _request(self, body: bytes) -> bytes:
        return self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    def reconnect(self) -> None:
        self.connection.close()
        self.connection = Connection("127.0.0.1", self.target.port)

    async def step(self, tally: Tally) -> bool:
        if self.broken:
            return False
        if self.grant == "client_credentials":
            reply = await self.connection.send(self._cc)
        else:
            body = urlencode({"grant_type": "refresh_token", "refresh_token": self.refresh_token or ""})
            try:
                reply = await self.connection.send(self._request(body.encode()))
            except HttpError:
                self.broken = True  # the token may or may not have been used: this chain ends
                raise
        if reply.status != 200:
            if self.grant == "refresh_token":
                self.broken = True
            raise HttpError(str(reply.status), reply.describe())
        doc = reply.json()
        if doc.get("token_type", "").lower() != "bearer" or not doc.get("access_token"):
            raise HttpError("no bearer token", reply.describe())
        if self.grant == "refresh_token":
            self.refresh_token = doc["refresh_token"]
            if "id_token" in doc:
                tally.keep_token(doc["id_token"])
        tally.keep_token(doc["access_token"])
        return True


def drive(clients: Sequence[TokenClient], seconds: float, workers: int = 1) -> Tally:
    """Run ``clients`` for ``seconds``, their connections first spread evenly over the server's
    ``workers`` processes (``login.balance``)."""

    async def go() -> Tally:
        steps: list[Step] = [c.step for c in clients]
        try:
            if workers > 1:
                await balance([c.connection for c in clients], clients[0].target.processes, workers)
            return await closed_loop(steps, seconds)
        finally:
            for client in clients:
                client.reconnect()  # the next run starts on fresh connections (idle ones may time out)

    tally: Tally = run_async(go())
    return tally


@dataclass
class Measured:
    tally: Tally
    meter: CpuMeter
    peak_mib: float
    verified: int
    problems: list[str]

    @property
    def errors(self) -> int:
        return self.tally.error_count + len(self.problems)


@contextlib.contextmanager
def load_generator_on(cpus: set[int] | None) -> Iterator[None]:
    """Run the block with this process on ``cpus`` (None: leave it)."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def measure(target: Target, clients: Sequence[TokenClient], seconds: float, workers: int) -> Measured:
    warm = drive(clients, WARMUP_SECONDS, workers)
    meter = CpuMeter(server=target.processes)
    with PeakRss(target.processes) as rss, meter:
        tally = drive(clients, seconds, workers)
    tally.errors.update(warm.errors)
    tally.samples.extend(warm.samples)
    good, problems = verify_rs256(tally.tokens, target.jwks())
    return Measured(tally, meter, rss.peak_mib, good, problems)


# --------------------------------------------------------------------------- Tenantry side


def tenantry_refresh_tokens(world: LoginWorld) -> list[str]:
    """One complete hosted login per user (login.py's flow): their refresh tokens."""

    async def go() -> list[str]:
        tokens = []
        tally = Tally()
        for user in range(len(world.users)):
            async with (
                Connection("127.0.0.1", world.port) as browser,
                Connection("127.0.0.1", world.port) as backend,
            ):
                tokens.append((await login(world, browser, backend, user, tally)).refresh_token)
        return tokens

    tokens: list[str] = run_async(go())
    return tokens


def profile_tenantry(
    server: Server, clients: Sequence[TokenClient], seconds: float, name: str
) -> dict[str, Any] | None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"tokens-{name}.pyspy.txt"
    with server.py_spy(path) as recorded:
        drive(clients, seconds, server.workers)
    if recorded is None or not recorded.exists():
        return None
    return profile_summary(recorded)


# --------------------------------------------------------------------------- one worker count


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated worker counts; W < CPUs: pinned to W CPUs (default 1,2)"
    )
    parser.add_argument("--grants", default=",".join(GRANTS), help="client_credentials,refresh_token")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on a shared machine: wait up to SECONDS for it to be idle before each measurement (default 0)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure a bare ASGI and a bare FastAPI token endpoint on the same uvicorn (client_credentials)",
    )
    parser.add_argument("--profile", action="store_true", help="one more Tenantry run per grant under py-spy")
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.grants = [g.strip() for g in str(args.grants).split(",") if g.strip()]
    unknown = set(args.grants) - set(GRANTS)
    if unknown:
        parser.error(f"unknown grant(s): {', '.join(sorted(unknown))}")
    if args.seconds <= 0 or args.clients < 1 or not args.workers or min(args.workers) < 1:
        parser.error("--seconds, --clients and --workers must be positive")
    return args


@dataclass(frozen=True)
class Placement:
    server_cpus: set[int] | None
    load_cpus: set[int] | None

    @property
    def label(self) -> str:
        if self.server_cpus is None:
            return f"{CPUS} CPUs, not pinned"
        return f"CPU {','.join(map(str, sorted(self.server_cpus)))} (load generator on the others)"


def placement(workers: int) -> Placement:
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not available or workers >= len(available):
        return Placement(None, None)
    return Placement(set(available[:workers]), set(available[workers:]))


def bench_workers(
    workers: int, env: dict[str, str], app: Any, port: int, data_dir: Path, args: argparse.Namespace, notes: list[str]
) -> list[dict[str, Any]]:
    place = placement(workers)
    rows = []
    with (
        Server(env, port=port, workers=workers, log_path=data_dir / f"serve-w{workers}.log") as server,
        PeerServer(workers=workers, log_path=data_dir / f"peer-w{workers}.log") as peer,
    ):
        if place.server_cpus is not None:
            pin(server.processes(), place.server_cpus)
            pin(peer.processes(), place.server_cpus)
        tenantry_target = Target(
            "tenantry", port, server.domain, "/api/v1/oauth2/token", server.processes, _tenantry_jwks(server)
        )
        peer_target = Target("oidc-provider", peer.port, f"127.0.0.1:{peer.port}", "/token", peer.processes, peer.jwks)
        world: LoginWorld | None = None
        for grant in args.grants:
            if grant == "client_credentials":
                ours = [
                    TokenClient(tenantry_target, basic_auth(app.client_id, app.client_secret), grant)
                    for _ in range(args.clients)
                ]
                theirs = [TokenClient(peer_target, basic_auth(*PEER_CC), grant) for _ in range(args.clients)]
            else:
                if world is None:
                    world = make_world(server, app.client_id, app.client_secret, args.clients)
                ours = [
                    TokenClient(tenantry_target, basic_auth(world.client_id, world.client_secret), grant, token)
                    for token in tenantry_refresh_tokens(world)
                ]
                theirs = [
                    TokenClient(peer_target, basic_auth(*PEER_RP), grant, peer.refresh_token())
                    for _ in range(args.clients)
                ]
            what = f"{grant}, {workers} worker(s)"
            with load_generator_on(place.load_cpus):
                wait_idle(args.wait_idle, f"{what}, tenantry", notes)
                if place.server_cpus is not None:
                    pin(server.processes(), place.server_cpus)
                mine = measure(tenantry_target, ours, args.seconds, workers)
                wait_idle(args.wait_idle, f"{what}, oidc-provider", notes)
                if place.server_cpus is not None:
                    pin(peer.processes(), place.server_cpus)
                peers = measure(peer_target, theirs, args.seconds, workers)
                profile = None
                if args.profile:
                    profile = profile_tenantry(server, ours, args.seconds, f"{grant}-w{workers}")
            row = make_row(grant, workers, place, args.clients, mine, peers)
            if args.floor and grant == "client_credentials":
                floor = measure_floor(workers, place, data_dir, args, notes)
                row["errors"] += floor.pop("errors", 0)
                row.update(floor)
            row["profile"] = profile
            rows.append(row)
            for name, result in (("tenantry", mine), ("oidc-provider", peers)):
                for sample in [*result.tally.samples, *result.problems[:5]]:
                    console.print(f"    [red]{name} error[/red] {sample}")
                if result.meter.other_cores > NOISE_CORES:
                    warning = (
                        f"{what}, {name}: processes outside the benchmark used {result.meter.other_cores:.2f} CPU"
                        " during the measurement: figures are disturbed."
                    )
                    console.print(f"[yellow]warning:[/yellow] {warning}")
                    notes.append(warning)
            if mine.errors:
                console.print(f"    tenantry log tail:\n{server.log_tail(20)}")
            if profile is not None:
                print_profile(f"tenantry {grant}, {workers} worker(s)", profile)
    return rows


def measure_floor(
    workers: int, place: Placement, data_dir: Path, args: argparse.Namespace, notes: list[str]
) -> dict[str, Any]:
    """``--floor``: the bare ASGI and the bare FastAPI token endpoints, placed like the servers."""
    found: dict[str, Any] = {}
    with FloorServer(workers=workers, log_path=data_dir / f"floor-w{workers}.log") as floor:
        for key, path in (("floorRaw", "/raw/token"), ("floorFastapi", "/token")):
            target = Target(key, floor.port, f"127.0.0.1:{floor.port}", path, floor.processes, floor.jwks)
            clients = [
                TokenClient(target, basic_auth(*FLOOR_CLIENT), "client_credentials") for _ in range(args.clients)
            ]
            with load_generator_on(place.load_cpus):
                wait_idle(args.wait_idle, f"floor {path}, {workers} worker(s)", notes)
                if place.server_cpus is not None:
                    pin(floor.processes(), place.server_cpus)
                result = measure(target, clients, args.seconds, workers)
            found.update({k: v for k, v in side(key, result).items() if not k.endswith("ErrorsByKind")})
            found["errors"] = found.get("errors", 0) + result.errors
            for sample in [*result.tally.samples, *result.problems[:5]]:
                console.print(f"    [red]floor error[/red] {sample}")
            if result.meter.other_cores > NOISE_CORES:
                warning = (
                    f"floor {path}, {workers} worker(s): processes outside the benchmark used"
                    f" {result.meter.other_cores:.2f} CPU during the measurement: figures are disturbed."
                )
                console.print(f"[yellow]warning:[/yellow] {warning}")
                notes.append(warning)
            console.print(
                f"  floor {path}, {workers} worker(s): {result.tally.rate:,.0f}/s"
                f" ({found[key + 'CpuMs']:.2f} ms CPU each, p50 {found[key + 'P50']:.1f} ms,"
                f" CPU split % {found[key + 'CpuSplit']})"
            )
    return found


def _tenantry_jwks(server: Server) -> Callable[[], dict[str, Any]]:
    def fetch() -> dict[str, Any]:
        response = httpx.get(f"{server.base_url}/api/v1/oauth2/jwks", timeout=30)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    return fetch


def side(prefix: str, result: Measured) -> dict[str, Any]:
    tally, meter = result.tally, result.meter
    ok = max(tally.ok, 1)
    return {
        f"{prefix}PerSecond": tally.rate,
        f"{prefix}Tokens": tally.ok,
        f"{prefix}P50": tally.percentile_ms(50),
        f"{prefix}P99": tally.percentile_ms(99),
        f"{prefix}Errors": result.errors,
        f"{prefix}ErrorsByKind": dict(tally.errors),
        f"{prefix}CpuMs": meter.group_seconds.get("server", 0.0) * 1000 / ok,
        f"{prefix}ServerCores": meter.cores("server"),
        f"{prefix}ClientCpuUs": 1e6 * tally.client_cpu_seconds / ok,
        f"{prefix}RssMiB": result.peak_mib,
        f"{prefix}Verified": result.verified,
        f"{prefix}OtherCpuPercent": 100 * meter.other_cores / CPUS,
        # how the server's CPU split over its processes (workers; oidc-provider's cluster primary)
        f"{prefix}CpuSplit": "/".join(f"{100 * share:.0f}" for share in meter.shares("server", 3) if share >= 0.005),
    }


def make_row(
    grant: str, workers: int, place: Placement, clients: int, mine: Measured, peers: Measured
) -> dict[str, Any]:
    ratio = mine.tally.rate / peers.tally.rate if peers.tally.rate else 0.0
    mine_ms = mine.meter.group_seconds.get("server", 0.0) / max(mine.tally.ok, 1)
    peer_ms = peers.meter.group_seconds.get("server", 0.0) / max(peers.tally.ok, 1)
    row: dict[str, Any] = {
        "grant": grant,
        "workers": workers,
        "cpus": place.label,
        "clients": clients,
        **side("tenantry", mine),
        **side("peer", peers),
        "ratio": ratio,
        "aim": "yes" if ratio >= AIM else "NO",
        "cpuRatio": peer_ms / mine_ms if mine_ms > 0 else 0.0,
        "errors": mine.errors + peers.errors,
        "otherCpuPercent": max(mine.meter.other_cores, peers.meter.other_cores) * 100 / CPUS,
    }
    console.print(
        f"  {grant}, {workers} worker(s) on {place.label}: tenantry {mine.tally.rate:,.0f}/s"
        f" (p50 {row['tenantryP50']:.1f} ms, p99 {row['tenantryP99']:.1f} ms, {row['tenantryCpuMs']:.2f} ms CPU each,"
        f" peak RSS {mine.peak_mib:.0f} MiB, CPU split % {row['tenantryCpuSplit']})"
        f" vs oidc-provider {peers.tally.rate:,.0f}/s"
        f" (p50 {row['peerP50']:.1f} ms, p99 {row['peerP99']:.1f} ms, {row['peerCpuMs']:.2f} ms CPU each,"
        f" peak RSS {peers.peak_mib:.0f} MiB, CPU split % {row['peerCpuSplit']}):"
        f" ratio {ratio:.2f}; errors {mine.errors}/{peers.errors};"
        f" verified RS256 {mine.verified}/{peers.verified}"
    )
    return row


COLUMNS = [
    Column("grant", "grant"),
    Column("workers", "W"),
    Column("cpus", "server CPUs"),
    Column("clients", "clients"),
    Column("tenantryPerSecond", "Tenantry/s", "{:,.0f}"),
    Column("peerPerSecond", "peer/s", "{:,.0f}"),
    Column("ratio", "ratio", "{:.2f}"),
    Column("aim", "≥ 1"),
    Column("tenantryP50", "T p50 ms", "{:.1f}"),
    Column("tenantryP99", "T p99 ms", "{:.1f}"),
    Column("peerP50", "peer p50 ms", "{:.1f}"),
    Column("peerP99", "peer p99 ms", "{:.1f}"),
    Column("tenantryCpuMs", "T CPU ms", "{:.2f}"),
    Column("peerCpuMs", "peer CPU ms", "{:.2f}"),
    Column("cpuRatio", "CPU ratio", "{:.2f}"),
    Column("tenantryRssMiB", "T peak RSS MiB", "{:.0f}"),
    Column("peerRssMiB", "peer peak RSS MiB", "{:.0f}"),
    Column("floorRawPerSecond", "floor ASGI/s", "{:,.0f}"),
    Column("floorFastapiPerSecond", "floor FastAPI/s", "{:,.0f}"),
    Column("errors", "errors"),
    Column("otherCpuPercent", "other CPU %", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    version = ensure_peer_installed()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tenantry-bench-tokens-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = tenantry_env(data_dir, None, rate_limits=json.dumps(RATE_LIMITS))
        console.print(f"init application 127.0.0.1:{port}; peer: oidc-provider {version} on Node {node}")
        app = run_init(env, f"127.0.0.1:{port}")
        for workers in args.workers:
            rows += bench_workers(workers, env, app, port, data_dir, args, warnings)
    notes = [
        "T = Tenantry, peer = oidc-provider; ratio = Tenantry tokens/s ÷ oidc-provider tokens/s (aim ≥ 1); W = workers"
        " (processes) of each server; CPU ms = the server's CPU per token.",
        f"{args.seconds:g} s per measurement after {WARMUP_SECONDS:g} s of warm-up; {args.clients} concurrent"
        " keep-alive clients, HTTP Basic client authentication on every request; one load generator (this"
        " process) for both.",
        f"W workers: W Tenantry uvicorn workers, W oidc-provider processes (node:cluster); W < {CPUS} CPUs: both"
        " servers pinned to CPUs 0..W-1, the load generator to the others.",
        f"Peer: oidc-provider {version} (npm), Node {node}; JWT access tokens through resourceIndicators"
        " (accessTokenFormat 'jwt', RS256); refresh tokens rotated on every use, like Tenantry; its store is"
        " in memory (in the cluster's primary when W > 1), Tenantry's is SQLite.",
        "refresh_token: each answer carries a new access token, ID token and refresh token on both sides. Each"
        " client's first refresh token comes from one login (Tenantry's hosted login with TENANTRY_RATE_LIMITS"
        f"='{json.dumps(RATE_LIMITS)}'; oidc-provider's dev interactions).",
        "CPU ms: the server's process tree per token; CPU ratio: oidc-provider's CPU per token ÷ Tenantry's, the"
        " comparison in CPU time, which other load on the machine disturbs much less than the rates. other CPU %:"
        " processes outside the benchmark (noise).",
        "floor (--floor): the same client_credentials load on a bare token endpoint in Python on the same uvicorn"
        " (plain ASGI; FastAPI with one route): parse, check the client, sign the same claims with RS256.",
        *warnings,
    ]
    report(
        "tokens",
        "Tokens per second: Tenantry vs oidc-provider",
        COLUMNS,
        rows,
        meta={
            "seconds": args.seconds,
            "clients": args.clients,
            "workers": args.workers,
            "peer": {"package": "oidc-provider", "version": version, "node": node},
        },
        notes=notes,
    )
    console.print(f"  total time {time.monotonic() - started:.0f} s")
    errors = sum(int(r["errors"]) for r in rows)
    if errors:
        console.print(f"[red]{errors} failed request(s) or token check(s)[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
