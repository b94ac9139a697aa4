"""Helpers shared by the test suites: random names, a built application, API calls."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tenantry.bootstrap import Services, bootstrap
from tenantry.core.applications.service import initialize_application
from tenantry.settings import Settings


def rand(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(5)}"


def rand_email() -> str:
    return f"{rand('u')}@example.com"


GENEROUS_IP_LIMITS = {
    name: "100000/minute" for name in ("login_ip", "signup_ip", "discovery_ip", "forgot_ip", "otp_ip")
}


def test_settings(data_dir: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    """Fast argon2 parameters: tests exercise the code path, benchmarks measure the real ones."""
    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        tenant_purge_interval=0.2,
        # Every TestClient request comes from the same address: per-IP budgets would couple
        # unrelated tests. Per-identifier limits stay as in production.
        **{**overrides, "rate_limits": {**GENEROUS_IP_LIMITS, **overrides.get("rate_limits", {})}},
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class Api:
    """A TestClient bound to one application's vanity domain, with its admin M2M credentials."""

    client: TestClient
    services: Services
    application_id: str
    vanity: str
    m2m_id: str
    m2m_secret: str
    _token: str | None = None

    def token_for(self, client_id: str, secret: str) -> str:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        response = self.client.post(
            "/api/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.token_for(self.m2m_id, self.m2m_secret)
        return self._token

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def create_tenant(self, **fields: Any) -> dict[str, Any]:
        body = {"domainName": rand("tn"), "displayName": "Test tenant", **fields}
        response = self.call("POST", "/tenants", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def create_user(self, tenant_id: str, **fields: Any) -> dict[str, Any]:
        body = {"tenantId": tenant_id, "identityProviderName": "wristband", "email": rand_email(), **fields}
        response = self.call("POST", "/users", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def create_m2m_client(self, tenant_id: str | None = None, role_names: list[str] | None = None) -> tuple[str, str]:
        roles = self.call("GET", f"/tenants/{tenant_id}/roles?include_application_roles=true&count=100").json()
        wanted = role_names or ["tenant-admin" if tenant_id else "admin-client"]
        role_ids = [r["id"] for r in roles["items"] if r["sku"] in wanted]
        body = {"name": rand("client"), "type": "MACHINE_TO_MACHINE", "tenantId": tenant_id, "roleIds": role_ids}
        response = self.call("POST", "/clients", json=body)
        assert response.status_code == 201, response.text
        doc = response.json()
        return doc["id"], doc["clientSecret"]


def build_api(data_dir: Path, database_url: str | None = None, vanity: str | None = None, **settings: Any) -> Api:
    from tenantry.web.app import create_app

    services = bootstrap(test_settings(data_dir, database_url, **settings))
    return _new_application(services, create_app(services), vanity or f"{rand('app')}.test")


def another_application(api: Api) -> Api:
    """A new application served by ``api``'s server (the same services and app): for a test that
    needs an application no other test has touched."""
    return _new_application(api.services, api.client.app, f"{rand('app')}.test")


def _new_application(services: Services, app: Any, vanity: str) -> Api:
    result = initialize_application(services.core, vanity, custom_domain=False)
    assert result.client_secret is not None
    client = TestClient(app, base_url=f"https://{vanity}")
    return Api(client, services, result.application.id, vanity, result.client.id, result.client_secret)


class PeakConcurrency:
    """How many threads are inside ``running()`` now (``now``), and at most so far (``peak``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


# --- PostgreSQL databases of their own ---------------------------------------------------------


def run_on_server(server_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE) on the server of ``server_url``."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def drop_postgres_database(server_url: str, name: str) -> None:
    """Drop ``name`` with the sessions still in it. FORCE refuses while an autovacuum worker is in
    the database unless the role is in pg_signal_backend, which scripts/pg-test.sh grants."""
    run_on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database on the server of ``server_url``, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    run_on_server(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}"
    finally:
        drop_postgres_database(server_url, name)
