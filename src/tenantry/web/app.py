"""``create_app(services)``: the ASGI application with its routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tenantry.bootstrap import Services
from tenantry.web import health, threads
from tenantry.web.api import applications, audit, clients, external_idp, invitations, roles, tenants, users, workflows
from tenantry.web.api import identity_providers as identity_provider_api
from tenantry.web.api.fast_users import CreateUserFastPath
from tenantry.web.auth import BearerAuthenticator
from tenantry.web.dashboard import routes as dashboard
from tenantry.web.dev import routes as dev
from tenantry.web.direct_routes import DirectRoutes
from tenantry.web.errors import install_error_handlers
from tenantry.web.hosts import ApplicationResolver
from tenantry.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from tenantry.web.oauth import authorize, token, userinfo
from tenantry.web.oauth import routes as oauth
from tenantry.web.oauth.fast_token import TokenFastPath
from tenantry.web.pages import invitations as invitation_pages
from tenantry.web.pages import login, signup
from tenantry.web.ratelimit import RateLimits
from tenantry.web.scim import routes as scim
from tenantry.web.sso import routes as sso
from tenantry.web.workers import MailDispatcherThread, TenantPurger

log = structlog.get_logger("tenantry.app")
STATIC = Path(__file__).parent / "static"


def create_app(services: Services, *, background: bool = True) -> FastAPI:
    threads.configure(services.settings.resolved_request_threads)
    purger = TenantPurger(services)
    mailer = MailDispatcherThread(services)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            purger.start()
            if services.settings.mail_dispatcher:
                mailer.start()
        yield
        mailer.stop()
        purger.stop()

    app = FastAPI(
        title="Tenantry",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.services = services
    app.state.applications = ApplicationResolver(services.core)
    app.state.bearer = BearerAuthenticator(services.core, services.keys)
    app.state.clients = services.clients
    app.state.limits = RateLimits(services.settings)
    app.state.purger = purger
    app.state.mailer = mailer
    # The OAuth endpoints and hosted pages first: they are the hottest routes, and routes are
    # matched in order (the paths do not overlap, so the order changes nothing else).
    hosted = (
        oauth.router,
        token.router,
        userinfo.router,
        authorize.router,
        login.router,
        signup.router,
        invitation_pages.router,
        sso.router,
    )
    for router in hosted:
        app.include_router(router)
    for router in (
        users.router,
        tenants.router,
        roles.router,
        clients.router,
        invitations.router,
        audit.router,
        identity_provider_api.router,  # before applications: its /tenants/{id}/{policy} paths match anything
        applications.router,
        external_idp.router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(workflows.router)  # /api/v1/... and the unprefixed refresh-token alias
    app.include_router(scim.router)
    # The dashboard after the API: its routes all start with /dashboard, and FastAPI tries every
    # route of every router included before the one that matches.
    dashboard.install(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(health.router)
    if dev.mounted(services.settings):
        app.include_router(dev.router)
        log.info("dev_mailbox", path="/dev/mailbox", note="loopback clients only; set TENANTRY_SMTP_URL to send mail")
    elif services.settings.env == "production" and not services.settings.smtp_url:
        log.warning("smtp_not_configured", note="emails are only logged; set TENANTRY_SMTP_URL")
    install_error_handlers(app)
    # The routers included first, so FastAPI matches nothing before them; inside the fast paths,
    # which answer their requests first.
    app.add_middleware(DirectRoutes, routers=hosted, handlers=app.exception_handlers, router=app.router)
    app.add_middleware(
        CreateUserFastPath,
        services=services,
        resolver=app.state.applications,
        bearer=app.state.bearer,
        handlers=app.exception_handlers,
    )
    app.add_middleware(
        TokenFastPath, services=services, resolver=app.state.applications, handlers=app.exception_handlers
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
