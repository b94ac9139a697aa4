"""The ``tenantry`` command line (Typer). Scripts and later tooling rely on these exact forms."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console

from tenantry.core.clients.model import ClientType
from tenantry.core.errors import ConstraintViolations, TenantryError
from tenantry.logs import configure_logging
from tenantry.settings import Settings

if TYPE_CHECKING:
    from tenantry.bootstrap import Services
    from tenantry.core.applications.model import Application

# The commands import the application (the database, the use cases) when they run: ``serve``
# with several workers stays a small supervisor, and ``--help`` answers at once.

app = typer.Typer(help="Tenantry: multi-tenant identity and user onboarding.", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth2 clients.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
admins_app = typer.Typer(help="Dashboard administrators.", no_args_is_help=True)
users_app = typer.Typer(help="Users: bulk import from another system.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
app.add_typer(admins_app, name="admins")
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)


def _services(*, migrate: bool = True) -> Services:
    from tenantry.bootstrap import bootstrap

    settings = Settings()
    configure_logging(json=settings.json_logs, level="WARNING")
    return bootstrap(settings, migrate=migrate)


def _application(services: Services, domain: str | None) -> Application:
    from sqlalchemy import select

    from tenantry.adapters.sql import tables as t

    with services.core.uow("") as uow:
        if domain is not None:
            found = uow.applications.get_by_vanity_domain(domain)
            if found is None:
                raise typer.BadParameter(f"no application with vanity domain {domain}", param_hint="--domain")
            return found
    with services.database.transaction(write=False) as conn:
        ids = list(conn.execute(select(t.applications.c.id)).scalars())
    if len(ids) != 1:
        raise typer.BadParameter(
            "name the application with --domain (run `tenantry init` first)", param_hint="--domain"
        )
    with services.core.uow(ids[0]) as uow:
        application = uow.applications.get(ids[0])
    assert application is not None
    return application


def _fail(error: TenantryError) -> typer.Exit:
    console.print(f"[red]error:[/red] {error.message}")
    if isinstance(error, ConstraintViolations):
        for name, found in error.violations.items():
            console.print(f"  {name}: {', '.join(v.code for v in found)}")
    return typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    services = _services()
    console.print(f"database at head: {services.database.url.split('@')[-1]}")


@app.command()
def init(
    domain: Annotated[str, typer.Option(help="vanity domain, HOST[:PORT]")],
    custom_domain: Annotated[bool, typer.Option("--custom-domain", help="tenant hosts are {tenant}.{domain}")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    rotate_secret: Annotated[bool, typer.Option("--rotate-secret", help="issue a new M2M client secret")] = False,
) -> None:
    """Create the application, its built-in identity provider, default roles and an M2M admin client."""
    from tenantry.core.applications.service import initialize_application

    services = _services()
    try:
        result = initialize_application(services.core, domain, custom_domain=custom_domain, rotate=rotate_secret)
    except TenantryError as error:
        raise _fail(error) from error
    out: dict[str, Any] = {
        "applicationId": result.application.id,
        "vanityDomain": result.application.vanity_domain,
        "m2mClientId": result.client.id,
    }
    if result.client_secret is not None:
        out["m2mClientSecret"] = result.client_secret
    if as_json:
        typer.echo(json.dumps(out))
    else:
        for key, value in out.items():
            typer.echo(f"{key}: {value}")


@clients_app.command("create")
def clients_create(
    type_: Annotated[ClientType, typer.Option("--type", help="client type")],
    name: Annotated[str, typer.Option(help="display name")],
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="repeatable")] = None,
    login_url: Annotated[str | None, typer.Option("--login-url")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="tenant id that owns the client")] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="role name to grant (repeatable)")] = None,
    domain: Annotated[str | None, typer.Option(help="the application's vanity domain")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an OAuth2 client. M2M clients get the admin role (tenant admin when --tenant)."""
    from tenantry.core.access import Principal
    from tenantry.core.applications.service import TENANT_ADMIN_ROLE
    from tenantry.core.clients.service import CreateClient, create_client

    services = _services()
    application = _application(services, domain)
    names = role or (
        [f"app:{application.name}:{TENANT_ADMIN_ROLE}"] if tenant else [f"app:{application.name}:admin-client"]
    )
    with services.core.uow(application.id) as uow:
        roles = [uow.roles.get_by_name(n) for n in names] if type_ is ClientType.MACHINE_TO_MACHINE else []
    if any(r is None for r in roles):
        raise typer.BadParameter(f"unknown role in {names}", param_hint="--role")
    try:
        created = create_client(
            services.core,
            Principal.operator(application.id),
            CreateClient(
                name=name,
                type=type_,
                tenant_id=tenant,
                redirect_uris=redirect_uri or [],
                login_url=login_url,
                role_ids=[r.id for r in roles if r is not None],
            ),
        )
    except TenantryError as error:
        raise _fail(error) from error
    out = {"clientId": created.client.id, "clientSecret": created.secret}
    typer.echo(json.dumps(out) if as_json else "\n".join(f"{k}: {v}" for k, v in out.items()))


