"""Fixtures: a migrated SQLite database per test session (tests use random ids, so they share it),
and a fresh PostgreSQL database per session on the throwaway server that `make test` starts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sso_support import OidcIdp, start_oidc_idp
from tests.support import Api, build_api, postgres_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The PostgreSQL server of `make test` (TENANTRY_TEST_PG_URL), or one this session starts."""
    url = os.environ.get("TENANTRY_TEST_PG_URL")
    if url:
        yield url
        return
    env = {**os.environ, "PGDIR": f"/tmp/tenantry-pg-{os.getpid()}", "PGPORT": str(55000 + os.getpid() % 5000)}
    script = str(ROOT / "scripts" / "pg-test.sh")
    started = subprocess.run([script, "start"], env=env, check=True, capture_output=True, text=True)
    yield started.stdout.strip().splitlines()[-1]
    subprocess.run([script, "stop"], env=env, check=False)


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A database of its own for this test session (xdist workers each get one)."""
    with postgres_database(pg_server_url, "t") as url:
        yield url


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    built = build_api(tmp_path_factory.mktemp("sqlite"))
    with built.client:
        yield built
    built.services.close()


@pytest.fixture(scope="session")
def pg_api(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Api]:
    built = build_api(tmp_path_factory.mktemp("pg"), pg_url)
    with built.client:
        yield built
    built.services.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_api(request: pytest.FixtureRequest) -> Api:
    """The same HTTP test against both databases."""
    name = "api" if request.param == "sqlite" else "pg_api"
    built: Api = request.getfixturevalue(name)
    return built


@pytest.fixture(scope="session")
def oidc_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIdp]:
    """oidc-provider from npm (tests/idp/oidc.mjs), one per test session / xdist worker."""
    idp = start_oidc_idp(tmp_path_factory.mktemp("oidc-idp"))
    yield idp
    idp.server.stop()
