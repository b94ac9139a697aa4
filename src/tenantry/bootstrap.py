"""The composition root: settings in, a ready ``Services`` object out. Nothing else builds adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenantry.adapters.mail.dispatch import OutboxDispatcher
from tenantry.adapters.mail.memory import LogTransport
from tenantry.adapters.mail.render import TemplateRenderer
from tenantry.adapters.mail.smtp import SmtpTransport, parse_smtp_url
from tenantry.adapters.mail.transport import MailTransport
from tenantry.adapters.security.keys import KeyStore
from tenantry.adapters.security.passwords import Argon2Hasher, CommonPasswordList
from tenantry.adapters.security.saml_credentials import SpCredentials, load_or_create_sp_credentials
from tenantry.adapters.sql.database import Database
from tenantry.adapters.sql.migrate import upgrade
from tenantry.adapters.sql.uow import SqlUnitOfWorkFactory
from tenantry.core.auth.settings import AuthSettings
from tenantry.core.clients.cache import ClientCache
from tenantry.core.context import CoreContext
from tenantry.core.ports import EmailRenderer
from tenantry.core.sso.login_providers import LoginProviderCache
from tenantry.core.users.passwords import PasswordPolicy
from tenantry.protocols.oidc.relying_party import OidcRelyingParty
from tenantry.settings import Settings

if TYPE_CHECKING:
    import httpx


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    database: Database
    core: CoreContext
    keys: KeyStore
    mail_transport: MailTransport
    mail_renderer: EmailRenderer
    outbox_dispatcher: OutboxDispatcher
    oidc: OidcRelyingParty
    clients: ClientCache
    login_providers: LoginProviderCache
    saml_sp: SpCredentials

    def close(self) -> None:
        self.mail_transport.close()
        self.database.dispose()


def build_mail_transport(settings: Settings) -> MailTransport:
    """SMTP when ``smtp_url`` is set, otherwise the log (and the dev mailbox in local mode)."""
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url), settings.mail_from)
    return LogTransport()


def bootstrap(settings: Settings, *, migrate: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if migrate:
        upgrade(url)
    database = Database(url, pool_size=settings.db_pool_size)
    clock = SystemClock()
    renderer = TemplateRenderer()
    core = CoreContext(
        uow=SqlUnitOfWorkFactory(database),
        clock=clock,
        hasher=Argon2Hasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.hash_concurrency,
        ),
        common_passwords=CommonPasswordList(),
        password_policy=PasswordPolicy(min_length=settings.password_min_length),
        auth=AuthSettings(
            session_idle_seconds=settings.session_idle_seconds,
            session_absolute_seconds=settings.session_absolute_seconds,
            code_seconds=settings.authorization_code_seconds,
            access_token_seconds=settings.access_token_lifetime,
            refresh_token_seconds=settings.refresh_token_seconds,
            lockout_threshold=settings.lockout_threshold,
            lockout_seconds=settings.lockout_seconds,
        ),
        renderer=renderer,
    )
    keys = KeyStore(database, clock, refresh_seconds=settings.key_refresh_seconds)
    transport = build_mail_transport(settings)
    return Services(
        settings=settings,
        database=database,
        core=core,
        keys=keys,
        mail_transport=transport,
        mail_renderer=renderer,
        outbox_dispatcher=OutboxDispatcher(
            database, transport, settings, clock, lease_seconds=settings.mail_lease_seconds
        ),
        oidc=OidcRelyingParty(sso_http_client),
        clients=ClientCache(core),
        login_providers=LoginProviderCache(core),
        saml_sp=load_or_create_sp_credentials(
            settings.data_dir / "saml", settings.saml_sp_key_file, settings.saml_sp_cert_file
        ),
    )


def sso_http_client() -> httpx.AsyncClient:
    """What Tenantry uses to reach external IdPs (discovery, JWKS, token, userinfo, SAML metadata).
    No pooled keep-alive connections: they would tie the client to one event loop, and SSO traffic
    is a few requests per sign-in."""
    import httpx  # here, not with the module: most workers never reach an IdP (3 MB)

    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0),
        limits=httpx.Limits(max_keepalive_connections=0),
        follow_redirects=False,
    )
