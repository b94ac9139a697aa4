"""Browser tests: Debian's Chromium (driven by Playwright) against a real ``tenantry serve``.

One world per test package (and per xdist worker):

- a throwaway CA, trusted by Chromium for real through an NSS database in a throwaway ``HOME``
  (``certutil``), and by the Python side through ``SSL_CERT_FILE``. No ``ignore_https_errors``:
  the leaf names every host the tests visit, because Chromium refuses the ``*.localhost``
  wildcard. Tenant names are therefore drawn from a pool made before the certificate;
- an aiosmtpd SMTP server in this process (``TENANTRY_SMTP_URL``), that a test can stop and
  start again on the same port;
- ``tenantry serve`` over TLS on ``localhost:PORT`` with ``--custom-domain`` (tenant hosts
  ``{tenant}.localhost:PORT``, which Chromium resolves by itself);
- the example app (``examples/fastapi_app``, the unmodified ``wristband-fastapi-auth`` SDK) on
  ``app.localhost:APPPORT`` in a uvicorn thread;
- on demand, a second server without ``--custom-domain`` (tenant hosts
  ``{tenant}-localhost:PORT``, which needs ``--host-resolver-rules``) and its own example app.

The Playwright fixtures (``playwright``, ``browser``, …) are package scoped here: the sync API
leaves an asyncio loop marked as running in the main thread for as long as it is started,
which would break ``asyncio.run()`` in the tests that run after this package.

``TENANTRY_SCREENSHOTS=1`` makes the tests save full-page screenshots of the hosted pages to
``docs/screenshots/``.
"""

from __future__ import annotations

import email
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from playwright.sync_api import Browser, BrowserType, Page, Playwright, sync_playwright

from tenantry.adapters.security.tls import ensure_local_certificates

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
]
# Chromium resolves *.localhost itself, but not "{tenant}-localhost" (the layout without a custom
# domain): map every name to loopback for the browser that visits those hosts.
RESOLVE_ALL_TO_LOOPBACK = "--host-resolver-rules=MAP * 127.0.0.1, EXCLUDE localhost"
PASSWORD = "correct horse battery staple"
STARTUP_SECONDS = 30.0
MAIL_SECONDS = 15.0
TIMEOUT_MS = 15_000
SCREENSHOTS = ROOT / "docs" / "screenshots"
POOL_SIZE = 40

# Every test module of the package: ``pytestmark = BROWSER_MARKS``. One xdist group, so that
# with ``--dist loadgroup`` one worker runs them all with one server and one browser.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
]


@pytest.fixture(scope="package", autouse=True)
def browser_prerequisites() -> None:
    """Missing Chromium or certutil is a failure, never a skip: `make test` installs both."""
    if not CHROMIUM.exists() or shutil.which("certutil") is None:
        pytest.fail("needs /usr/bin/chromium and certutil: run scripts/system-deps.sh as root", pytrace=False)


def rand(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(5)}"