@admins_app.command("create")
def admins_create(
    email: Annotated[str, typer.Option(help="the administrator's sign-in email")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="tenant id: a tenant administrator")] = None,
    password: Annotated[str | None, typer.Option(help="omit to be prompted (or get a generated one)")] = None,
    domain: Annotated[str | None, typer.Option(help="the application's vanity domain")] = None,
) -> None:
    """Create a dashboard administrator: of the whole application, or of one tenant (--tenant).

    Without --password an interactive terminal prompts for one (blank: generate); otherwise a
    password is generated. A generated password is printed once."""
    from tenantry.core.admins.service import CreateAdmin, create_admin

    services = _services()
    application = _application(services, domain)
    generated = False
    if password is None and sys.stdin.isatty():
        password = typer.prompt("Password (blank: generate)", default="", show_default=False, hide_input=True)
        if password and typer.prompt("Repeat the password", hide_input=True) != password:
            raise typer.BadParameter("the passwords do not match", param_hint="--password")
    if not password:
        password, generated = secrets.token_urlsafe(18), True
    try:
        admin = create_admin(
            services.core, application.id, CreateAdmin(email=email, password=password, tenant_id=tenant)
        )
    except TenantryError as error:
        raise _fail(error) from error
    scope = f"tenant {tenant}" if tenant else "application"
    typer.echo(f"admin: {admin.id} ({admin.email}, {scope} administrator)")
    typer.echo(f"dashboard: https://{application.vanity_domain}/dashboard")
    if generated:
        typer.echo(f"password: {password}")


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one Create User body a line; - reads standard input")],
    domain: Annotated[str | None, typer.Option(help="the application's vanity domain")] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant name (domainName) for lines without one")] = None,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="count a line whose email is taken as done (re-runs)")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="lines imported at once")] = os.cpu_count() or 1,
) -> None:
    """Import users, with the password hashes of the system they come from (docs/migrating.md).

    Prints how many were created, already there and refused; each refused line with its number and
    why. Exits 1 if any line was refused: the others are imported all the same."""
    from rich.progress import Progress

    from tenantry.user_import import UserImport

    services = _services()
    application = _application(services, domain)
    importer = UserImport(
        services.core, application.id, default_tenant=tenant, skip_existing=skip_existing, workers=workers
    )
    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")  # lines decoded one by one
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("importing users", total=None)
            summary = importer.run(stream, lambda _: progress.advance(task))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        services.close()
    for failure in summary.failures:
        console.print(f"line {failure.line}: {failure.detail}", markup=False, highlight=False, soft_wrap=True)
    typer.echo(f"created: {summary.created}")
    typer.echo(f"already present: {summary.existing}")
    typer.echo(f"refused: {len(summary.failures)}")
    if summary.failures:
        raise typer.Exit(code=1)


