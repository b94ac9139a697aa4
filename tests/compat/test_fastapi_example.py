"""The example app (``examples/fastapi_app``), built on the unmodified ``wristband-fastapi-auth``
SDK, signs a user in through a real ``tenantry serve`` over TLS: login → hosted login page →
callback → session → a page that needs it → an API route protected by the access token →
logout, which ends the Tenantry session and revokes the refresh token.

The browser is an httpx client that follows redirects by hand and keeps cookies; the tenant and
app hosts (``*.localhost``) resolve to loopback through a patched ``getaddrinfo``.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from tenantry.adapters.security.tls import ensure_local_certificates
from tests.compat.conftest import TenantryServer, _server_env, _tenantry, _wait_healthy, free_port, rand, rand_email

PASSWORD = "correct horse battery staple"


@dataclass
class ExampleWorld:
    vanity: str
    app_base: str
    tenant: str
    email: str
    data_dir: Path
    ca: Path


@pytest.fixture(scope="module")
def loopback_localhost() -> Iterator[None]:
    original = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.endswith(".localhost"):
            return original("127.0.0.1", *args, **kwargs)
        return original(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", resolve)
        yield


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, tenantry_server: TenantryServer, loopback_localhost: None
) -> Iterator[ExampleWorld]:
    root = tmp_path_factory.mktemp("example")
    tls = root / "tls"
    tls.mkdir()
    for name in ("ca.pem", "ca-key.pem"):  # the CA the package already trusts
        shutil.copy(tenantry_server.ca.parent / name, tls / name)
    tenant = rand("acme")
    port, app_port = free_port(), free_port()
    certs = ensure_local_certificates(tls, ["localhost", "127.0.0.1", f"{tenant}.localhost", "app.localhost"])
    data_dir = root / "data"
    data_dir.mkdir()
    env = _server_env(data_dir)
    vanity = f"localhost:{port}"
    init = subprocess.run(
        [*_tenantry(), "init", "--domain", vanity, "--custom-domain", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    creds = json.loads(init.stdout.strip().splitlines()[-1])
    log = root / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                *_tenantry(),
                "serve",
                "--port",
                str(port),
                "--tls-cert",
                str(certs["cert"]),
                "--tls-key",
                str(certs["key"]),
            ],
            env=env,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        _wait_healthy(proc, f"https://localhost:{port}/health", certs["ca"], log)
        verify = ssl.create_default_context(cafile=str(certs["ca"]))
        with httpx.Client(base_url=f"https://{vanity}/api/v1", verify=verify, timeout=30) as api:
            token = api.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(creds["m2mClientId"], creds["m2mClientSecret"]),
            ).json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            tenant_doc = api.post("/tenants", json={"domainName": tenant, "displayName": "Acme Example"}).json()
            email = rand_email()
            user = api.post(
                "/users",
                json={
                    "tenantId": tenant_doc["id"],
                    "identityProviderName": "wristband",
                    "email": email,
                    "status": "ACTIVE",
                    "password": PASSWORD,
                    "givenName": "Ada",
                },
            )
            assert user.status_code == 201, user.text
            app_base = f"https://app.localhost:{app_port}"
            client = api.post(
                "/clients",
                json={
                    "name": "Example app",
                    "type": "BACKEND_SERVER",
                    "redirectUris": [f"{app_base}/auth/callback"],
                    "loginUrl": f"{app_base}/auth/login",
                },
            ).json()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VANITY_DOMAIN", vanity)
            mp.setenv("CLIENT_ID", client["id"])
            mp.setenv("CLIENT_SECRET", client["clientSecret"])
            mp.setenv("SESSION_SECRET", rand("s") * 4)
            from examples.fastapi_app.app import create_app

            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(),
                    host="127.0.0.1",
                    port=app_port,
                    log_level="warning",
                    ssl_certfile=str(certs["cert"]),
                    ssl_keyfile=str(certs["key"]),
                )
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 20
            while not server.started:
                assert time.monotonic() < deadline, "example app did not start"
                time.sleep(0.02)
            try:
                yield ExampleWorld(vanity, app_base, tenant, email, data_dir, certs["ca"])
            finally:
                server.should_exit = True
                thread.join(timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def browse(browser: httpx.Client, url: str, stop_at: str | None = None) -> httpx.Response:
    """Follow redirects across hosts like a browser; stop at a URL starting with ``stop_at``."""
    response = browser.get(url)
    for _ in range(20):
        if not response.is_redirect:
            return response
        url = urljoin(str(response.url), response.headers["location"])
        if stop_at and url.startswith(stop_at):
            return response
        response = browser.get(url)
    raise AssertionError("redirect loop")


def test_login_session_api_and_logout_through_the_sdk(world: ExampleWorld) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(world.ca)), timeout=30) as browser:
        page = browse(browser, f"{world.app_base}/auth/login?tenant_name={world.tenant}")
        assert page.status_code == 200 and str(page.url).startswith(f"https://{world.tenant}.localhost:")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        req = re.search(r'name="req" value="([^"]+)"', page.text)
        assert csrf and req
        posted = browser.post(
            str(page.url).split("?")[0],
            data={"csrf_token": csrf.group(1), "req": req.group(1), "identifier": world.email, "password": PASSWORD},
        )
        assert posted.status_code == 302, posted.text
        assert posted.headers["location"].startswith(f"{world.app_base}/auth/callback?code=")
        me = browse(browser, posted.headers["location"])
        assert me.status_code == 200, me.text
        session = me.json()
        assert session["tenantName"] == world.tenant and session["identityProviderName"] == "wristband"

        hello = browser.get(
            f"{world.app_base}/api/hello", headers={"Authorization": f"Bearer {session['accessToken']}"}
        )
        assert hello.status_code == 200 and hello.json()["hello"] == session["userId"]
        assert browser.get(f"{world.app_base}/api/hello", headers={"Authorization": "Bearer nope"}).status_code == 401

        out = browse(browser, f"{world.app_base}/auth/logout", stop_at=f"{world.app_base}/auth/login")
        assert out.headers["location"].startswith(f"{world.app_base}/auth/login")
        assert browser.get(f"{world.app_base}/me").status_code == 401

    engine = sa.create_engine(f"sqlite:///{world.data_dir / 'tenantry.db'}")
    with engine.connect() as conn:
        live = conn.execute(sa.text("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")).scalar_one()
        sessions = conn.execute(sa.text("SELECT count(*) FROM auth_sessions")).scalar_one()
    engine.dispose()
    assert live == 0 and sessions == 0
