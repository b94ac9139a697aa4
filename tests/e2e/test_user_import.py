"""``tenantry users import``: a JSON Lines file of Create User bodies, with old systems' password
hashes, on SQLite and PostgreSQL; bad lines are reported by number and the rest imported; a
re-run with ``--skip-existing`` finishes an interrupted import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantry.bootstrap import Services, bootstrap
from tenantry.cli import app
from tenantry.core.access import Principal
from tenantry.core.tenants.service import CreateTenant, create_tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.service import CreateUser, create_user
from tenantry.settings import Settings
from tests.support import postgres_database, rand, rand_email
from tests.unit.test_imported_hashes import PASSWORD, VECTORS

runner = CliRunner()
DOMAIN = "auth.import.test"


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {
        "TENANTRY_DATA_DIR": str(tmp_path),
        "TENANTRY_ARGON2_MEMORY_KIB": "1024",
        "TENANTRY_ARGON2_TIME_COST": "1",
    }
    if request.param == "sqlite":
        yield values
        return
    with postgres_database(request.getfixturevalue("pg_server_url"), "import") as url:
        yield {**values, "TENANTRY_DATABASE_URL": url}


def services_for(env: dict[str, str]) -> Services:
    return bootstrap(Settings(data_dir=Path(env["TENANTRY_DATA_DIR"]), database_url=env.get("TENANTRY_DATABASE_URL")))


def jsonl(*records: dict[str, Any] | str) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def users_of(services: Services, application_id: str, tenant_id: str, *emails: str) -> dict[str, User]:
    """Of ``emails``, the users found in the tenant."""
    with services.core.uow(application_id) as uow:
        found = [user for email in emails for user in uow.users.find_by_email(email)]
    return {u.email: u for u in found if u.tenant_id == tenant_id}


def test_import_reports_bad_lines_imports_the_rest_and_finishes_on_a_rerun(env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", "--domain", DOMAIN], env=env).exit_code == 0
    services = services_for(env)
    try:
        with services.core.uow("") as uow:
            application = uow.applications.get_by_vanity_domain(DOMAIN)
        assert application is not None
        operator = Principal.operator(application.id)
        acme, globex = (
            create_tenant(services.core, operator, CreateTenant(domain_name=rand(name), display_name=name))
            for name in ("acme", "globex")
        )
        bcrypt_user, django_user, typed_user, taken, earlier = (rand_email() for _ in range(5))
        create_user(services.core, operator, CreateUser(acme.id, "wristband", earlier))
        good = [
            {"email": bcrypt_user, "passwordHash": VECTORS["bcrypt 2b (pyca bcrypt)"], "status": "ACTIVE"},
            {
                "tenantId": globex.id,
                "email": django_user,
                "passwordHash": VECTORS["pbkdf2_sha256 (Django)"],
                "givenName": "Grace",
                "emailVerified": True,
            },
            {"tenantName": acme.domain_name, "email": typed_user, "password": PASSWORD, "username": rand("u")},
        ]
        lines = jsonl(
            *good,
            "",
            {"email": "not an email"},
            "{not json",
            {"tenantName": "no-such-tenant", "email": rand_email()},
            {"email": earlier, "passwordHash": VECTORS["scrypt (Werkzeug)"]},
            {"email": taken, "passwordHash": "5f4dcc3b5aa765d61d8327deb882cf99"},
            '["a list"]',
        )
        source = tmp_path / "users.jsonl"
        source.write_text(lines)
        first = runner.invoke(
            app, ["users", "import", str(source), "--tenant", acme.domain_name, "--workers", "3"], env=env
        )
        assert first.exit_code == 1, first.output
        assert first.stdout.splitlines() == ["created: 3", "already present: 0", "refused: 6"]
        refused = [line.split(":", 1)[0] for line in first.stderr.splitlines() if line.startswith("line ")]
        assert refused == ["line 5", "line 6", "line 7", "line 8", "line 9", "line 10"], first.stderr
        assert "email" in _line(first.stderr, 5) and "no tenant named no-such-tenant" in _line(first.stderr, 7)
        assert "not_unique" in _line(
            first.stderr, 8
        ) and "passwordHash: invalid_value [reason=unrecognized_password_hash]" in _line(first.stderr, 9)

        everyone = (bcrypt_user, django_user, typed_user, taken, earlier)
        acme_users = users_of(services, application.id, acme.id, *everyone)
        assert set(acme_users) == {bcrypt_user, typed_user, earlier}
        assert acme_users[earlier].password_hash is None
        assert acme_users[bcrypt_user].password_hash == VECTORS["bcrypt 2b (pyca bcrypt)"]
        assert acme_users[bcrypt_user].status is UserStatus.ACTIVE
        typed_hash = acme_users[typed_user].password_hash
        assert typed_hash is not None and typed_hash.startswith("$argon2id$")
        assert services.core.hasher.verify(typed_hash, PASSWORD)
        assert set(users_of(services, application.id, globex.id, *everyone)) == {django_user}
        grace = users_of(services, application.id, globex.id, *everyone)[django_user]
        assert grace.password_hash == VECTORS["pbkdf2_sha256 (Django)"] and grace.email_verified
        assert grace.status is UserStatus.PROVISIONED

        rerun = runner.invoke(
            app,
            ["users", "import", "-", "--tenant", acme.domain_name, "--skip-existing"],
            env=env,
            input=jsonl(*good, {"email": taken, "passwordHash": VECTORS["scrypt (Werkzeug)"]}),
        )
        assert rerun.exit_code == 0, rerun.output
        assert rerun.stdout.splitlines() == ["created: 1", "already present: 3", "refused: 0"]
        assert set(users_of(services, application.id, acme.id, *everyone)) == {bcrypt_user, typed_user, taken, earlier}
    finally:
        services.close()


def _line(stderr: str, number: int) -> str:
    return next(line for line in stderr.splitlines() if line.startswith(f"line {number}:"))
