"""FastAPI dependencies: the ``Annotated`` aliases routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tenantry.bootstrap import Services
from tenantry.core.access import Principal
from tenantry.core.applications.model import Application
from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound
from tenantry.web.auth import BearerAuthenticator
from tenantry.web.hosts import ApplicationResolver, HostTarget, TenantTarget
from tenantry.web.threads import run_in_thread

# The dependencies are ``async`` so that FastAPI does not hop to the thread pool for each of
# them: they answer from memory and only go to a thread when they must read the database.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_core(request: Request) -> CoreContext:
    services: Services = request.app.state.services
    return services.core


async def get_application(request: Request) -> Application:
    resolver: ApplicationResolver = request.app.state.applications
    host = request.headers.get("host", "")
    cached = resolver.cached(host)
    if cached is not None:
        return cached
    application: Application = await run_in_thread(resolver.for_host, host)
    return application


async def get_target(request: Request) -> HostTarget:
    resolver: ApplicationResolver = request.app.state.applications
    host = request.headers.get("host", "")
    cached = resolver.cached_target(host)
    if cached is not None:
        return cached
    target: HostTarget = await run_in_thread(resolver.target, host)
    return target


async def get_tenant_target(target: Annotated[HostTarget, Depends(get_target)]) -> TenantTarget:
    if target.tenant is None:
        raise NotFound("tenant", "(vanity domain)")
    return TenantTarget(target.application, target.tenant, target.custom_domain)


async def get_principal(request: Request, application: Annotated[Application, Depends(get_application)]) -> Principal:
    authenticator: BearerAuthenticator = request.app.state.bearer
    authorization = request.headers.get("authorization")
    cached = authenticator.authenticate_cached(authorization, application)
    if cached is not None:
        return cached
    return await run_in_thread(authenticator.authenticate, authorization, application)


ServicesDep = Annotated[Services, Depends(get_services)]
CoreDep = Annotated[CoreContext, Depends(get_core)]
ApplicationDep = Annotated[Application, Depends(get_application)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
TargetDep = Annotated[HostTarget, Depends(get_target)]
TenantTargetDep = Annotated[TenantTarget, Depends(get_tenant_target)]