def rand_email() -> str:
    return f"{rand('u')}@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG of a hosted page, only with ``TENANTRY_SCREENSHOTS=1``."""
    if os.environ.get("TENANTRY_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fetch(page: Page, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """``fetch()`` inside the page (same origin, the browser's cookies and network stack;
    Playwright's own ``page.request`` resolves names with Node and misses ``*.localhost``)."""
    result: list[Any] = page.evaluate(
        """async ([path, form]) => {
            const init = form ? {method: "POST", body: new URLSearchParams(form), redirect: "manual"} : {};
            const response = await fetch(path, init);
            return [response.status, await response.text()];
        }""",
        [path, form],
    )
    return int(result[0]), str(result[1])


# --- mail ----------------------------------------------------------------------------------


class Mailbox(Message):
    """Everything the SMTP server received, parsed, with a wait by recipient."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    def handle_message(self, message: Any) -> None:
        parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self._messages.append(parsed)

    def to(self, recipient: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self._messages if recipient.lower() in str(m["X-RcptTo"]).lower()]

    def wait_for(self, recipient: str, count: int = 1, seconds: float = MAIL_SECONDS) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = self.to(recipient)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} email(s) to {recipient} did not arrive within {seconds} s")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, "the email has no text/plain part"
    content: str = body.get_content()
    return content


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r"https://[^\s<>\"']+", text_of(message))


class Smtp:
    """aiosmtpd on a fixed loopback port; ``stop()`` and ``start()`` simulate an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- certificates and the browser's trust --------------------------------------------------


@dataclass
class NamePool:
    """Tenant domain names known to the certificate (Chromium needs each host listed)."""

    names: list[str]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> str:
        with self._lock:
            assert self.names, "the tenant name pool is empty: raise POOL_SIZE in tests/browser/conftest.py"
            return self.names.pop()


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path
    custom: NamePool  # {name}.localhost
    plain: NamePool  # {name}-localhost


@pytest.fixture(scope="package")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    custom = [rand("acme") for _ in range(POOL_SIZE)]
    plain = [rand("beta") for _ in range(4)]
    hosts = ["localhost", "127.0.0.1", "app.localhost"]
    hosts += [f"{name}.localhost" for name in custom] + [f"{name}-localhost" for name in plain]
    paths = ensure_local_certificates(tmp_path_factory.mktemp("tls"), hosts)
    return Certs(paths["ca"], paths["cert"], paths["key"], NamePool(custom), NamePool(plain))


@pytest.fixture(scope="package")
def browser_home(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Path:
    """A ``HOME`` whose NSS database trusts the test CA: Chromium verifies for real."""
    home = tmp_path_factory.mktemp("chromium-home")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    for command in (
        ["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
        ["certutil", "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "tenantry-test-ca", "-i", str(certs.ca)],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    return home


# --- Playwright, package scoped, on Debian's Chromium --------------------------------------


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    assert browser_name == "chromium", "the browser tests run on Debian's Chromium only"
    browser_type: BrowserType = playwright.chromium
    return browser_type


@pytest.fixture(scope="package")
def browser_type_launch_args(browser_home: Path) -> dict[str, Any]:
    return {
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
        "env": {**os.environ, "HOME": str(browser_home)},
    }


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: BrowserType) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    return {"ignore_https_errors": False, "viewport": {"width": 1024, "height": 720}}


@pytest.fixture
def page(page: Page) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    page.set_default_navigation_timeout(TIMEOUT_MS)
    return page


# --- tenantry serve ------------------------------------------------------------------------


def _tenantry() -> list[str]:
    script = Path(sys.executable).with_name("tenantry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tenantry.cli"]


@dataclass
class Server:
    port: int
    vanity: str
    application_id: str
    data_dir: Path
    ca: Path
    m2m_id: str
    m2m_secret: str
    log: Path
    custom_domain: bool
    process: subprocess.Popen[bytes] | None = None
    _api: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.vanity}"

    @property
    def database(self) -> Path:
        return self.data_dir / "tenantry.db"

    def tenant_url(self, tenant: str, path: str = "/") -> str:
        """``{tenant}.{vanity}`` with the custom domain active, else ``{tenant}-{vanity}``."""
        return f"https://{tenant}{'.' if self.custom_domain else '-'}{self.vanity}{path}"

    @property
    def api(self) -> httpx.Client:
        if self._api is None:
            verify = ssl.create_default_context(cafile=str(self.ca))
            with httpx.Client(base_url=self.base_url, verify=verify, timeout=30) as plain:
                answer = plain.post(
                    "/api/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.m2m_id, self.m2m_secret),
                )
            assert answer.status_code == 200, answer.text
            self._api = httpx.Client(
                base_url=f"{self.base_url}/api/v1",
                verify=verify,
                timeout=30,
                headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
            )
        return self._api

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def create_tenant(self, name: str, *, signup: bool = False, display: str | None = None) -> dict[str, Any]:
        body = {"domainName": name, "displayName": display or f"Org {name}", "signupEnabled": signup}
        doc: dict[str, Any] = self.call("POST", "/tenants", 201, json=body)
        return doc

    def create_user(self, tenant_id: str, email_address: str, password: str = PASSWORD) -> dict[str, Any]:
        body = {
            "tenantId": tenant_id,
            "identityProviderName": "wristband",
            "email": email_address,
            "status": "ACTIVE",
            "password": password,
            "givenName": "Ada",
        }
        doc: dict[str, Any] = self.call("POST", "/users", 201, json=body)
        return doc

    def create_client(self, app_base: str) -> dict[str, Any]:
        body = {
            "name": "Example app",
            "type": "BACKEND_SERVER",
            "redirectUris": [f"{app_base}/auth/callback"],
            "loginUrl": f"{app_base}/auth/login",
        }
        doc: dict[str, Any] = self.call("POST", "/clients", 201, json=body)
        return doc

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the server's SQLite database (read-only)."""
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        if self._api is not None:
            self._api.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(root: Path, certs: Certs, smtp: Smtp, *, custom_domain: bool) -> Server:
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATA_DIR=str(data_dir),
        TENANTRY_ARGON2_MEMORY_KIB="1024",
        TENANTRY_ARGON2_TIME_COST="1",
        TENANTRY_LOG_LEVEL="INFO",
        TENANTRY_SMTP_URL=smtp.url,
        TENANTRY_MAIL_POLL_SECONDS="0.2",
        TENANTRY_MAIL_RETRY_BASE_SECONDS="0.2",
    )
    port = free_port()
    vanity = f"localhost:{port}"
    command = [*_tenantry(), "init", "--domain", vanity, "--json"]
    if custom_domain:
        command.append("--custom-domain")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"tenantry init failed ({done.returncode}):\n{done.stderr}\n{done.stdout}"
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    log = root / "serve.log"
    server = Server(
        port=port,
        vanity=vanity,
        application_id=doc["applicationId"],
        data_dir=data_dir,
        ca=certs.ca,
        m2m_id=doc["m2mClientId"],
        m2m_secret=doc["m2mClientSecret"],
        log=log,
        custom_domain=custom_domain,
    )
    serve = [*_tenantry(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    serve += ["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)]
    with log.open("wb") as sink:
        server.process = subprocess.Popen(
            serve, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        _wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_healthy(server: Server) -> None:
    assert server.process is not None
    verify = ssl.create_default_context(cafile=str(server.ca))
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            last = f"the server exited with code {server.process.returncode}"
            break
        try:
            response = httpx.get(f"{server.base_url}/health", verify=verify, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.05)
    output = server.log.read_text(errors="replace") if server.log.exists() else "(no log)"
    pytest.fail(f"tenantry serve did not become healthy: {last}\n{output[-4000:]}", pytrace=False)


# --- the example app -----------------------------------------------------------------------


@dataclass
class ExampleApp:
    base_url: str
    client_id: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_example_app(server: Server, certs: Certs) -> ExampleApp:
    """The example app on ``app.localhost:PORT`` with a BACKEND_SERVER client of ``server``.
    The SDK reads ``SSL_CERT_FILE`` (set for the package) when it builds its HTTP client."""
    port = free_port()
    base = f"https://app.localhost:{port}"
    client = server.create_client(base)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VANITY_DOMAIN", server.vanity)
        mp.setenv("CLIENT_ID", client["id"])
        mp.setenv("CLIENT_SECRET", client["clientSecret"])
        mp.setenv("SESSION_SECRET", secrets.token_hex(32))
        from examples.fastapi_app.app import create_app

        app = create_app()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(certs.cert),
        ssl_keyfile=str(certs.key),
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name=f"example-app-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the example app did not start"
        time.sleep(0.01)
    return ExampleApp(base, client["id"], uv, thread)


# --- the world -----------------------------------------------------------------------------


@dataclass
class World:
    server: Server
    app: ExampleApp
    smtp: Smtp
    certs: Certs

    @property
    def mailbox(self) -> Mailbox:
        return self.smtp.mailbox

    def tenant_name(self) -> str:
        pool = self.certs.custom if self.server.custom_domain else self.certs.plain
        return pool.take()


@pytest.fixture(scope="package")
def trust_ca_in_python(certs: Certs) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SSL_CERT_FILE", str(certs.ca))
        mp.setenv("NO_PROXY", "localhost,127.0.0.1,.localhost")
        mp.setenv("no_proxy", "localhost,127.0.0.1,.localhost")
        yield


@pytest.fixture(scope="package")
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def world(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs, smtp: Smtp, trust_ca_in_python: None
) -> Iterator[World]:
    """The custom-domain server (tenant hosts ``{tenant}.localhost:PORT``), application signup
    on, and the example app."""
    server = start_server(tmp_path_factory.mktemp("tenantry"), certs, smtp, custom_domain=True)
    try:
        changes = {"signupEnabled": True, "displayName": "Example App"}
        server.call("PATCH", f"/applications/{server.application_id}", 200, json=changes)
        app = start_example_app(server, certs)
        try:
            yield World(server, app, smtp, certs)
        finally:
            app.stop()
    finally:
        server.stop()


@pytest.fixture(scope="package")
def plain_world(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs, smtp: Smtp, trust_ca_in_python: None
) -> Iterator[World]:
    """A second server whose application has no custom domain: tenant hosts are
    ``{tenant}-localhost:PORT``."""
    server = start_server(tmp_path_factory.mktemp("tenantry-plain"), certs, smtp, custom_domain=False)
    try:
        app = start_example_app(server, certs)
        try:
            yield World(server, app, smtp, certs)
        finally:
            app.stop()
    finally:
        server.stop()


def me(page: Page) -> dict[str, Any]:
    """The example app's ``/me`` as the browser sees it (the page must be on the app's origin)."""
    status, body = fetch(page, "/me")
    assert status == 200, body
    doc: dict[str, Any] = json.loads(body)
    return doc


# --- dashboard administrators --------------------------------------------------------------


@dataclass(frozen=True)
class DashboardAdmin:
    id: str
    email: str
    password: str
    tenant_id: str | None = None


def tenantry_cli(server: Server, *args: str) -> str:
    """``tenantry …`` on ``server``'s data directory (the server keeps running); its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(TENANTRY_DATA_DIR=str(server.data_dir), TENANTRY_ARGON2_MEMORY_KIB="1024", TENANTRY_ARGON2_TIME_COST="1")
    done = subprocess.run(
        [*_tenantry(), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"tenantry {' '.join(args)} failed ({done.returncode}):\n{done.stderr}\n{done.stdout}"
    return done.stdout


def create_dashboard_admin(server: Server, tenant_id: str | None = None, email: str | None = None) -> DashboardAdmin:
    """``tenantry admins create``: of the application, or of one tenant with ``tenant_id``."""
    email, password = email or rand_email(), f"{PASSWORD} {secrets.token_hex(4)}"
    args = ["admins", "create", "--email", email, "--password", password, "--domain", server.vanity]
    out = tenantry_cli(server, *args, *(["--tenant", tenant_id] if tenant_id else []))
    found = re.search(r"^admin: (\S+) \(" + re.escape(email), out, re.MULTILINE)
    assert found, out
    return DashboardAdmin(found.group(1), email, password, tenant_id)


@pytest.fixture(scope="package")
def app_admin(world: World) -> DashboardAdmin:
    """An application administrator of ``world``'s dashboard (all tenants)."""
    return create_dashboard_admin(world.server, email=f"admin.{secrets.token_hex(3)}@example.com")
