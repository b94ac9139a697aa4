"""Real ``tenantry serve`` processes for the fault tests: nodes on one database, a round-robin
client in front of them, a real SMTP server (aiosmtpd) that can go down and come back, and SQL
helpers to look at what the nodes wrote.

The nodes speak plain HTTP on loopback; the test sends the application's vanity domain (or a
tenant host) in ``Host``, as a load balancer terminating TLS would. Every node of a cluster gets
its own data directory and the same ``TENANTRY_*`` settings that docs/deploying.md says nodes
must share: the database URL and the SAML SP key and certificate.
"""

from __future__ import annotations

import email
import itertools
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import Engine, create_engine

from tenantry.adapters.security.saml_credentials import load_or_create_sp_credentials
from tenantry.bootstrap import bootstrap
from tenantry.core.applications.service import initialize_application
from tests.support import GENEROUS_IP_LIMITS, postgres_database, test_settings

STARTUP_SECONDS = 60.0
PASSWORD = "Correct-Horse-42-battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def tenantry_command() -> list[str]:
    script = Path(sys.executable).with_name("tenantry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tenantry.cli"]


# --- databases -------------------------------------------------------------------------------


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A database of its own on the test server: the nodes' dispatchers must not send (and so
    steal) the outbox rows of other tests sharing the session's database."""
    with postgres_database(server_url, "rel") as url:
        yield url


# --- SMTP --------------------------------------------------------------------------------------


