"""``tenantry users import``: a JSON Lines file of Create User bodies, with old systems' password
hashes, on SQLite and PostgreSQL; bad lines are reported by number and the rest imported; a
re-run with ``--skip-existing`` finishes an interrupted import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantry.bootstrap import Services, bootstrap
from tenantry.cli import app
from tenantry.core.access import Principal
from tenantry.core.roles.service import CreateTenantRole, assign_roles, create_tenant_role
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
        bcrypt_user, django_user, typed_user, taken, earlier, outsider = (rand_email() for _ in range(6))
        globex_auditor = CreateTenantRole(globex.id, "auditor", "Auditor", None, ["user:read"])
        create_tenant_role(services.core, operator, globex_auditor)
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
            {
                "tenantName": acme.domain_name,
                "email": typed_user,
                "password": PASSWORD,
                "username": rand("u"),
                "roles": ["tenant-admin"],
            },
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
            {"email": rand_email(), "roles": ["no-such-role"]},
            {"email": rand_email(), "roles": ["user"]},  # the application's "user" and acme's own
            '{"email": ' + "[" * 5000 + "]" * 5000 + "}",
            {"email": outsider, "roles": [f"tnt:{globex.domain_name}:auditor"]},  # another tenant's role
        )
        source = tmp_path / "users.jsonl"
        source.write_bytes(lines.encode() + b'{"email": "\xff\xfe@example.com"}\n')
        own_user_role = CreateTenantRole(acme.id, "user", "Acme's user", None, ["user:read"])
        create_tenant_role(services.core, operator, own_user_role)
        first = runner.invoke(
            app, ["users", "import", str(source), "--tenant", acme.domain_name, "--workers", "3"], env=env
        )
        assert first.exit_code == 1, first.output
        assert first.stdout.splitlines() == ["created: 3", "already present: 0", "refused: 11"]
        refused = [line.split(":", 1)[0] for line in first.stderr.splitlines() if line.startswith("line ")]
        assert refused == [f"line {n}" for n in range(5, 16)], first.stderr
        assert "user is a tenant role and an application role" in _line(first.stderr, 12)
        assert "nested too deeply" in _line(first.stderr, 13) and "not UTF-8" in _line(first.stderr, 15)
        assert "roleIds" in _line(first.stderr, 14)  # refused with its roles: the user is not created either
        assert users_of(services, application.id, acme.id, outsider) == {}
        assert "roles: no role named no-such-role" in _line(first.stderr, 11)
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
            input=jsonl(
                {**good[0], "roles": ["tenant-admin"]},  # an existing user still gets the roles of its line
                *good[1:],
                {"email": taken, "passwordHash": VECTORS["scrypt (Werkzeug)"]},
            ),
        )
        assert rerun.exit_code == 0, rerun.output
        assert rerun.stdout.splitlines() == ["created: 1", "already present: 3", "refused: 0"]
        final = users_of(services, application.id, acme.id, *everyone)
        assert set(final) == {bcrypt_user, typed_user, taken, earlier}
        with services.core.uow(application.id) as uow:
            held = uow.roles.roles_of_users([final[bcrypt_user].id, final[typed_user].id, final[taken].id])
        assert [r.sku for r in held[final[typed_user].id]] == ["tenant-admin"]
        assert [r.sku for r in held[final[bcrypt_user].id]] == ["tenant-admin"] and held[final[taken].id] == []
    finally:
        services.close()


def _line(stderr: str, number: int) -> str:
    return next(line for line in stderr.splitlines() if line.startswith(f"line {number}:"))


def test_export_then_import_moves_users_with_their_passwords_to_another_application(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Users of one application, exported and imported into another: same profiles, metadata and
    password hashes (they sign in with the same passwords); INACTIVE comes back PROVISIONED; a
    signup still awaiting activation stays behind."""
    source_domain, target_domain = f"{rand('src')}.test", f"{rand('dst')}.test"
    for domain in (source_domain, target_domain):
        assert runner.invoke(app, ["init", "--domain", domain], env=env).exit_code == 0
    services = services_for(env)
    try:
        source, target = (_application_id(services, d) for d in (source_domain, target_domain))
        name = rand("acme")
        acme = create_tenant(
            services.core, Principal.operator(source), CreateTenant(domain_name=name, display_name="A")
        )
        other = create_tenant(
            services.core, Principal.operator(source), CreateTenant(domain_name=rand("o"), display_name="O")
        )
        arrival = create_tenant(
            services.core, Principal.operator(target), CreateTenant(domain_name=name, display_name="A")
        )
        for application_id, tenant_id in ((source, acme.id), (target, arrival.id)):
            auditor = CreateTenantRole(tenant_id, "auditor", "Auditor", None, ["user:read"])
            create_tenant_role(services.core, Principal.operator(application_id), auditor)

        def make(tenant_id: str, **fields: Any) -> User:
            return create_user(
                services.core, Principal.operator(source), CreateUser(tenant_id, "wristband", rand_email(), **fields)
            )

        active = make(
            acme.id,
            status=UserStatus.ACTIVE,
            password=PASSWORD,
            email_verified=True,
            profile={"givenName": "Ada", "username": rand("ada"), "timeZone": "Europe/Paris"},
            public_metadata={"plan": "gold"},
            restricted_metadata={"score": 7},
        )
        with services.core.uow(source) as uow:
            source_name = uow.applications.get(source).name  # type: ignore[union-attr]
            granted = [uow.roles.get_by_name(n) for n in (f"tnt:{name}:auditor", f"app:{source_name}:tenant-admin")]
        assign_roles(services.core, Principal.operator(source), active.id, [r.id for r in granted if r], replace=False)
        imported_earlier = make(acme.id, status=UserStatus.ACTIVE, password_hash=VECTORS["scrypt (Werkzeug)"])
        inactive = make(acme.id, status=UserStatus.ACTIVE)
        pending = make(acme.id)
        elsewhere = make(other.id)
        with services.core.uow(source, write=True) as uow:
            uow.users.update(replace(inactive, status=UserStatus.INACTIVE))
            uow.users.update(replace(pending, status=UserStatus.PENDING_SIGNUP_ACTIVATION))
            uow.commit()

        dump = tmp_path / "users.jsonl"
        dump.write_text("left over\n")
        dump.chmod(0o644)
        exported = runner.invoke(
            app, ["users", "export", str(dump), "--domain", source_domain, "--tenant", name], env=env
        )
        assert exported.exit_code == 0, exported.output
        assert "exported: 3" in exported.stderr and "left out (signup or invitation pending): 1" in exported.stderr
        assert dump.stat().st_mode & 0o077 == 0
        lines = [json.loads(line) for line in dump.read_text().splitlines()]
        assert {line["email"] for line in lines} == {active.email, imported_earlier.email, inactive.email}
        assert elsewhere.email not in dump.read_text()

        moved = runner.invoke(app, ["users", "import", str(dump), "--domain", target_domain], env=env)
        assert moved.exit_code == 0, moved.output
        assert moved.stdout.splitlines() == ["created: 3", "already present: 0", "refused: 0"]
        with services.core.uow(target) as uow:
            arrived = {u.email: u for u in uow.users.batch_after(None, 100)}
        assert set(arrived) == {active.email, imported_earlier.email, inactive.email}
        ada = arrived[active.email]
        assert ada.password_hash == active.password_hash and services.core.hasher.verify(ada.password_hash, PASSWORD)
        assert ada.profile == active.profile and ada.email_verified and ada.status is UserStatus.ACTIVE
        assert ada.public_metadata == {"plan": "gold"} and ada.restricted_metadata == {"score": 7}
        assert arrived[imported_earlier.email].password_hash == VECTORS["scrypt (Werkzeug)"]
        assert arrived[inactive.email].status is UserStatus.PROVISIONED
        assert ada.application_id == target and ada.id != active.id
        with services.core.uow(target) as uow:
            arrived_roles = {r.name for r in uow.roles.roles_of_users([ada.id])[ada.id]}
            target_name = uow.applications.get(target).name  # type: ignore[union-attr]
        assert arrived_roles == {f"tnt:{name}:auditor", f"app:{target_name}:tenant-admin"}
        assert next(line for line in lines if line["email"] == active.email)["roles"] == [
            "tenant-admin",
            f"tnt:{name}:auditor",
        ]

        unknown = runner.invoke(app, ["users", "export", "-", "--domain", source_domain, "--tenant", "nope"], env=env)
        assert unknown.exit_code == 2 and "no tenant named nope" in unknown.output
    finally:
        services.close()


def _application_id(services: Services, domain: str) -> str:
    with services.core.uow("") as uow:
        application = uow.applications.get_by_vanity_domain(domain)
    assert application is not None
    return application.id
