"""Helpers shared by the benchmarks in ``bench/``.

What is here:

* ``PostgresServer``: the server named by ``TENANTRY_BENCH_PG_URL``, or a throwaway one started
  with ``scripts/pg-test.sh`` (and stopped again); ``create_database()`` gives each run a fresh one.
* ``tenantry_env``, ``run_init``: the environment and the ``tenantry init --json`` call that a real
  deployment would use.
* ``Server``: a real ``tenantry serve`` subprocess on 127.0.0.1 and a free port (plain HTTP), with
  readiness, CPU time and a peak-RSS sampler over its whole process tree (uvicorn workers
  included), and an optional py-spy recording of it.
* ``client_credentials_token``, ``run_load``: an M2M token, and a closed-loop HTTP load generator
  (asyncio + httpx, keep-alive, ``concurrency`` clients) that counts unexpected statuses as errors.
* ``Connection`` (with ``HttpError``, ``Reply``): a lean keep-alive HTTP/1.1 client on asyncio
  streams, a fraction of httpx's CPU per request; ``Tally``, ``closed_loop``, ``run_async``: the
  closed-loop load generator the login, token and signup benchmarks share (one coroutine per
  client, each sending its next request when its previous answer is in); ``balance``: spread
  keep-alive connections evenly over a server's worker processes; ``wait_idle``.
* ``Argon2Params``, ``PARAMS``, ``bare_argon2``: argon2id verifications or hashes per second in
  one process per CPU, the hashing limit the login and signup figures are compared with.
* ``process_tree``, ``PeakRss``: another server's processes and their peak RSS.
* ``Column``, ``report``: print a rich table and write the same figures as JSON and Markdown under
  ``bench/results/`` (git-ignored).
* ``summarize_collapsed``, ``profile_summary``, ``print_profile``: the hottest frames of a py-spy
  ``--format raw`` recording.

Benchmarks are scripts (``python bench/NAME.py``): the script's folder is on ``sys.path``, so they
``import common``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PG_SCRIPT = ROOT / "scripts" / "pg-test.sh"
BENCH_PG_PORT = 54339
BENCH_PG_DIR = "/tmp/tenantry-bench-pg"
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

# Piped output (CI, ``make bench | tee``) gets a width the result table fits in, not 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240)


# --------------------------------------------------------------------------- machine and ports


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpuModel": cpu_model,
        "memoryGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def host_busy_percent(seconds: float = 1.0) -> float:
    """How busy the whole machine is (all CPUs, 0-100) over the next ``seconds``. Figures taken
    while something else is running (another test suite, a build) are not worth recording."""
    return float(psutil.cpu_percent(interval=seconds))


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU used while a block runs: by the whole host, by this process (the load generator) and
    by named groups of processes (``server=server.processes``). ``other_cores`` is what is left:
    processes nobody asked about, i.e. noise from the rest of the machine."""

    def __init__(self, **groups: Callable[[], Sequence[psutil.Process]]) -> None:
        self._groups = groups
        self._me = psutil.Process()
        self.seconds = 0.0
        self.host_cores = 0.0
        self.self_seconds = 0.0
        self.group_seconds: dict[str, float] = {}
        self.process_seconds: dict[str, dict[int, float]] = {}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        found: dict[str, dict[int, float]] = {}
        for name, processes in self._groups.items():
            found[name] = {}
            for proc in processes():
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    found[name][proc.pid] = _cpu(proc)
        return found

    def __enter__(self) -> Self:
        self._groups0 = self._snapshot()
        self._host0 = psutil.cpu_times()
        self._self0 = _cpu(self._me)
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self._t0
        host1 = psutil.cpu_times()
        self.self_seconds = _cpu(self._me) - self._self0
        groups1 = self._snapshot()
        idle0 = self._host0.idle + getattr(self._host0, "iowait", 0.0)
        idle1 = host1.idle + getattr(host1, "iowait", 0.0)
        busy = (sum(host1) - idle1) - (sum(self._host0) - idle0)
        self.host_cores = busy / self.seconds if self.seconds > 0 else 0.0
        for name, after in groups1.items():
            before = self._groups0.get(name, {})
            used = {pid: max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items()}
            self.process_seconds[name] = used
            self.group_seconds[name] = sum(used.values())

    def shares(self, name: str, top: int) -> list[float]:
        """The ``top`` largest per-process CPU shares (0-1) of a group, largest first: how evenly
        the server's workers shared the load."""
        used = sorted(self.process_seconds.get(name, {}).values(), reverse=True)[:top]
        total = self.group_seconds.get(name, 0.0)
        return [u / total if total > 0 else 0.0 for u in used]

    def cores(self, name: str) -> float:
        return self.group_seconds.get(name, 0.0) / self.seconds if self.seconds > 0 else 0.0

    @property
    def self_cores(self) -> float:
        return self.self_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def other_cores(self) -> float:
        return max(0.0, self.host_cores - self.self_cores - sum(self.cores(n) for n in self.group_seconds))


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """A PostgreSQL server to create benchmark databases on.

    ``url`` (normally ``TENANTRY_BENCH_PG_URL``) names a running server whose role may
    ``CREATE DATABASE``. Without it, ``scripts/pg-test.sh`` starts a throwaway cluster on
    ``port``/``pgdir`` and ``close()`` stops (deletes) it again, unless it was already running.
    """

    def __init__(self, url: str | None = None, *, port: int = BENCH_PG_PORT, pgdir: str = BENCH_PG_DIR) -> None:
        self._given = url
        self._env = {**os.environ, "PGPORT": str(port), "PGDIR": pgdir}
        self._started = False
        self._databases: list[str] = []
        self.url = ""

    def __enter__(self) -> Self:
        if self._given:
            self.url = self._given
            return self
        already = subprocess.run([str(PG_SCRIPT), "status"], env=self._env, capture_output=True, check=False)
        started = subprocess.run(
            [str(PG_SCRIPT), "start"], env=self._env, capture_output=True, text=True, check=False, timeout=180
        )
        if started.returncode != 0:
            raise RuntimeError(f"scripts/pg-test.sh start failed:\n{started.stderr}")
        self._started = already.returncode != 0
        self.url = started.stdout.strip().splitlines()[-1]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _admin(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())

    def version(self) -> str:
        from sqlalchemy import text

        engine = self._admin()
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar_one())
        finally:
            engine.dispose()

    def create_database(self, prefix: str = "bench") -> str:
        """A new, empty database on this server; returns its URL."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"{prefix}_{secrets.token_hex(5)}"
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        self._databases.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def keep(self, database_url: str) -> None:
        """Leave a database made by ``create_database`` in place on ``close()`` (to measure it again)."""
        from sqlalchemy.engine import make_url

        name = make_url(database_url).database
        if name in self._databases:
            self._databases.remove(name)

    @staticmethod
    def backends(database_url: str) -> list[psutil.Process]:
        """The server processes serving ``database_url``'s database (their titles name it)."""
        from sqlalchemy.engine import make_url

        marker = f" {make_url(database_url).database} "
        found = []
        for proc in psutil.process_iter(["name", "cmdline"]):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                title = " ".join(proc.info["cmdline"] or [])
                if title.startswith("postgres:") and marker in f"{title} ":
                    found.append(proc)
        return found

    def close(self) -> None:
        if self.url and self._databases:
            from sqlalchemy import text

            engine = self._admin()
            try:
                with engine.connect() as conn:
                    for name in self._databases:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as error:  # a benchmark's result must not be lost to cleanup
                console.print(f"[yellow]warning:[/yellow] could not drop benchmark databases: {error}")
            finally:
                engine.dispose()
            self._databases.clear()
        if self._started:
            subprocess.run([str(PG_SCRIPT), "stop"], env=self._env, capture_output=True, check=False, timeout=120)
            self._started = False


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


