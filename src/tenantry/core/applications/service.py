"""Application use cases: the idempotent ``init`` and reading the application."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tenantry.core.access import Principal, require
from tenantry.core.applications.model import Application, ApplicationStatus
from tenantry.core.clients.model import Client, ClientType
from tenantry.core.clients.service import CreateClient, add_client, rotate_secret
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidRequest, NotFound, Violation
from tenantry.core.identity_providers.model import (
    BUILT_IN_NAME,
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
)
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import UnitOfWork
from tenantry.core.roles.model import (
    APP_USER_PERMISSIONS,
    TENANT_ADMIN_PERMISSIONS,
    Boundary,
    OwnerType,
    PermissionGrant,
    Role,
    RoleType,
    all_permissions,
)
from tenantry.core.text import text_violation

VANITY_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
ADMIN_CLIENT_ROLE = "admin-client"
TENANT_ADMIN_ROLE = "tenant-admin"
DEFAULT_USER_ROLE = "user"
INIT_CLIENT_NAME = "Tenantry admin (machine to machine)"


@dataclass(frozen=True, slots=True)
class InitResult:
    application: Application
    client: Client
    client_secret: str | None
    created: bool


def _predefined_roles(app: Application, now: datetime) -> list[Role]:
    specs = [
        (ADMIN_CLIENT_ROLE, "Application Admin Client", all_permissions(Boundary.APPLICATION)),
        (
            TENANT_ADMIN_ROLE,
            "Tenant Admin",
            tuple(PermissionGrant(p, Boundary.TENANT) for p in TENANT_ADMIN_PERMISSIONS),
        ),
        (DEFAULT_USER_ROLE, "User", tuple(PermissionGrant(p, Boundary.SELF) for p in APP_USER_PERMISSIONS)),
    ]
    return [
        Role(
            id=new_id(),
            application_id=app.id,
            owner_type=OwnerType.APPLICATION,
            owner_id=app.id,
            name=f"app:{app.name}:{short}",
            display_name=display,
            description=None,
            type=RoleType.PREDEFINED,
            grants=grants,
            metadata=EntityMetadata.new(now),
        )
        for short, display, grants in specs
    ]


def app_name_from_domain(vanity_domain: str) -> str:
    host = vanity_domain.split(":", 1)[0]
    label = host.split(".", 1)[0]
    return re.sub(r"[^a-z0-9-]", "-", label) or "app"


def initialize_application(
    ctx: CoreContext, vanity_domain: str, *, custom_domain: bool, rotate: bool = False
) -> InitResult:
    """Create the application with its built-in identity provider, predefined roles and an M2M
    admin client. Running it again changes nothing (except the secret, with ``rotate``)."""
    vanity_domain = vanity_domain.strip().lower()
    if not VANITY_PATTERN.match(vanity_domain) or len(vanity_domain) > 253:
        raise InvalidRequest(f"Invalid vanity domain [{vanity_domain}]")
    now = ctx.clock.now()
    with ctx.uow("", write=True) as uow:
        app = uow.applications.get_by_vanity_domain(vanity_domain)
        created = app is None
        if app is None:
            app = Application(
                id=new_id(),
                name=app_name_from_domain(vanity_domain),
                display_name=app_name_from_domain(vanity_domain).capitalize(),
                vanity_domain=vanity_domain,
                custom_domain_active=custom_domain,
                signup_enabled=False,
                login_url=None,
                status=ApplicationStatus.ACTIVE,
                metadata=EntityMetadata.new(now),
            )
            uow.applications.add(app)
        elif app.custom_domain_active != custom_domain:
            app.custom_domain_active = custom_domain
            app.metadata.touch(now)
            uow.applications.update(app)
        uow.commit()
    with ctx.uow(app.id, write=True) as uow:
        result = _ensure_defaults(uow, app, now, rotate)
        uow.commit()
    return InitResult(app, result[0], result[1], created)


def _ensure_defaults(uow: UnitOfWork, app: Application, now: datetime, rotate: bool) -> tuple[Client, str | None]:
    if uow.identity_providers.get_by_name(BUILT_IN_NAME, None) is None:
        uow.identity_providers.add(
            IdentityProvider(
                id=new_id(),
                application_id=app.id,
                owner_type=OwnerType.APPLICATION,
                owner_id=app.id,
                type=IdentityProviderType.WRISTBAND,
                name=BUILT_IN_NAME,
                display_name="Wristband",
                status=IdentityProviderStatus.ENABLED,
                jit_provisioning_enabled=False,
                metadata=EntityMetadata.new(now),
            )
        )
    for role in _predefined_roles(app, now):
        if uow.roles.get_by_name(role.name) is None:
            uow.roles.add(role)
    admin_role = uow.roles.get_by_name(f"app:{app.name}:{ADMIN_CLIENT_ROLE}")
    assert admin_role is not None
    existing = uow.clients.find_by_name(INIT_CLIENT_NAME)
    if existing is not None:
        return existing, rotate_secret(uow, existing, now) if rotate else None
    created = add_client(
        uow,
        Principal.operator(app.id),
        CreateClient(name=INIT_CLIENT_NAME, type=ClientType.MACHINE_TO_MACHINE, role_ids=[admin_role.id]),
        now,
    )
    return created.client, created.secret


def get_application(ctx: CoreContext, actor: Principal, application_id: str) -> Application:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    require(actor, "application:read", tenant_id=None)
    with ctx.uow(application_id) as uow:
        app = uow.applications.get(application_id)
    if app is None:
        raise NotFound("application", application_id)
    return app


def update_application(
    ctx: CoreContext, actor: Principal, application_id: str, changes: Mapping[str, Any]
) -> Application:
    """Display name, login URL and whether application-level signup is open."""
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    require(actor, "application:update", tenant_id=None)
    violations: dict[str, list[Violation]] = {}
    if (name := changes.get("displayName")) is not None and (problem := text_violation(name, max_length=200)):
        violations["displayName"] = [problem]
    login_url = changes.get("loginUrl")
    if login_url is not None and (len(login_url) > 2000 or not str(login_url).startswith("https://")):
        violations["loginUrl"] = [Violation("invalid_format")]
    if "signupEnabled" in changes and changes["signupEnabled"] is None:
        violations["signupEnabled"] = [Violation("not_null")]
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to update the application")
    now = ctx.clock.now()
    with ctx.uow(application_id, write=True) as uow:
        app = uow.applications.get(application_id)
        if app is None:
            raise NotFound("application", application_id)
        if name is not None:
            app.display_name = name
        if "loginUrl" in changes:
            app.login_url = login_url
        if "signupEnabled" in changes:
            app.signup_enabled = bool(changes["signupEnabled"])
        app.metadata.touch(now)
        uow.applications.update(app)
        uow.commit()
    return app
