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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_core(request: Request) -> CoreContext:
    return get_services(request).core


def get_application(request: Request) -> Application:
    resolver: ApplicationResolver = request.app.state.applications
    return resolver.for_host(request.headers.get("host", ""))


def get_target(request: Request) -> HostTarget:
    resolver: ApplicationResolver = request.app.state.applications
    return resolver.target(request.headers.get("host", ""))


def get_tenant_target(target: Annotated[HostTarget, Depends(get_target)]) -> TenantTarget:
    if target.tenant is None:
        raise NotFound("tenant", "(vanity domain)")
    return TenantTarget(target.application, target.tenant, target.custom_domain)


def get_principal(request: Request, application: Annotated[Application, Depends(get_application)]) -> Principal:
    authenticator: BearerAuthenticator = request.app.state.bearer
    return authenticator.authenticate(request.headers.get("authorization"), application)


ServicesDep = Annotated[Services, Depends(get_services)]
CoreDep = Annotated[CoreContext, Depends(get_core)]
ApplicationDep = Annotated[Application, Depends(get_application)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
TargetDep = Annotated[HostTarget, Depends(get_target)]
TenantTargetDep = Annotated[TenantTarget, Depends(get_tenant_target)]
