"""``/scim/v2/…`` on tenant hosts: SCIM 2.0 provisioning of the tenant's users by its directory.

The host names the tenant, the bearer token the identity provider (``core.provisioning``); a token
works on its own tenant's host only. Errors are SCIM's (``web/errors.py``). The routes are not in
the OpenAPI document: SCIM describes itself (``/ServiceProviderConfig``, ``/Schemas``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.core.context import CoreContext
from tenantry.core.identity_providers.urls import SCIM_PREFIX
from tenantry.core.ports import ListSpec
from tenantry.core.provisioning import service as provisioning
from tenantry.core.provisioning.model import Directory, DirectoryUser
from tenantry.core.text import json_problem
from tenantry.core.users.model import User
from tenantry.protocols.scim import discovery
from tenantry.protocols.scim.errors import ScimError
from tenantry.protocols.scim.filter import user_filter
from tenantry.protocols.scim.patch import apply_patch
from tenantry.protocols.scim.projection import project
from tenantry.protocols.scim.users import USER_SCHEMA, directory_user, user_resource
from tenantry.web.api.listing import MAX_START_INDEX
from tenantry.web.deps import CoreDep, TenantTargetDep
from tenantry.web.routing import OneHopRoute
from tenantry.web.threads import run_in_thread

PREFIX = SCIM_PREFIX
MEDIA_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
router = APIRouter(prefix=PREFIX, route_class=OneHopRoute, include_in_schema=False)


async def get_directory(request: Request, target: TenantTargetDep, core: CoreDep) -> Directory:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimError(401, "A directory token is required (Authorization: Bearer …)")
    directory = await run_in_thread(
        provisioning.authenticate_directory, core, target.application.id, target.tenant.id, token.strip()
    )
    if directory is None:
        raise ScimError(401, "The directory token is not valid for this tenant")
    return directory


DirectoryDep = Annotated[Directory, Depends(get_directory)]
Attributes = Annotated[str | None, Query()]


def _base(request: Request) -> str:
    return f"https://{request.headers.get('host', '')}{PREFIX}"


def scim_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as error:
        raise ScimError(400, "The body is not valid JSON (or nests too deeply)", "invalidSyntax") from error
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
    if problem := json_problem(body):
        raise ScimError(400, problem, "invalidValue")
    return body


def _resource(request: Request, user: User) -> dict[str, Any]:
    return user_resource(user, f"{_base(request)}/Users/{user.id}")


# --- discovery ---------------------------------------------------------------------------------------


@router.get("/ServiceProviderConfig")
def service_provider_config(request: Request, _: DirectoryDep) -> JSONResponse:
    return scim_json(discovery.service_provider_config(_base(request)))


@router.get("/ResourceTypes")
def resource_types(request: Request, _: DirectoryDep) -> JSONResponse:
    return scim_json(discovery.list_response([discovery.user_resource_type(_base(request))], 1, 1))


@router.get("/ResourceTypes/{name}")
def resource_type(name: str, request: Request, _: DirectoryDep) -> JSONResponse:
    if name != "User":
        raise ScimError(404, f"No resource type {name}")
    return scim_json(discovery.user_resource_type(_base(request)))


@router.get("/Schemas")
def schemas(request: Request, _: DirectoryDep) -> JSONResponse:
    return scim_json(discovery.list_response([discovery.user_schema(_base(request))], 1, 1))


@router.get("/Schemas/{schema_id}")
def schema(schema_id: str, request: Request, _: DirectoryDep) -> JSONResponse:
    if schema_id != USER_SCHEMA:
        raise ScimError(404, f"No schema {schema_id}")
    return scim_json(discovery.user_schema(_base(request)))


# --- users -------------------------------------------------------------------------------------------


def _page(
    request: Request,
    core: CoreContext,
    directory: Directory,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    attributes: str | None,
    excluded: str | None,
) -> JSONResponse:
    start = min(max(1, start_index or 1), MAX_START_INDEX)
    wanted = DEFAULT_COUNT if count is None else min(max(0, count), discovery.MAX_RESULTS)
    spec = ListSpec(
        filter=user_filter(filter_text, directory.provider.id, USER_LISTING.attributes),
        start_index=start,
        count=max(1, wanted),
    )
    page = provisioning.directory_users(core, directory, spec)
    items = page.items[:wanted]
    resources = [project(_resource(request, user), attributes, excluded) for user in items]
    return scim_json(discovery.list_response(resources, page.total, start))


@router.get("/Users")
def list_users(
    request: Request,
    core: CoreDep,
    directory: DirectoryDep,
    filter: Annotated[str | None, Query(max_length=4000)] = None,
    startIndex: Annotated[int | None, Query()] = None,
    count: Annotated[int | None, Query()] = None,
    attributes: Attributes = None,
    excludedAttributes: Attributes = None,
) -> JSONResponse:
    return _page(request, core, directory, filter, startIndex, count, attributes, excludedAttributes)


@router.post("/Users/.search")
async def search_users(request: Request, core: CoreDep, directory: DirectoryDep) -> JSONResponse:
    body = await _body(request)

    def field(name: str, kind: type) -> Any:
        value = body.get(name)
        wrong = value is not None and (not isinstance(value, kind) or isinstance(value, bool))
        if wrong or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise ScimError(400, f"{name} has the wrong type", "invalidValue")
        return ",".join(value) if isinstance(value, list) else value

    arguments = (
        field("filter", str),
        field("startIndex", int),
        field("count", int),
        field("attributes", list),
        field("excludedAttributes", list),
    )
    return await run_in_thread(_page, request, core, directory, *arguments)


@router.post("/.search")
def search_everything(_: DirectoryDep) -> JSONResponse:
    raise ScimError(501, "Searching several resource types at once is not supported; use /Users/.search")


@router.post("/Users")
async def create_user(request: Request, core: CoreDep, directory: DirectoryDep) -> JSONResponse:
    data = directory_user(await _body(request))
    user = await run_in_thread(provisioning.create_directory_user, core, directory, data)
    resource = _resource(request, user)
    return scim_json(resource, 201, {"Location": resource["meta"]["location"]})


@router.get("/Users/{user_id}")
def get_user(
    user_id: str,
    request: Request,
    core: CoreDep,
    directory: DirectoryDep,
    attributes: Attributes = None,
    excludedAttributes: Attributes = None,
) -> JSONResponse:
    user = provisioning.directory_user(core, directory, user_id)
    return scim_json(project(_resource(request, user), attributes, excludedAttributes))


@router.put("/Users/{user_id}")
async def replace_user(user_id: str, request: Request, core: CoreDep, directory: DirectoryDep) -> JSONResponse:
    data = directory_user(await _body(request))
    user = await run_in_thread(provisioning.replace_directory_user, core, directory, user_id, data)
    return scim_json(_resource(request, user))


@router.patch("/Users/{user_id}")
async def patch_user(user_id: str, request: Request, core: CoreDep, directory: DirectoryDep) -> JSONResponse:
    body = await _body(request)

    def patched(user: User) -> DirectoryUser:
        return directory_user(apply_patch(_resource(request, user), body))

    user = await run_in_thread(provisioning.patch_directory_user, core, directory, user_id, patched)
    return scim_json(_resource(request, user))


@router.delete("/Users/{user_id}", status_code=204)
def delete_user(user_id: str, core: CoreDep, directory: DirectoryDep) -> Response:
    provisioning.delete_directory_user(core, directory, user_id)
    return Response(status_code=204)
