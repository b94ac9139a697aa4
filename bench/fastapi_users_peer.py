"""The fastapi-users peer (``bench/peers/fastapi_users``) as the login and signup benchmarks drive it.

* ``ensure_installed()``: its own virtualenv, made by ``peers/fastapi_users/setup.sh`` from pinned
  ``requirements.txt`` (never Tenantry's ``.venv``); returns the fastapi-users version.
* ``PeerServer``: ``uvicorn app:app --workers W`` of that virtualenv on 127.0.0.1 and a free port,
  with the argon2id parameters given, on SQLite (aiosqlite, a fresh file) or PostgreSQL (asyncpg, a
  fresh database); its tables are created before the workers start.
* ``register_request`` and ``login_request``: the raw HTTP/1.1 requests of ``POST /auth/register``
  and ``POST /auth/jwt/login`` for ``common.Connection``; ``check_register`` and ``check_login``
  tell a right answer from a wrong one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

import httpx
import psutil
from common import ROOT, Argon2Params, HttpError, Reply, console, free_port, process_tree

PEER_DIR = ROOT / "bench" / "peers" / "fastapi_users"
PEER_PYTHON = PEER_DIR / ".venv" / "bin" / "python"
FORM = "application/x-www-form-urlencoded"


def ensure_installed() -> str:
    """Create or refresh the peer's virtualenv when its pins changed; return fastapi-users' version."""
    done = subprocess.run(
        ["bash", str(PEER_DIR / "setup.sh")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/peers/fastapi_users/setup.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    for line in (PEER_DIR / "requirements.txt").read_text().splitlines():
        if line.lower().startswith("fastapi-users=="):
            return line.split("==", 1)[1].strip()
    return "?"


def async_url(database_url: str | None, data_dir: Path) -> str:
    """The peer's SQLAlchemy URL: a fresh SQLite file in ``data_dir``, or the PostgreSQL database
    of ``database_url`` (a ``postgresql+psycopg://`` URL) through asyncpg."""
    if database_url is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(data_dir / 'fastapi-users.db').resolve()}"
    scheme, _, rest = database_url.partition("://")
    if not scheme.startswith("postgresql"):
        raise ValueError(f"the fastapi-users peer runs on SQLite or PostgreSQL, not {scheme}")
    return f"postgresql+asyncpg://{rest}"


class PeerServer:
    """The peer app on ``workers`` uvicorn workers (use as a context manager)."""

    def __init__(
        self,
        *,
        params: Argon2Params,
        database_url: str,
        workers: int,
        log_path: Path,
        ready_timeout: float = 60.0,
    ) -> None:
        self.params = params
        self.database_url = database_url
        self.workers = workers
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
            "FU_DATABASE_URL": self.database_url,
            "FU_JWT_SECRET": secrets.token_urlsafe(32),
            "FU_ARGON2_MEMORY_KIB": str(self.params.memory_kib),
            "FU_ARGON2_TIME_COST": str(self.params.time_cost),
            "FU_ARGON2_PARALLELISM": str(self.params.parallelism),
        }

    def __enter__(self) -> Self:
        env = self._env()
        tables = subprocess.run(
            [str(PEER_PYTHON), "app.py", "create-tables"],
            cwd=PEER_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if tables.returncode != 0:
            raise RuntimeError(f"fastapi-users peer: create-tables failed:\n{tables.stderr[-3000:]}")
        command = [str(PEER_PYTHON), "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--log-level", "warning", "--no-access-log"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PEER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        ready = 0
        while ready < 3 + 2 * self.workers:  # answers in a row: with several workers, let them all start
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fastapi-users peer did not start:\n{self.log_tail()}")
            try:
                ready = ready + 1 if httpx.get(f"{self.base_url}/health", timeout=2).is_success else 0
            except httpx.HTTPError:
                ready = 0
            time.sleep(0.3 if ready else 0.1)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def processes(self) -> list[psutil.Process]:
        return process_tree(self.process.pid) if self.process is not None else []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

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

    def register_users(self, count: int, prefix: str = "fu-login") -> list[tuple[str, str]]:
        """``count`` users through ``POST /auth/register``, one at a time: (email, password)."""
        accounts = []
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            for i in range(count):
                email, password = f"{prefix}-{i}-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
                response = client.post("/auth/register", json={"email": email, "password": password})
                if response.status_code != 201:
                    raise RuntimeError(f"fastapi-users register: {response.status_code} {response.text[:300]}")
                accounts.append((email, password))
        console.print(f"  fastapi-users: {count} users registered")
        return accounts


def _request(host: str, path: str, content_type: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


def register_request(host: str, email: str, password: str) -> bytes:
    body = json.dumps({"email": email, "password": password}).encode()
    return _request(host, "/auth/register", "application/json", body)


def login_request(host: str, email: str, password: str) -> bytes:
    return _request(host, "/auth/jwt/login", FORM, urlencode({"username": email, "password": password}).encode())


def check_register(reply: Reply) -> None:
    if reply.status != 201:
        raise HttpError(str(reply.status), reply.describe())


def check_login(reply: Reply) -> str:
    """The access token of a successful login."""
    if reply.status != 200:
        raise HttpError(str(reply.status), reply.describe())
    doc = reply.json()
    if doc.get("token_type") != "bearer" or not doc.get("access_token"):
        raise HttpError("no bearer token", reply.describe())
    token: str = doc["access_token"]
    return token
