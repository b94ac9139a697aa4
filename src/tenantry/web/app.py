"""``create_app(services)``: the ASGI application with its routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from tenantry.bootstrap import Services
from tenantry.web import health
from tenantry.web.api import clients, roles, tenants, users
from tenantry.web.auth import BearerAuthenticator
from tenantry.web.errors import install_error_handlers
from tenantry.web.hosts import ApplicationResolver
from tenantry.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from tenantry.web.oauth import routes as oauth
from tenantry.web.workers import TenantPurger

log = structlog.get_logger("tenantry.app")


def create_app(services: Services, *, background: bool = True) -> FastAPI:
    purger = TenantPurger(services)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            purger.start()
        yield
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
    app.state.purger = purger
    for router in (users.router, tenants.router, roles.router, clients.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(oauth.router)
    app.include_router(health.router)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
