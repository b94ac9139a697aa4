"""``/api/v1/users`` and the user listings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.core.access import Principal
from tenantry.core.context import CoreContext
from tenantry.core.users import service as users
from tenantry.core.users.model import PROFILE_FIELDS, UserStatus
from tenantry.protocols.query import parse_fields, select_fields
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import user_json
from tenantry.web.api.schemas import CreateUserBody, UpdateUserBody
from tenantry.web.deps import CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["users"])
UserList = Annotated[ListParams, Depends(list_params(USER_LISTING.attributes))]
FieldsParam = Annotated[str | None, Query(description="comma-separated field paths")]


@router.post("/users", status_code=201)
def create_user(body: CreateUserBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return created_user(core, actor, body)


def created_user(core: CoreContext, actor: Principal, body: CreateUserBody) -> dict[str, Any]:
    """Create User's work and answer, shared with its fast path (``web/api/fast_users``)."""
    return user_json(users.create_user(core, actor, create_user_command(body)))


def create_user_command(body: CreateUserBody) -> users.CreateUser:
    """A Create User body as the use case's command (also ``tenantry users import``'s lines)."""
    sent = body.model_dump(exclude_unset=True)
    return users.CreateUser(
        tenant_id=body.tenantId,
        identity_provider_name=body.identityProviderName,
        email=body.email,
        email_verified=body.emailVerified,
        status=UserStatus(body.status),
        password=body.password,
        password_hash=body.passwordHash,
        profile={k: v for k, v in sent.items() if k in PROFILE_FIELDS},
        public_metadata=body.publicMetadata or {},
        restricted_metadata=body.restrictedMetadata or {},
    )


@router.get("/users/{user_id}")
def get_user(user_id: str, core: CoreDep, actor: PrincipalDep, fields: FieldsParam = None) -> dict[str, Any]:
    return select_fields(user_json(users.get_user(core, actor, user_id)), parse_fields(fields))


@router.patch("/users/{user_id}")
def patch_user(user_id: str, body: UpdateUserBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return user_json(users.update_user(core, actor, user_id, changes))


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: str, core: CoreDep, actor: PrincipalDep) -> Response:
    users.delete_user(core, actor, user_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/users")
def tenant_users(tenant_id: str, params: UserList, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return envelope(users.list_tenant_users(core, actor, tenant_id, params.spec), params, user_json)


@router.get("/applications/{application_id}/users")
def application_users(application_id: str, params: UserList, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return envelope(users.list_application_users(core, actor, application_id, params.spec), params, user_json)
