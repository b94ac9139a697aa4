"""Authenticating OAuth2 clients and turning a verified token subject into a ``Principal``."""

from __future__ import annotations

from tenantry.core.access import Principal
from tenantry.core.clients.model import Client
from tenantry.core.context import CoreContext
from tenantry.core.errors import Unauthenticated
from tenantry.core.users.model import UserStatus


def authenticate_client(ctx: CoreContext, application_id: str, client_id: str, secret: str) -> Client:
    """The client, if ``secret`` is its secret. Unknown clients and wrong secrets fail alike."""
    with ctx.uow(application_id) as uow:
        client = uow.clients.get(client_id) if len(client_id) <= 64 else None
    if client is None or not client.verify_secret(secret):
        raise Unauthenticated("Client authentication failed")
    return client


def client_principal(ctx: CoreContext, application_id: str, client_id: str) -> Principal:
    with ctx.uow(application_id) as uow:
        client = uow.clients.get(client_id)
        if client is None:
            raise Unauthenticated("The token's client no longer exists")
        roles = uow.roles.roles_of_client(client_id)
    return Principal(
        application_id=application_id,
        subject=client.id,
        kind="client",
        tenant_id=client.tenant_id,
        grants=tuple(g for role in roles for g in role.grants),
        client_id=client.id,
    )


def user_principal(ctx: CoreContext, application_id: str, user_id: str, grant_family: str) -> Principal:
    """A signed-in user calling the API with their access token: their roles' grants, bounded
    to their tenant (and to themselves for SELF grants). The sign-in must still be live."""
    with ctx.uow(application_id) as uow:
        user = uow.users.get(user_id)
        if user is None or user.status is not UserStatus.ACTIVE or uow.refresh_tokens.family_revoked(grant_family):
            raise Unauthenticated("The access token's user is not active or was signed out")
        roles = uow.roles.roles_of_users([user_id]).get(user_id, [])
    return Principal(
        application_id=application_id,
        subject=user.id,
        kind="user",
        tenant_id=user.tenant_id,
        grants=tuple(g for role in roles for g in role.grants),
    )
