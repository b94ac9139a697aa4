"""A real ``tenantry serve`` over TLS for the official Wristband SDKs.

The session starts one server subprocess on a free port with two applications in one SQLite
database: the main one on the vanity domain ``localhost:PORT`` and a second one on
``127.0.0.1:PORT`` (same server, same signing keys, another issuer). The SDKs hard-code
``https://{vanity}``, so they reach the server exactly as they would reach Wristband; they trust
the throwaway CA through ``SSL_CERT_FILE`` (httpx) and ``REQUESTS_CA_BUNDLE`` (requests), which
are overridden for the tests of this package only.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantry.adapters.security.tls import ensure_local_certificates

STARTUP_SECONDS = 30.0


def rand(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(5)}"


def rand_email() -> str:
    return f"{rand('u')}@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class AppCredentials:
    """One application on the server and its admin M2M client (from ``tenantry init --json``)."""

    application_id: str
    vanity: str
    m2m_id: str
    m2m_secret: str

    @property
    def base_url(self) -> str:
        return f"https://{self.vanity}"

    @property
    def issuer(self) -> str:
        return f"https://{self.vanity}"


@dataclass(frozen=True)
class TenantryServer:
    app: AppCredentials
    other: AppCredentials  # a second application on 127.0.0.1:PORT
    ca: Path
    port: int
    data_dir: Path
    log: Path

    @property
    def vanity(self) -> str:
        return self.app.vanity

    @property
    def base_url(self) -> str:
        return self.app.base_url

    @property
    def application_id(self) -> str:
        return self.app.application_id

    @property
    def m2m_id(self) -> str:
        return self.app.m2m_id

    @property
    def m2m_secret(self) -> str:
        return self.app.m2m_secret

    @property
    def database(self) -> Path:
        return self.data_dir / "tenantry.db"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def client(self, app: AppCredentials | None = None) -> httpx.Client:
        return httpx.Client(base_url=(app or self.app).base_url, verify=self.ssl_context(), timeout=30)

    def token(self, app: AppCredentials | None = None) -> str:
        """A client-credentials token fetched with plain httpx (independent of the SDKs under test)."""
        app = app or self.app
        with self.client(app) as c:
            response = c.post(
                "/api/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(app.m2m_id, app.m2m_secret),
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATA_DIR=str(data_dir),
        TENANTRY_ARGON2_MEMORY_KIB="1024",
        TENANTRY_ARGON2_TIME_COST="1",
        TENANTRY_LOG_LEVEL="INFO",
    )
    return env


def _tenantry() -> list[str]:
    script = Path(sys.executable).with_name("tenantry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tenantry.cli"]


def _init(domain: str, env: dict[str, str]) -> AppCredentials:
    done = subprocess.run(
        [*_tenantry(), "init", "--domain", domain, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"tenantry init failed ({done.returncode}):\n{done.stderr}\n{done.stdout}"
    doc: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["vanityDomain"] == domain, doc
    return AppCredentials(doc["applicationId"], doc["vanityDomain"], doc["m2mClientId"], doc["m2mClientSecret"])


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, ca: Path, log: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + STARTUP_SECONDS
    last: str = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            last = f"the server exited with code {proc.returncode}"
            break
        try:
            response = httpx.get(url, verify=context, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.1)
    output = log.read_text(errors="replace") if log.exists() else "(no log)"
    print(f"--- tenantry serve log ({log}) ---\n{output}", file=sys.stderr)
    pytest.fail(f"tenantry serve did not become healthy at {url}: {last}\n{output[-4000:]}", pytrace=False)


@pytest.fixture(scope="session")
def tenantry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantryServer]:
    root = tmp_path_factory.mktemp("compat")
    data_dir = root / "data"
    data_dir.mkdir()
    certs = ensure_local_certificates(root / "tls", ["localhost", "127.0.0.1"])
    port = free_port()
    env = _server_env(data_dir)
    app = _init(f"localhost:{port}", env)
    other = _init(f"127.0.0.1:{port}", env)
    log = root / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                *_tenantry(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--tls-cert",
                str(certs["cert"]),
                "--tls-key",
                str(certs["key"]),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        _wait_healthy(proc, f"https://localhost:{port}/health", certs["ca"], log)
        yield TenantryServer(app, other, certs["ca"], port, data_dir, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="package", autouse=True)
def trust_test_ca(tenantry_server: TenantryServer) -> Iterator[None]:
    """The SDKs build their own HTTP clients: make them trust the test CA, for this package only."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SSL_CERT_FILE", str(tenantry_server.ca))  # httpx (m2m-auth, python-jwt)
        mp.setenv("REQUESTS_CA_BUNDLE", str(tenantry_server.ca))  # requests (user-import)
        mp.setenv("NO_PROXY", "localhost,127.0.0.1")
        mp.setenv("no_proxy", "localhost,127.0.0.1")
        yield


@pytest.fixture(scope="session")
def admin_token(tenantry_server: TenantryServer) -> str:
    return tenantry_server.token()


@pytest.fixture(scope="session")
def api(tenantry_server: TenantryServer, admin_token: str) -> Iterator[httpx.Client]:
    """httpx on ``https://localhost:PORT/api/v1`` with the admin client-credentials token."""
    with httpx.Client(
        base_url=f"{tenantry_server.base_url}/api/v1",
        verify=tenantry_server.ssl_context(),
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    ) as client:
        yield client


def create_tenant(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/tenants", json={"domainName": rand("tn"), "displayName": "Compat tenant"})
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


@pytest.fixture
def tenant_id(api: httpx.Client) -> str:
    tenant_id: str = create_tenant(api)["id"]
    return tenant_id
