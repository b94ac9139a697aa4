"""The command forms later tooling relies on: init, clients create, keys rotate, migrate, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantry.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TENANTRY_DATA_DIR": str(tmp_path),
        "TENANTRY_ARGON2_MEMORY_KIB": "1024",
        "TENANTRY_ARGON2_TIME_COST": "1",
    }


def run(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_migrate_creates_the_database(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "migrate")
    assert (tmp_path / "tenantry.db").exists()


def test_init_is_idempotent_and_prints_secret_once(env: dict[str, str]) -> None:
    first = json.loads(run(env, "init", "--domain", "auth.example.test:8443", "--json"))
    assert set(first) == {"applicationId", "vanityDomain", "m2mClientId", "m2mClientSecret"}
    assert first["vanityDomain"] == "auth.example.test:8443" and len(first["m2mClientSecret"]) >= 32
    again = json.loads(run(env, "init", "--domain", "auth.example.test:8443", "--json"))
    assert again == {k: v for k, v in first.items() if k != "m2mClientSecret"}
    rotated = json.loads(run(env, "init", "--domain", "auth.example.test:8443", "--json", "--rotate-secret"))
    assert rotated["m2mClientId"] == first["m2mClientId"]
    assert rotated["m2mClientSecret"] != first["m2mClientSecret"]


def test_init_refuses_a_bad_domain(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["init", "--domain", "not a domain", "--json"], env=env)
    assert result.exit_code == 2


def test_clients_create(env: dict[str, str]) -> None:
    run(env, "init", "--domain", "auth.example.test", "--custom-domain")
    out = json.loads(
        run(
            env,
            "clients",
            "create",
            "--type",
            "BACKEND_SERVER",
            "--name",
            "Web app",
            "--redirect-uri",
            "https://{tenant_name}.app.test/callback",
            "--login-url",
            "https://{tenant_name}.app.test/login",
            "--json",
        )
    )
    assert set(out) == {"clientId", "clientSecret"} and len(out["clientSecret"]) >= 32
    spa = json.loads(run(env, "clients", "create", "--type", "SPA", "--name", "SPA", "--json"))
    assert spa["clientSecret"] is None
    bad = runner.invoke(
        app, ["clients", "create", "--type", "BACKEND_SERVER", "--name", "x", "--redirect-uri", "ftp://x"], env=env
    )
    assert bad.exit_code == 2


def test_keys_rotate_keeps_old_key_published(env: dict[str, str]) -> None:
    from tenantry.bootstrap import bootstrap
    from tenantry.settings import Settings

    run(env, "init", "--domain", "auth.example.test")
    services = bootstrap(Settings(data_dir=Path(env["TENANTRY_DATA_DIR"])))
    before = {k["kid"] for k in services.keys.jwks()["keys"]}
    out = run(env, "keys", "rotate")
    new_kid = out.strip().rsplit(" ", 1)[-1]
    services.keys.reload()  # as another node does after its refresh interval
    after = {k["kid"] for k in services.keys.jwks()["keys"]}
    assert after == before | {new_kid}
    services.close()


def test_demo_bootstraps_once_and_keeps_its_credentials(env: dict[str, str], tmp_path: Path) -> None:
    """``make run`` calls ``tenantry demo``: an application in custom-domain mode, the ``acme``
    tenant, an admin user, a dashboard administrator, M2M and app clients, and a local CA and
    certificate; run again it changes nothing and prints the same credentials."""
    first = json.loads(run(env, "demo", "--domain", "localhost:18443", "--json"))
    assert first["vanityDomain"] == "localhost:18443" and first["tenantHost"] == "acme.localhost:18443"
    for key in ("m2mClientId", "m2mClientSecret", "appClientId", "appClientSecret", "adminPassword"):
        assert first[key], key
    assert first["dashboardEmail"] and len(first["dashboardPassword"]) >= 16
    for key in ("caFile", "tlsCert", "tlsKey"):
        assert Path(first[key]).is_file() and Path(first[key]).is_relative_to(tmp_path), key
    assert (tmp_path / "demo.json").stat().st_mode & 0o077 == 0  # the credentials file is private
    again = json.loads(run(env, "demo", "--domain", "localhost:18443", "--json"))
    assert again == first
    text = run(env, "demo", "--domain", "localhost:18443")
    assert "Tenantry is ready." in text and first["dashboardPassword"] in text and first["caFile"] in text