class Mailbox(Message):
    """Every message the SMTP server accepted, parsed."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    def handle_message(self, message: Any) -> None:
        parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self._messages.append(parsed)

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def per_recipient(self) -> Counter[str]:
        return Counter(str(m["X-RcptTo"]).lower() for m in self.messages())

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for m in self.messages() if str(m["X-RcptTo"]).lower() == recipient.lower()]

    def wait_for_all(self, recipients: set[str], seconds: float) -> Counter[str]:
        """Waits until every recipient has at least one message; returns the counts per recipient."""
        deadline = time.monotonic() + seconds
        wanted = {r.lower() for r in recipients}
        while True:
            counts = self.per_recipient()
            if wanted <= set(counts) or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)


class SmtpServer:
    """aiosmtpd on a fixed loopback port; ``stop()`` and ``start()`` make an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test")
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def invitation_code(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, "the email has no text/plain part"
    found = re.search(r"[?&]code=([A-Za-z0-9_\-%]+)", body.get_content())
    assert found, "no code in the email"
    return found.group(1)


# --- nodes -------------------------------------------------------------------------------------


@dataclass
class Node:
    """One ``tenantry serve`` process (with ``workers`` worker processes)."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*tenantry_command(), *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                last = f"the process exited ({self.proc.returncode if self.proc else 'not started'})"
                break
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                last = repr(error)
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become healthy: {last}\n{self.log_text()[-4000:]}")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no rollback, no lease released."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"


@dataclass(frozen=True)
class AppCredentials:
    application_id: str
    vanity: str
    m2m_id: str
    m2m_secret: str


def node_env(data_dir: Path, database_url: str | None, shared: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_ENV="test",
        TENANTRY_DATA_DIR=str(data_dir),
        TENANTRY_ARGON2_MEMORY_KIB="1024",
        TENANTRY_ARGON2_TIME_COST="1",
        TENANTRY_LOG_LEVEL="WARNING",
        # Every request of a test comes from 127.0.0.1: per-IP budgets would refuse the burst.
        TENANTRY_RATE_LIMITS=json.dumps(GENEROUS_IP_LIMITS),
        TENANTRY_MAIL_POLL_SECONDS="0.1",
        TENANTRY_MAIL_RETRY_BASE_SECONDS="0.2",
    )
    if database_url is not None:
        env["TENANTRY_DATABASE_URL"] = database_url
    env.update(shared)
    return env


def init_application(data_dir: Path, database_url: str | None, vanity: str) -> AppCredentials:
    """``tenantry init`` in this process (what the CLI does, without another interpreter start)."""
    services = bootstrap(test_settings(data_dir, database_url))
    try:
        done = initialize_application(services.core, vanity, custom_domain=False)
    finally:
        services.close()
    assert done.client_secret is not None
    return AppCredentials(done.application.id, done.application.vanity_domain, done.client.id, done.client_secret)


@dataclass
class Cluster:
    """Nodes on one database, with the application they all serve."""

    root: Path
    database_url: str | None  # None: the default, SQLite in the (only) node's data directory
    nodes: list[Node] = field(default_factory=list)
    app: AppCredentials | None = None
    _token: str | None = None

    @classmethod
    def start(
        cls,
        root: Path,
        database_url: str | None,
        count: int,
        shared: Mapping[str, str] | None = None,
        per_node: Callable[[int], Mapping[str, str]] = lambda _: {},
        workers: int = 1,
    ) -> Cluster:
        """Initialises the application once, then starts ``count`` nodes and waits for them all."""
        cluster = cls(root, database_url)
        sp = load_or_create_sp_credentials(root / "saml", None, None)
        del sp  # the files are what the nodes share
        common = {
            "TENANTRY_SAML_SP_KEY_FILE": str(root / "saml" / "sp-key.pem"),
            "TENANTRY_SAML_SP_CERT_FILE": str(root / "saml" / "sp-cert.pem"),
            **(shared or {}),
        }
        data_dirs = [root / f"node{i}" for i in range(count)]
        for data_dir in data_dirs:
            data_dir.mkdir(parents=True, exist_ok=True)
        if database_url is None:
            # The default: SQLite in the data directory (TENANTRY_DATABASE_URL unset); one node only.
            assert count == 1, "SQLite nodes cannot share a database"
            cluster.database_url = f"sqlite:///{(data_dirs[0] / 'tenantry.db').resolve()}"
        cluster.app = init_application(data_dirs[0], database_url, f"app{secrets.token_hex(4)}.test")
        for i, data_dir in enumerate(data_dirs):
            env = node_env(data_dir, database_url, {**common, **per_node(i)})
            cluster.nodes.append(Node(f"node{i}", free_port(), env, root / f"node{i}.log", workers))
        for node in cluster.nodes:
            node.start()
        try:
            for node in cluster.nodes:
                node.wait_ready()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @property
    def vanity(self) -> str:
        assert self.app is not None
        return self.app.vanity

    def tenant_host(self, domain_name: str) -> str:
        return f"{domain_name}-{self.vanity}"

    def token(self) -> str:
        """A client-credentials token (any node can verify it: the signing keys are in the database)."""
        if self._token is None:
            assert self.app is not None
            with self.client(0, bearer=False) as client:
                response = client.post(
                    "/api/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.app.m2m_id, self.app.m2m_secret),
                )
            assert response.status_code == 200, response.text
            self._token = str(response.json()["access_token"])
        return self._token

    def client(self, index: int, *, host: str | None = None, bearer: bool = True) -> httpx.Client:
        headers = {"Host": host or self.vanity}
        if bearer:
            headers["Authorization"] = f"Bearer {self.token()}"
        return httpx.Client(
            base_url=self.nodes[index].base_url,
            headers=headers,
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def engine(self) -> Engine:
        assert self.database_url is not None
        return create_engine(self.database_url)

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} ---\n{n.log_text()[-3000:]}" for n in self.nodes)


class RoundRobin:
    """The test's own load balancer: each request goes to the next node, from any thread."""

    def __init__(self, clients: list[httpx.Client]) -> None:
        self.clients = clients
        self._next = itertools.cycle(range(len(clients)))
        self._lock = threading.Lock()

    def pick(self) -> httpx.Client:
        with self._lock:
            index = next(self._next)
        return self.clients[index]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.pick().request(method, path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def create_tenant(client: httpx.Client | RoundRobin, **fields: Any) -> dict[str, Any]:
    body = {"domainName": f"tn{secrets.token_hex(5)}", "displayName": "Reliability tenant", **fields}
    response = client.post("/api/v1/tenants", json=body)
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


def error_code(response: httpx.Response) -> str:
    """The documented error code of a 4xx: a base error's ``code``, or the violations' codes."""
    doc: dict[str, Any] = response.json()
    if doc.get("type") == "constraint_violations_error":
        return ",".join(sorted({v["code"] for found in doc["violations"].values() for v in found}))
    return str(doc.get("code"))
