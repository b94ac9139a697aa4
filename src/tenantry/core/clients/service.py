"""OAuth2 client use cases, and authenticating a client by its secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from tenantry.core.access import Principal, require, require_grantable
from tenantry.core.audit.service import record
from tenantry.core.clients.model import Client, ClientType, hash_secret
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, NotFound, Violation
from tenantry.core.ids import new_id, new_secret
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.text import CONTROL, storable, text_violation

SECRET_LENGTH = 48
MAX_REDIRECT_URIS = 20


@dataclass(frozen=True, slots=True)
class CreateClient:
    name: str
    type: ClientType
    tenant_id: str | None = None
    redirect_uris: Sequence[str] = ()
    login_url: str | None = None
    role_ids: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CreatedClient:
    client: Client
    secret: str | None


def _uri_ok(uri: str) -> bool:
    if CONTROL.search(uri):
        return False
    parts = urlsplit(uri.replace("{tenant_name}", "t").replace("{tenant_domain}", "t"))
    if parts.fragment or not parts.netloc:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))


def _violations(cmd: CreateClient) -> dict[str, list[Violation]]:
    found: dict[str, list[Violation]] = {}
    if problem := text_violation(cmd.name, max_length=200):
        found["name"] = [problem]
    if len(cmd.redirect_uris) > MAX_REDIRECT_URIS:
        found["redirectUris"] = [Violation("too_many", {"maxItems": str(MAX_REDIRECT_URIS)})]
    elif any(len(u) > 2000 or not storable(u) or not _uri_ok(u) for u in cmd.redirect_uris):
        found["redirectUris"] = [Violation("invalid_format")]
    if cmd.login_url is not None and (
        len(cmd.login_url) > 2000 or not storable(cmd.login_url) or not _uri_ok(cmd.login_url)
    ):
        found["loginUrl"] = [Violation("invalid_format")]
    if cmd.type is ClientType.MACHINE_TO_MACHINE and cmd.redirect_uris:
        found["redirectUris"] = [Violation("not_allowed")]
    return found


def add_client(uow: UnitOfWork, actor: Principal, cmd: CreateClient, now: datetime) -> CreatedClient:
    """Insert a client inside an open unit of work (used by the API and by ``tenantry init``).
    The client's roles may not reach further than the actor's own grants."""
    if violations := _violations(cmd):
        raise ConstraintViolations(violations, "Field violations detected while trying to create a client")
    if cmd.tenant_id is not None and uow.tenants.get(cmd.tenant_id) is None:
        raise NotFound("tenant", cmd.tenant_id)
    roles = uow.roles.get_many(list(cmd.role_ids))
    if len(roles) != len(set(cmd.role_ids)) or any(r.tenant_id not in (None, cmd.tenant_id) for r in roles):
        raise ConstraintViolations.single("roleIds", "invalid_value", "Unknown or foreign role ids")
    require_grantable(actor, roles, cmd.tenant_id)
    secret = new_secret(SECRET_LENGTH) if cmd.type.is_confidential else None
    client = Client(
        id=new_id(),
        application_id="",
        tenant_id=cmd.tenant_id,
        name=cmd.name,
        type=cmd.type,
        secret_hash=hash_secret(secret) if secret else None,
        redirect_uris=list(cmd.redirect_uris),
        login_url=cmd.login_url,
        metadata=EntityMetadata.new(now),
        role_ids=[r.id for r in roles],
    )
    uow.clients.add(client)
    return CreatedClient(client, secret)


def create_client(ctx: CoreContext, actor: Principal, cmd: CreateClient) -> CreatedClient:
    require(actor, "client:create", tenant_id=cmd.tenant_id)
    with ctx.uow(actor.application_id, write=True) as uow:
        created = add_client(uow, actor, cmd, ctx.clock.now())
        record(
            uow,
            ctx,
            "client.created",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=cmd.tenant_id,
            target=("client", created.client.id),
            details={"type": cmd.type.value},
        )
        uow.commit()
    return created


def rotate_secret(uow: UnitOfWork, client: Client, now: datetime) -> str:
    secret = new_secret(SECRET_LENGTH)
    client.secret_hash = hash_secret(secret)
    client.metadata.touch(now)
    uow.clients.update(client)
    return secret


def _visible_client(uow: UnitOfWork, actor: Principal, client_id: str, permission: str) -> Client:
    client = uow.clients.get(client_id)
    if client is None or not actor.allows(permission, tenant_id=client.tenant_id):
        raise NotFound("client", client_id)
    return client


def get_client(ctx: CoreContext, actor: Principal, client_id: str) -> Client:
    with ctx.uow(actor.application_id) as uow:
        return _visible_client(uow, actor, client_id, "client:read")


def delete_client(ctx: CoreContext, actor: Principal, client_id: str) -> None:
    with ctx.uow(actor.application_id, write=True) as uow:
        client = _visible_client(uow, actor, client_id, "client:delete")
        uow.clients.delete(client_id)
        record(
            uow,
            ctx,
            "client.deleted",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=client.tenant_id,
            target=("client", client_id),
        )
        uow.commit()


def list_clients(ctx: CoreContext, actor: Principal, application_id: str, spec: ListSpec) -> Page[Client]:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    scope = actor.tenant_scope("client:read")
    if scope.empty and not actor.allows("client:read", tenant_id=None):
        require(actor, "client:read", tenant_id=None)
    with ctx.uow(actor.application_id) as uow:
        return uow.clients.page(spec, scope)
