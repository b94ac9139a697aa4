"""PostgreSQL goes away under two ``tenantry serve`` nodes and comes back.

While it is down, every API call is answered quickly with ``503 service_unavailable`` and a
``Retry-After`` (what load balancers and clients retry on), never a 500 or a hang, and
``/health`` says 503. Once it is back, both nodes serve again without a restart (their pools
throw the dead connections away) and nothing written before the outage is lost.

The test runs its own throwaway PostgreSQL (scripts/pg-test.sh), since it stops the server.
"""

from __future__ import annotations

import glob
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError

from tenantry.adapters.sql.errors import database_unavailable
from tests.reliability.nodes import Cluster, RoundRobin, create_tenant, free_port

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
RECOVERY_SECONDS = 30.0


class OwnPostgres:
    """A throwaway PostgreSQL cluster this test may stop (immediately, as a crash) and start."""

    def __init__(self) -> None:
        # Under /tmp, which the postgres user can traverse (a pytest tmp_path under /root is not).
        self.dir = Path(f"/tmp/tenantry-rel-pg-{os.getpid()}-{free_port()}")
        self.port = free_port()
        self.env = {**os.environ, "PGDIR": str(self.dir), "PGPORT": str(self.port)}

    def create(self) -> str:
        script = str(ROOT / "scripts" / "pg-test.sh")
        done = subprocess.run([script, "start"], env=self.env, check=True, capture_output=True, text=True)
        return done.stdout.strip().splitlines()[-1]

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = f"{sorted(glob.glob('/usr/lib/postgresql/*/bin'))[-1]}/pg_ctl"
        command = [pg_ctl, "-D", str(self.dir / "data"), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def crash(self) -> None:
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
        self._pg_ctl("-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def destroy(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg-test.sh"), "stop"], env=self.env, check=False)


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[OwnPostgres, str]]:
    server = OwnPostgres()
    try:
        url = server.create()
        yield server, url
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def cluster(postgres: tuple[OwnPostgres, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster.start(tmp_path_factory.mktemp("db-outage"), postgres[1], 2)
    try:
        yield started
    finally:
        started.stop()


def calls(balancer: RoundRobin, tenant_id: str, user_id: str) -> list[tuple[str, httpx.Response, float]]:
    out = []
    for n in range(4):
        for what, method, path, body in (
            ("read user", "GET", f"/api/v1/users/{user_id}", None),
            ("list users", "GET", f"/api/v1/tenants/{tenant_id}/users", None),
            (
                "create user",
                "POST",
                "/api/v1/users",
                {
                    "tenantId": tenant_id,
                    "identityProviderName": "wristband",
                    "email": f"outage{n}-{time.monotonic_ns()}@example.com",
                },
            ),
        ):
            start = time.monotonic()
            response = balancer.request(method, path, json=body)
            out.append((what, response, time.monotonic() - start))
    return out


def test_a_database_outage_is_answered_503_and_both_nodes_recover(
    postgres: tuple[OwnPostgres, str], cluster: Cluster
) -> None:
    server = postgres[0]
    balancer = RoundRobin([cluster.client(0), cluster.client(1)])
    try:
        tenant = create_tenant(balancer)
        created = balancer.post(
            "/api/v1/users",
            json={"tenantId": tenant["id"], "identityProviderName": "wristband", "email": "before@example.com"},
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        assert all(r.status_code < 300 for _, r, _ in calls(balancer, tenant["id"], user_id))

        server.crash()
        try:
            down = calls(balancer, tenant["id"], user_id)
            for index in range(len(cluster.nodes)):
                health = httpx.get(f"{cluster.nodes[index].base_url}/health", timeout=30)
                assert health.status_code == 503, health.text
        finally:
            server.restart()
        wrong = [(what, r.status_code, r.text[:200]) for what, r, _ in down if r.status_code != 503]
        assert not wrong, f"{wrong}\n{cluster.logs()}"
        assert all(r.json()["code"] == "service_unavailable" and r.headers.get("Retry-After") for _, r, _ in down)
        slowest = max(seconds for _, _, seconds in down)
        assert slowest < 10, f"a call waited {slowest:.1f} s for the database"

        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            up = calls(balancer, tenant["id"], user_id)
            if all(r.status_code < 300 for _, r, _ in up) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert all(r.status_code < 300 for _, r, _ in up), [(w, r.status_code, r.text[:200]) for w, r, _ in up]
        again = balancer.get(f"/api/v1/users/{user_id}")
        assert again.status_code == 200 and again.json()["email"] == "before@example.com"
    finally:
        balancer.close()


def test_only_a_database_that_cannot_serve_now_counts_as_unavailable(tmp_path: Path) -> None:
    """The 503 is for a database that is away or busy, never for a statement that is wrong."""

    def error_of(engine: Engine, statement: str) -> BaseException:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(statement)
        except DBAPIError as error:
            return error
        raise AssertionError(f"{statement} did not fail")

    unreachable = create_engine(f"postgresql+psycopg://x:y@127.0.0.1:{free_port()}/z")
    assert database_unavailable(error_of(unreachable, "SELECT 1"))
    unreachable.dispose()

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder, waiter = create_engine(url), create_engine(url, connect_args={"timeout": 0})
    try:
        assert not database_unavailable(error_of(waiter, "SELECT * FROM no_such_table"))
        with holder.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")  # holds the write lock until the end
            assert database_unavailable(error_of(waiter, "INSERT INTO t VALUES (2)"))
    finally:
        holder.dispose()
        waiter.dispose()