# --------------------------------------------------------------------------- tenantry itself


def tenantry_command(*args: str) -> list[str]:
    """``tenantry ARGS`` run with this interpreter (the venv the benchmark runs in)."""
    return [sys.executable, "-m", "tenantry.cli", *args]


def tenantry_env(data_dir: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment for ``tenantry`` subprocesses: a data dir, an optional database URL, and
    any other ``TENANTRY_*`` settings given as keyword arguments (``log_level="WARNING"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env["TENANTRY_DATA_DIR"] = str(data_dir)
    if database_url:
        env["TENANTRY_DATABASE_URL"] = database_url
    for key, value in settings.items():
        env[f"TENANTRY_{key.upper()}"] = value
    return env


@dataclass(frozen=True)
class AppInfo:
    """What ``tenantry init --json`` prints."""

    application_id: str
    vanity_domain: str
    client_id: str
    client_secret: str


def run_init(env: Mapping[str, str], domain: str, *, rotate_secret: bool = False, timeout: float = 1800) -> AppInfo:
    """``tenantry init --domain DOMAIN --json``: migrate, create the application and its M2M admin client.
    ``rotate_secret``: an existing application (a kept database) gets a new M2M secret to sign in with."""
    done = subprocess.run(
        tenantry_command("init", "--domain", domain, "--json", *(["--rotate-secret"] if rotate_secret else [])),
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tenantry init failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    return AppInfo(doc["applicationId"], doc["vanityDomain"], doc["m2mClientId"], doc["m2mClientSecret"])


def client_credentials_token(base_url: str, client_id: str, client_secret: str) -> str:
    """An access token for an M2M client (``client_credentials`` grant, HTTP Basic)."""
    response = httpx.post(
        f"{base_url}/api/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"token request failed: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


class Server:
    """``tenantry serve --host 127.0.0.1 --port PORT --workers N`` as a subprocess (plain HTTP).

    Use as a context manager: it starts, waits until every worker serves ``/health``, and is
    stopped (SIGTERM, then SIGKILL of its own process group) on exit. Its output goes to
    ``log_path``. ``sample_rss()`` starts a background sampler of the process tree's RSS.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        workers: int = 1,
        log_path: Path,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 90.0,
    ) -> None:
        self.env = dict(env)
        self.port = port or free_port()
        self.workers = workers
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        """The vanity domain a request to ``base_url`` carries in its Host header."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            tenantry_command(*args, *self.extra_args),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        healthy = False
        logs_info = self.env.get("TENANTRY_LOG_LEVEL", "INFO").upper() in ("INFO", "DEBUG", "TRACE")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tenantry serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if not healthy:
                with contextlib.suppress(httpx.HTTPError):
                    healthy = httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
            # With several workers the first one may answer before the others have started:
            # uvicorn logs one "startup complete" per worker (at INFO, the default level).
            if healthy and (self.workers == 1 or not logs_info):
                if not logs_info:
                    time.sleep(3.0)
                return
            if healthy and self.log_text().count("Application startup complete") >= self.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"tenantry serve was not ready within {self.ready_timeout}s:\n{self.log_tail()}")

    def processes(self) -> list[psutil.Process]:
        """The server process and all its descendants (uvicorn workers) still alive."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the live process tree so far."""
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    @contextlib.contextmanager
    def sample_rss(self, interval: float = 0.1) -> Iterator[PeakRss]:
        with PeakRss(self.processes, interval) as sampler:
            yield sampler

    @contextlib.contextmanager
    def py_spy(self, output: Path, *, rate: int = 250, gil: bool = True) -> Iterator[Path | None]:
        """Record the server tree with ``py-spy record --format raw`` (collapsed stacks, one line
        per stack and thread) while the block runs; ``gil``: only threads holding the GIL, i.e.
        where the Python CPU goes (idle and waiting threads are left out). Yields the output path,
        or None when py-spy is not installed. Sampling pauses the server briefly: rates drop."""
        exe = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        if exe is None or self.process is None:
            console.print("[yellow]py-spy not found (pip install py-spy): not profiling[/yellow]")
            yield None
            return
        cmd = [exe, "record", "--pid", str(self.process.pid), "--subprocesses", "--threads", "--rate", str(rate)]
        cmd += ["--format", "raw", "--output", str(output), *(["--gil"] if gil else [])]
        spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let it attach before the load starts
        try:
            yield output
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                _, err = spy.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            if spy.returncode not in (0, -signal.SIGINT) and not output.exists():
                console.print(f"[yellow]py-spy failed:[/yellow] {err.decode(errors='replace')[-2000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


# --------------------------------------------------------------------------- HTTP load


@dataclass
class RequestSpec:
    """One request of a load run: method, path and ``{"json": body}`` (the only body `run_load` sends)."""

    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadResult:
    requests: int
    ok: int
    seconds: float
    latencies: list[float]
    errors: Counter[str]
    samples: list[str]
    client_cpu_seconds: float

    @property
    def error_count(self) -> int:
        return self.requests - self.ok

    @property
    def rate(self) -> float:
        """Successful requests per second of wall time."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


def run_load(
    base_url: str,
    make_request: Callable[[int], RequestSpec],
    *,
    total: int,
    concurrency: int,
    expect_status: int = 200,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    server: Server | None = None,
) -> LoadResult:
    """Send ``total`` requests from ``concurrency`` closed-loop clients (each sends its next
    request when the previous answer is in) over keep-alive connections of the lean
    ``Connection`` client (httpx would spend about 1 ms of the shared cores per request). With
    ``server``, the connections are first spread evenly over its workers (``balance``). A
    response with another status than ``expect_status``, or a transport error, is an error; a few
    are kept as samples."""
    result: LoadResult = run_async(
        _load(base_url, make_request, total, concurrency, expect_status, headers or {}, timeout, server)
    )
    return result


def _encode(spec: RequestSpec, host: str, headers: Mapping[str, str]) -> bytes:
    if set(spec.kwargs) - {"json"}:
        raise ValueError(f"run_load sends JSON bodies only, not {sorted(spec.kwargs)}")
    lines = [f"{spec.method} {spec.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    body = b""
    if "json" in spec.kwargs:
        body = json.dumps(spec.kwargs["json"]).encode()
        lines.append("Content-Type: application/json")
    if body or spec.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _load(
    base_url: str,
    make_request: Callable[[int], RequestSpec],
    total: int,
    concurrency: int,
    expect_status: int,
    headers: Mapping[str, str],
    timeout: float,
    server: Server | None,
) -> LoadResult:
    host_port = base_url.split("://", 1)[1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    counter = itertools.count()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    samples: list[str] = []
    connections = [Connection(host, int(port), timeout=timeout) for _ in range(concurrency)]

    async def worker(connection: Connection) -> None:
        while (i := next(counter)) < total:
            raw = _encode(make_request(i), host_port, headers)
            started = time.perf_counter()
            try:
                reply = await connection.send(raw)
            except HttpError as error:
                errors[error.key] += 1
                if len(samples) < 5:
                    samples.append(str(error))
                continue
            latencies.append(time.perf_counter() - started)
            if reply.status != expect_status:
                errors[str(reply.status)] += 1
                if len(samples) < 5:
                    samples.append(f"{reply.status}: {reply.describe()}")

    try:
        if server is not None:
            await balance(connections, server.processes, server.workers)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in connections))
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    finally:
        for connection in connections:
            connection.close()
    failed = sum(errors.values())
    return LoadResult(total, total - failed, seconds, latencies, errors, samples, cpu)


# --------------------------------------------------------------------------- a lean HTTP client


class HttpError(Exception):
    """An unexpected answer (or none); ``key`` is what the error counters group by."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key = key
        self.detail = detail


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def cookies(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in self.headers:
            if key == "set-cookie":
                pair = value.split(";", 1)[0]
                name, _, content = pair.partition("=")
                found[name.strip()] = content.strip()
        return found

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        """The start of the body, for error samples (their key carries the status)."""
        return self.body[:300].decode(errors="replace")


class Connection:
    """One keep-alive HTTP/1.1 connection (asyncio streams), opened on first use. Requests are
    written as given (the caller sets ``Host``); answers need a Content-Length or chunked body.
    It costs a small fraction of httpx's CPU per request, which matters when the load generator
    shares the machine's cores with the server it measures. No retries: a broken connection is
    an error (a retried POST might redeem a code or a refresh token twice)."""

    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    @property
    def local_port(self) -> int | None:
        """This end's port while open: how the server's processes see the connection."""
        if self._writer is None:
            return None
        sockname = self._writer.get_extra_info("sockname")
        return int(sockname[1]) if sockname else None

    async def request(self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> Reply:
        lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    async def send(self, raw: bytes) -> Reply:
        """Send a complete request (head and body) and read its answer."""
        await self.open()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(raw)
            async with asyncio.timeout(self.timeout):
                reply, close = await self._read(self._reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
            self.close()
            raise HttpError(type(error).__name__, str(error)) from error
        if close:
            self.close()
        return reply

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: list[tuple[str, str]] = []
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers.append((name, value))
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                close = value.lower() == "close"
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    break
                parts.append(await reader.readexactly(size + 2))
            body = b"".join(p[:-2] for p in parts)
        elif length is not None:
            body = await reader.readexactly(length)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body, close = await reader.read(), True
        return Reply(status, headers, body), close


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """A JWT's header (0) or payload (1), not verified."""
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def verify_rs256(tokens: Sequence[str], jwks: dict[str, Any]) -> tuple[int, list[str]]:
    """How many of ``tokens`` are RS256 JWTs whose signature the JWKS verifies; the problems."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    good, problems = 0, []
    for token in tokens:
        try:
            header = jwt_part(token, 0)
            if header.get("alg") != "RS256":
                problems.append(f"alg {header.get('alg')!r}, not RS256")
                continue
            jwt.decode(token, keys, algorithms=["RS256"])
            good += 1
        except Exception as error:  # a bad token is a finding, not a crash
            problems.append(f"{type(error).__name__}: {error}")
    return good, problems


# --------------------------------------------------------------------------- closed-loop load


@dataclass
class Tally:
    """What a closed-loop run counted: successes with their latencies, errors by kind."""

    ok: int = 0
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def error(self, key: str, detail: str) -> None:
        self.errors[key] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{key}: {detail[:300]}")

    def step(self, name: str, seconds: float) -> None:
        self.steps.setdefault(name, []).append(seconds)

    def keep_token(self, token: str, keep: int = 40) -> None:
        """Keep the first ``keep`` tokens and then every 97th, for the signature check."""
        if len(self.tokens) < keep or self.ok % 97 == 0:
            self.tokens.append(token)

    def percentile_ms(self, p: float, values: Sequence[float] | None = None) -> float:
        data = sorted(self.latencies if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))] * 1000


Step = Callable[[Tally], Awaitable[bool]]


async def closed_loop(steps: Sequence[Step], seconds: float) -> Tally:
    """Run each of ``steps`` (one per concurrent client) again and again for ``seconds``: a step
    returns False once its client cannot go on. The time includes the last steps' tail."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def client(step: Step) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                ok = await step(tally)
            except HttpError as error:
                tally.error(error.key, error.detail)
                continue
            if ok:
                tally.ok += 1
                tally.latencies.append(time.perf_counter() - started)
            else:
                return

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(s) for s in steps))
    tally.seconds = time.perf_counter() - t0
    tally.client_cpu_seconds = time.process_time() - cpu0
    return tally


def run_async(coro: Awaitable[Any]) -> Any:
    """Run on uvloop when it is installed (a cheaper load generator), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def wait_idle(
    timeout: float, what: str, notes: list[str], *, busy_percent: float = 10.0, before: str = "the measurement"
) -> float:
    """Wait up to ``timeout`` seconds for the machine to be under ``busy_percent`` busy (over 2 s);
    when it stays busy, say so (and in the results' notes): the figures will be disturbed. Returns
    the last reading."""
    deadline = time.monotonic() + timeout
    busy = host_busy_percent(2.0)
    while busy > busy_percent and time.monotonic() < deadline:
        console.print(f"  machine {busy:.0f}% busy: waiting for it to be idle")
        time.sleep(5.0)
        busy = host_busy_percent(2.0)
    if busy > busy_percent:
        warning = f"{what}: the machine was {busy:.0f}% busy before {before}: figures are disturbed."
        console.print(f"[yellow]warning:[/yellow] {warning}")
        notes.append(warning)
    return busy


def connection_owners(ports: set[int], processes: Iterable[psutil.Process]) -> dict[int, int]:
    """Which process (pid) holds the server end of each of our connections (by our local port)."""
    owners: dict[int, int] = {}
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for conn in proc.net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port in ports and conn.status == psutil.CONN_ESTABLISHED:
                    owners[conn.raddr.port] = proc.pid
    return owners


async def balance(
    connections: Sequence[Connection], processes: Callable[[], list[psutil.Process]], workers: int, rounds: int = 30
) -> dict[int, int]:
    """Open ``connections`` spread evenly over the server's ``workers`` processes, as a load
    balancer would: uvicorn's workers share one listening socket, and whichever is awake first
    accepts a whole burst of connections, so a few long-lived keep-alive connections can all end
    up on one worker. Connections on a worker above its share are reopened until the split is
    even (or ``rounds`` run out). Returns connections per worker pid."""
    if workers <= 1:
        return {}
    share = -(-len(connections) // workers)
    per_worker: Counter[int] = Counter()
    for _ in range(rounds):
        for connection in connections:
            await connection.open()
        await asyncio.sleep(0.05)  # let the workers accept them
        by_port = {c.local_port: c for c in connections if c.local_port is not None}
        owners = connection_owners(set(by_port), processes())
        per_worker = Counter(owners.values())
        surplus: list[Connection] = []
        seen: Counter[int] = Counter()
        for port, connection in by_port.items():
            pid = owners.get(port)
            if pid is None:
                continue
            seen[pid] += 1
            if seen[pid] > share:
                surplus.append(connection)
        if not surplus and len(per_worker) >= min(workers, len(connections)):
            break
        for connection in surplus:
            connection.close()
    return dict(per_worker)


# --------------------------------------------------------------------------- bare argon2id


@dataclass(frozen=True)
class Argon2Params:
    name: str
    memory_kib: int
    time_cost: int
    parallelism: int

    @property
    def label(self) -> str:
        return f"{self.name} (m={self.memory_kib} KiB, t={self.time_cost}, p={self.parallelism})"

    @property
    def short(self) -> str:
        return f"m={self.memory_kib} t={self.time_cost} p={self.parallelism}"


PARAMS = {
    "keycloak": Argon2Params("keycloak", 7168, 5, 1),
    "tenantry": Argon2Params("tenantry", 19456, 2, 1),  # TENANTRY_ARGON2_* defaults (settings.py)
    # The smallest hash Tenantry accepts (~1 ms): a diagnostic, not a configuration. Its logins show what the server
    # spends around the hash (the other rows' CPU minus their hash), measured without the hash.
    "floor": Argon2Params("floor", 1024, 1, 1),  # the least TENANTRY_ARGON2_MEMORY_KIB allows
}


def _hasher(params: tuple[int, int, int]) -> Any:
    from argon2 import PasswordHasher

    memory, time_cost, parallelism = params
    return PasswordHasher(memory_cost=memory, time_cost=time_cost, parallelism=parallelism)


def _argon2_for(
    params: tuple[int, int, int], start_at: float, seconds: float, operation: str = "verify"
) -> tuple[int, float, float]:
    """In a worker process: verify one hash (``operation="verify"``) or hash a password
    (``"hash"``) from ``start_at`` (time.time) until ``seconds`` later; returns (operations,
    seconds taken including the last one, CPU seconds)."""
    hasher = _hasher(params)
    password = "correct horse battery staple"
    encoded = hasher.hash(password)
    hasher.verify(encoded, password)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, done, end = time.process_time(), 0, start_at + seconds
    if operation == "hash":
        while time.time() < end:
            hasher.hash(password)
            done += 1
    else:
        while time.time() < end:
            hasher.verify(encoded, password)
            done += 1
    return done, time.time() - start_at, time.process_time() - cpu0


def _ready() -> bool:
    import argon2  # noqa: F401  (import in the worker before the timed part)

    return True


@dataclass(frozen=True)
class BareRate:
    processes: int
    verifies: int  # operations: verifications, or hashes for bare_argon2(..., operation="hash")
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.verifies / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / max(self.verifies, 1)


def bare_argon2(params: Argon2Params, seconds: float, processes: int = CPUS, *, operation: str = "verify") -> BareRate:
    """argon2id verifications (or hashes: ``operation="hash"``) per second in ``processes``
    processes (one per CPU: the most this machine can do) at once."""
    args = (params.memory_kib, params.time_cost, params.parallelism)
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for ready in [pool.submit(_ready) for _ in range(processes)]:
            ready.result()
        start_at = time.time() + 0.5
        futures = [pool.submit(_argon2_for, args, start_at, seconds, operation) for _ in range(processes)]
        results = [f.result() for f in futures]
    return BareRate(processes, sum(r[0] for r in results), max(r[1] for r in results), sum(r[2] for r in results))


# --------------------------------------------------------------------------- other processes


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class PeakRss:
    """The largest summed RSS of a set of processes (a server's tree), and the largest RSS of any
    one of them (its busiest worker, or the one process), sampled every ``interval`` seconds."""

    def __init__(self, processes: Callable[[], Sequence[psutil.Process]], interval: float = 0.1) -> None:
        self._processes = processes
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self.peak_bytes = 0
        self.peak_process_bytes = 0

    def _sample(self) -> None:
        total = 0
        for proc in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                rss = proc.memory_info().rss
                total += rss
                self.peak_process_bytes = max(self.peak_process_bytes, rss)
        self.peak_bytes = max(self.peak_bytes, total)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def peak_process_mib(self) -> float:
        return self.peak_process_bytes / 2**20


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: str = "{}"

    def render(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.key)
        if value is None:
            return "-"
        try:
            return self.fmt.format(value)
        except (ValueError, TypeError):
            return str(value)


def report(
    name: str,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Print the rows as a table and write ``bench/results/NAME-TIMESTAMP.{json,md}``."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column.header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(column.render(row) for column in columns))
    console.print(table)
    for note in notes:
        console.print(f"  {note}")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "title": title,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": machine_info(),
        **(dict(meta) if meta else {}),
        "notes": list(notes),
        "rows": [dict(r) for r in rows],
    }
    json_path = RESULTS_DIR / f"{name}-{stamp}.json"
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    md_path = RESULTS_DIR / f"{name}-{stamp}.md"
    md_path.write_text(markdown_table(columns, rows, title=title, doc=doc))
    console.print(f"  results: {json_path.relative_to(ROOT)}, {md_path.relative_to(ROOT)}")
    return json_path, md_path


def markdown_table(
    columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], *, title: str, doc: Mapping[str, Any]
) -> str:
    machine = doc.get("machine", {})
    lines = [
        f"## {title}",
        "",
        f"- when: {doc.get('time')}",
        f"- command: `{doc.get('command')}`",
        f"- machine: {machine.get('cpus')} CPUs ({machine.get('cpuModel')}), {machine.get('memoryGiB')} GiB, "
        f"{machine.get('os')}, Python {machine.get('python')}, SQLite {machine.get('sqlite')}",
        "",
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(c.render(r) for c in columns) + " |" for r in rows]
    notes = doc.get("notes") or []
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- profiles


def summarize_collapsed(path: Path, top: int = 20, include: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """The hottest frames of a py-spy ``--format raw`` file (``frame;frame;... count`` lines):
    ``self`` counts samples where the frame is on top of the stack, ``total`` where it is
    anywhere on it (once per sample); py-spy's process and thread pseudo-frames are left out.
    ``include`` filters the stacks (e.g. only one thread's)."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if include is not None and not include(stack):
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread ("))] or ["?"]
        samples += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            total_counts[frame] += count
    return {
        "samples": samples,
        "self": self_counts.most_common(top),
        "total": total_counts.most_common(top),
    }


def profile_summary(recorded: Path, tenantry_top: int = 30) -> dict[str, Any]:
    """What the benchmarks keep of a py-spy recording: the hottest frames (self) and the
    hottest frames of Tenantry's own code (inclusive)."""
    found = summarize_collapsed(recorded, top=400)
    return {
        "file": str(recorded),
        "samples": found["samples"],
        "self": found["self"][:25],
        "tenantryTotal": [(f, n) for f, n in found["total"] if "tenantry/" in f][:tenantry_top],
    }


def print_profile(title: str, profile: dict[str, Any]) -> None:
    samples = max(int(profile["samples"]), 1)
    console.print(f"  py-spy, {title}: {samples} samples of threads holding the GIL")
    for kind, heading in (("self", "top frames (self)"), ("tenantryTotal", "tenantry frames (inclusive)")):
        console.print(f"  {heading}:")
        for frame, count in profile[kind][:15]:
            console.print(f"    {100 * count / samples:5.1f}%  {frame}")
    console.print(f"  stacks: {profile['file']}")