@users_app.command("export")
def users_export(
    output: Annotated[Path, typer.Argument(help="the JSON Lines file to write; - writes standard output")],
    domain: Annotated[str | None, typer.Option(help="the application's vanity domain")] = None,
    tenant: Annotated[list[str] | None, typer.Option(help="only this tenant (domainName); repeatable")] = None,
) -> None:
    """Write the users, with their password hashes, as lines `tenantry users import` reads back.

    Signups and invitations still pending are left out (and counted); INACTIVE users are written as
    PROVISIONED. The file holds password hashes: keep it as you would the database."""
    from tenantry.user_export import UnknownTenant, UserExport

    services = _services()
    application = _application(services, domain)
    try:
        exporter = UserExport(services.core, application.id, tenant or ())
    except UnknownTenant as error:
        raise typer.BadParameter(f"no tenant named {error}", param_hint="--tenant") from error
    to_stdout = str(output) == "-"
    stream = sys.stdout if to_stdout else _private_file(output)
    try:
        for record in exporter.records():
            stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        if not to_stdout:
            stream.close()
        services.close()
    console.print(f"exported: {exporter.counts.exported}", highlight=False)
    console.print(f"left out (signup or invitation pending): {exporter.counts.left_out}", highlight=False)


def _private_file(path: Path) -> TextIO:
    """A file only its owner can read (it holds password hashes), made so if it was not."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign new tokens with a fresh RSA key; old keys stay in the JWKS until their tokens expire."""
    services = _services()
    kid = services.keys.rotate(token_lifetime=timedelta(seconds=services.settings.access_token_lifetime))
    typer.echo(f"new signing key: {kid}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8443,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    proxy_headers: Annotated[bool, typer.Option("--proxy-headers")] = False,
) -> None:
    """Migrate, then serve the API (and, with --tls-cert/--tls-key, terminate TLS)."""
    import uvicorn

    settings = Settings()
    configure_logging(json=settings.json_logs, level=settings.log_level)
    # Migrate in a child process: this one serves (with one worker) or supervises, and need not
    # keep Alembic and the migration scripts in memory (about 20 MB of a worker's RSS).
    migrated = subprocess.run([sys.executable, "-m", "tenantry.cli", "migrate"], check=False)
    if migrated.returncode != 0:
        raise typer.Exit(migrated.returncode)
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if settings.hash_concurrency is None:
        # The workers share the CPUs: each hashes on its share of them (more hashes at once
        # than cores only thrash the caches; measured: 29.6 vs 26.1 ms CPU per login, 2 workers).
        cpus = len(os.sched_getaffinity(0))
        os.environ["TENANTRY_HASH_CONCURRENCY"] = str(max(1, cpus // workers))
    uvicorn.run(
        "tenantry.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Deliver the email outbox (and purge deleted tenants) in the foreground until SIGTERM or
    SIGINT. Any number of workers and serve nodes may run at once; each message is claimed by one."""
    import signal
    import threading
    from types import FrameType

    from tenantry.bootstrap import bootstrap
    from tenantry.web.workers import TenantPurger

    settings = Settings()
    configure_logging(json=settings.json_logs, level=settings.log_level)
    services = bootstrap(settings)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    purger = TenantPurger(services)
    purger.start()
    console.print(f"worker: delivering the outbox through {type(services.mail_transport).__name__}")
    try:
        services.outbox_dispatcher.run_forever(stop)
    finally:
        purger.stop()
        services.close()
    console.print("worker: stopped")


DEMO_TENANT = "acme"
DEMO_ADMIN = "admin@acme.test"
DEMO_DASHBOARD_ADMIN = "operator@localhost.test"


@app.command()
def demo(
    domain: Annotated[str, typer.Option()] = "localhost:8443",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Bootstrap a demo application (custom-domain mode), tenant, admin and clients, and a local
    TLS certificate for its hosts. Idempotent: credentials are kept in the data folder."""
    from tenantry.adapters.security.tls import ensure_local_certificates
    from tenantry.core.access import Principal
    from tenantry.core.admins.service import CreateAdmin, create_admin
    from tenantry.core.applications.service import TENANT_ADMIN_ROLE, initialize_application
    from tenantry.core.clients.service import CreateClient, create_client
    from tenantry.core.roles.service import assign_roles
    from tenantry.core.tenants.service import CreateTenant, create_tenant
    from tenantry.core.users.model import UserStatus
    from tenantry.core.users.service import CreateUser, create_user

    services = _services()
    store = services.settings.data_dir / "demo.json"
    saved: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    result = initialize_application(services.core, domain, custom_domain=True)
    application = result.application
    operator = Principal.operator(application.id)
    if result.client_secret:
        saved.update(m2mClientId=result.client.id, m2mClientSecret=result.client_secret)
    with services.core.uow(application.id) as uow:
        tenant = uow.tenants.get_by_domain_name(DEMO_TENANT)
    if tenant is None:
        tenant = create_tenant(services.core, operator, CreateTenant(domain_name=DEMO_TENANT, display_name="Acme Inc."))
    if "adminPassword" not in saved:
        password = secrets.token_urlsafe(12)
        admin = create_user(
            services.core,
            operator,
            CreateUser(
                tenant_id=tenant.id,
                identity_provider_name="wristband",
                email=DEMO_ADMIN,
                email_verified=True,
                status=UserStatus.ACTIVE,
                password=password,
                profile={"givenName": "Ada", "familyName": "Admin"},
            ),
        )
        with services.core.uow(application.id) as uow:
            role = uow.roles.get_by_name(f"app:{application.name}:{TENANT_ADMIN_ROLE}")
        assert role is not None
        assign_roles(services.core, operator, admin.id, [role.id], replace=False)
        saved.update(adminEmail=DEMO_ADMIN, adminPassword=password, adminUserId=admin.id)
    if "dashboardPassword" not in saved:
        dashboard_password = secrets.token_urlsafe(12)
        create_admin(
            services.core, application.id, CreateAdmin(email=DEMO_DASHBOARD_ADMIN, password=dashboard_password)
        )
        saved.update(dashboardEmail=DEMO_DASHBOARD_ADMIN, dashboardPassword=dashboard_password)
    if "appClientId" not in saved:
        host = domain.split(":")[0]
        port = domain.split(":")[1] if ":" in domain else "443"
        app_client = create_client(
            services.core,
            operator,
            CreateClient(
                name="Demo app",
                type=ClientType.BACKEND_SERVER,
                redirect_uris=[f"https://{{tenant_name}}.{host}:{port}/demo/callback"],
                login_url=f"https://{{tenant_name}}.{host}:{port}/demo/login",
            ),
        )
        saved.update(appClientId=app_client.client.id, appClientSecret=app_client.secret)
    store.write_text(json.dumps(saved, indent=2))
    store.chmod(0o600)
    tls = ensure_local_certificates(
        services.settings.data_dir / "tls",
        ["localhost", "*.localhost", "127.0.0.1", application.tenant_host(DEMO_TENANT).split(":")[0]],
    )
    info = {
        "applicationId": application.id,
        "vanityDomain": application.vanity_domain,
        "tenantId": tenant.id,
        "tenantHost": application.tenant_host(tenant.domain_name),
        **saved,
        "caFile": str(tls["ca"].resolve()),
        "tlsCert": str(tls["cert"].resolve()),
        "tlsKey": str(tls["key"].resolve()),
    }
    if as_json:
        typer.echo(json.dumps(info))
        return
    base = f"https://{application.vanity_domain}"
    typer.echo(
        "\n".join(
            [
                "Tenantry is ready.",
                f"  API:            {base}/api/v1   (OpenAPI: {base}/api/docs)",
                f"  JWKS:           {base}/api/v1/oauth2/jwks",
                f"  Health:         {base}/health",
                f"  Tenant:         {DEMO_TENANT} ({info['tenantId']}) at https://{info['tenantHost']}",
                f"  M2M client:     {saved.get('m2mClientId')} / {saved.get('m2mClientSecret')}",
                f"  App client:     {saved['appClientId']} / {saved['appClientSecret']}",
                f"  Admin user:     {saved['adminEmail']} / {saved['adminPassword']}",
                f"  Dashboard:      {base}/dashboard   ({saved['dashboardEmail']} / {saved['dashboardPassword']})",
                f"  CA file:        {info['caFile']}   (export SSL_CERT_FILE=... to trust it)",
                "  Try it:",
                f"    curl --cacert {info['caFile']} -u {saved.get('m2mClientId')}:{saved.get('m2mClientSecret')} \\",
                f"      -d grant_type=client_credentials {base}/api/v1/oauth2/token",
            ]
        )
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
