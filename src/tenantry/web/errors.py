"""The single mapping from errors to HTTP responses.

API errors use Wristband's two JSON shapes (``base_error`` and ``constraint_violations_error``),
each with a ``ticket`` that is also logged; OAuth endpoints use RFC 6749's ``error`` /
``error_description``. Anything unexpected becomes a 500 with a ticket and a logged traceback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from tenantry.adapters.sql.errors import database_unavailable
from tenantry.core.errors import (
    ChangedMeanwhile,
    ConstraintViolations,
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
    TenantryError,
    Unauthenticated,
    Violation,
)
from tenantry.core.ids import new_id
from tenantry.protocols.oauth2.errors import InvalidClientError, OAuth2Error
from tenantry.protocols.query import QueryError
from tenantry.protocols.scim.errors import ScimError, error_document
from tenantry.web.pages.rendering import error_page

log = structlog.get_logger("tenantry.errors")
LINK_TITLES = {
    "/accept-invite": "This invitation cannot be used",
    "/accept-existing-invite": "This invitation cannot be used",
    "/activate": "This activation link cannot be used",
    "/verify-email": "This verification link cannot be used",
    "/reset-password": "This reset link cannot be used",
}
DATABASE_RETRY_AFTER = "2"  # seconds; a restarting database is usually back within a few
JSON_PATHS = ("/api/", "/.well-known/", "/health", "/metrics", "/users/", "/refresh-tokens/")

STATUS_BY_ERROR: list[tuple[type[TenantryError], int]] = [
    (NotFound, 404),
    (ConstraintViolations, 400),
    (InvalidRequest, 400),
    (InvalidState, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (ChangedMeanwhile, 409),
]
PYDANTIC_CODES = {
    "missing": "required",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_many",
    "too_short": "too_few",
    "string_type": "invalid_type",
    "bool_type": "invalid_type",
    "bool_parsing": "invalid_type",
    "int_type": "invalid_type",
    "int_parsing": "invalid_type",
    "dict_type": "invalid_type",
    "list_type": "invalid_type",
    "enum": "invalid_value",
    "literal_error": "invalid_value",
    "string_pattern_mismatch": "invalid_format",
}


def _base_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    ticket = new_id()
    log.info("request_failed", status=status, code=code, ticket=ticket, message=message)
    body = {"type": "base_error", "code": code, "message": message, "ticket": ticket}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _violations_error(code: str, message: str, violations: Mapping[str, Sequence[Violation]]) -> JSONResponse:
    ticket = new_id()
    rendered = {
        name: [
            {"code": v.code, **({"constraintAttributes": dict(v.attributes)} if v.attributes else {})} for v in found
        ]
        for name, found in violations.items()
    }
    log.info("request_failed", status=400, code=code, ticket=ticket, violations=rendered)
    body = {
        "type": "constraint_violations_error",
        "code": code,
        "message": message,
        "ticket": ticket,
        "violations": rendered,
    }
    return JSONResponse(body, status_code=400)


def tenantry_error_response(error: TenantryError) -> JSONResponse:
    if isinstance(error, ConstraintViolations):
        return _violations_error(error.code, error.message, {k: v for k, v in error.violations.items()})
    status = next((s for cls, s in STATUS_BY_ERROR if isinstance(error, cls)), 400)
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return _base_error(status, error.code, error.message, headers)


SCIM_PATH = "/scim/"
SCIM_MEDIA_TYPE = "application/scim+json"


def scim_error_response(error: Exception) -> JSONResponse:
    """Any error of a ``/scim/…`` request in SCIM's format (RFC 7644 §3.12)."""
    if isinstance(error, ScimError):
        status, detail, scim_type = error.status, error.detail, error.scim_type
    elif isinstance(error, ConstraintViolations):
        taken = [name for name, found in error.violations.items() if any(v.code == "not_unique" for v in found)]
        fields = "; ".join(f"{n}: {', '.join(v.code for v in found)}" for n, found in error.violations.items())
        fixed = any(v.code == "immutable" for found in error.violations.values() for v in found)
        status, scim_type = (409, "uniqueness") if taken else (400, "mutability" if fixed else "invalidValue")
        detail = f"{error.message} ({fields})" if fields else error.message
    elif isinstance(error, TenantryError):
        status = next((s for cls, s in STATUS_BY_ERROR if isinstance(error, cls)), 400)
        detail, scim_type = error.message, None
    elif isinstance(error, RequestValidationError):
        status, detail, scim_type = 400, "A query parameter has the wrong type", "invalidValue"
    elif isinstance(error, StarletteHTTPException):
        status, detail, scim_type = error.status_code, str(error.detail), None
    else:
        raise TypeError(f"not a client error: {error!r}")
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return JSONResponse(
        error_document(status, detail, scim_type), status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers
    )


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc[1:]) or str(loc[0])


def validation_error_response(error: RequestValidationError) -> JSONResponse:
    errors: Sequence[Any] = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _base_error(400, "invalid_request", "The request body is not valid JSON")
    if invalid := next((e for e in errors if e.get("type") == "invalid_request"), None):
        return _base_error(400, "invalid_request", str(invalid["msg"]))
    body_errors = [e for e in errors if e["loc"] and e["loc"][0] == "body"]
    if body_errors and len(body_errors[0]["loc"]) == 1:
        return _base_error(400, "invalid_request", "The request body must be a JSON object")
    if body_errors:
        violations: dict[str, list[Violation]] = {}
        for e in body_errors:
            attributes: dict[str, str] = {}
            ctx = e.get("ctx") or {}
            for key, name in (
                ("max_length", "maxLength"),
                ("min_length", "minLength"),
                ("expected", "allowedValues"),
            ):
                if key in ctx:
                    attributes[name] = str(ctx[key])
            code = PYDANTIC_CODES.get(e["type"], "invalid_value")
            violations.setdefault(_field_path(e["loc"]), []).append(Violation(code, attributes))
        return _violations_error("message_body_constraint_violations", "Field violations detected", violations)
    first = errors[0]
    where = first["loc"][0] if first["loc"] else "request"
    name = first["loc"][-1] if first["loc"] else "request"
    return _base_error(400, "invalid_request", f"Invalid {where} parameter [{name}]: {first['msg']}")


def oauth_error_response(error: OAuth2Error) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if isinstance(error, InvalidClientError):
        headers["WWW-Authenticate"] = 'Basic realm="tenantry"'
    body = {"error": error.error, "error_description": error.description}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_tenantry(request: Request, error: Exception) -> Response:
        assert isinstance(error, TenantryError)
        if request.url.path.startswith(SCIM_PATH):
            return scim_error_response(error)
        if not request.url.path.startswith(JSON_PATHS):
            # Hosted pages answer people: an unknown tenant host or expired link is a page.
            status = next((s for cls, s in STATUS_BY_ERROR if isinstance(error, cls)), 400)
            title = LINK_TITLES.get(request.url.path) or (
                "Page not found" if status == 404 else "Something is not right"
            )
            return error_page(request, title, error.message, status)
        return tenantry_error_response(error)

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        if request.url.path.startswith(SCIM_PATH):
            return scim_error_response(error)
        return validation_error_response(error)

    async def on_scim(_: Request, error: Exception) -> JSONResponse:
        return scim_error_response(error)

    async def on_query(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QueryError)
        return _base_error(400, "invalid_request", f"Invalid [{error.parameter}] parameter: {error.message}")

    async def on_oauth(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, OAuth2Error)
        return oauth_error_response(error)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        if request.url.path.startswith(SCIM_PATH):
            return scim_error_response(error)
        codes = {
            400: "invalid_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        message = error.detail if isinstance(error.detail, str) else "Request failed"
        if error.status_code == 400 and "parsing the body" in message:
            message = "The request body could not be parsed"
        return _base_error(error.status_code, codes.get(error.status_code, "http_error"), message, error.headers)

    async def on_disconnect(_: Request, __: Exception) -> Response:
        # The client went away while its body was read (or BodyLimitMiddleware cut an oversized
        # stream off and answered 413 itself): nobody to answer, and not a server error.
        return Response(status_code=400)

    async def on_database(request: Request, error: Exception) -> Response:
        # Registered for the database's own errors so that they are answered here, not re-raised
        # by the server-error middleware (which closes the connection after the answer).
        if not database_unavailable(error):
            return await on_unexpected(request, error)
        ticket = new_id()
        log.warning("database_unavailable", ticket=ticket, path=request.url.path, error=str(error).splitlines()[0])
        headers = {"Retry-After": DATABASE_RETRY_AFTER}
        if not request.url.path.startswith(JSON_PATHS):
            page = error_page(request, "Please try again in a moment", "The service is briefly unavailable.", 503)
            page.headers.update(headers)
            return page
        body = {
            "type": "base_error",
            "code": "service_unavailable",
            "message": "The database is unavailable; retry shortly",
            "ticket": ticket,
        }
        return JSONResponse(body, status_code=503, headers=headers)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        ticket = new_id()
        log.exception("unhandled_error", ticket=ticket, path=request.url.path)
        body = {
            "type": "base_error",
            "code": "server_error",
            "message": "Unexpected server error",
            "ticket": ticket,
        }
        return JSONResponse(body, status_code=500)

    generate_document = app.openapi

    def documented() -> dict[str, Any]:
        return document_errors(generate_document())  # in place and idempotent on FastAPI's cached document

    app.openapi = documented  # type: ignore[method-assign]
    app.add_exception_handler(TenantryError, on_tenantry)
    app.add_exception_handler(ScimError, on_scim)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(QueryError, on_query)
    app.add_exception_handler(OAuth2Error, on_oauth)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(PoolTimeout, on_database)
    app.add_exception_handler(Exception, on_unexpected)


# ------------------------------------------------------------------ the errors in the OpenAPI document

_BASE_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "code", "message", "ticket"],
    "properties": {
        "type": {"type": "string", "enum": ["base_error"]},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "ticket": {"type": "string"},
    },
}
_VIOLATIONS_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "code", "message", "ticket", "violations"],
    "properties": {
        "type": {"type": "string", "enum": ["constraint_violations_error"]},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "ticket": {"type": "string"},
        "violations": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {
                        "code": {"type": "string"},
                        "constraintAttributes": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        },
    },
}
_OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_SCHEMA_REF = "#/components/schemas/"


def _json_response(description: str, *names: str) -> dict[str, Any]:
    refs = [{"$ref": _SCHEMA_REF + name} for name in names]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


API_ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "400": _json_response("Invalid request or field violations", "BaseError", "ConstraintViolationsError"),
    "401": _json_response("Missing, invalid or expired access token", "BaseError"),
    "403": _json_response("The token lacks a permission or the resource is outside its boundary", "BaseError"),
    "404": _json_response("Not found (or not visible to this token)", "BaseError"),
    "413": _json_response("The request body is too large", "BaseError"),
}

_REDIRECT = {"description": "Redirect (to the login page, the client, or with an OAuth error)"}
_HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}
_TENANT_HOST_ERRORS: dict[str, dict[str, Any]] = {
    "400": {"description": "Unsafe request: an error page, never a redirect", "content": _HTML_PAGE},
    "404": _json_response("Not a tenant's host", "BaseError"),
}
_OAUTH_ERRORS = {
    "400": _json_response("RFC 6749 error (invalid_request, invalid_grant, ...)", "OAuthError"),
    "401": _json_response("Client authentication failed (invalid_client)", "OAuthError"),
    "413": _json_response("The request body is too large", "BaseError"),
}
# Responses of the OAuth/OIDC endpoints besides their success, which speak RFC 6749's errors
# (or redirect people) rather than the management API's.
OAUTH_RESPONSES: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/oauth2/token": _OAUTH_ERRORS,
    "/api/v1/oauth2/revoke": _OAUTH_ERRORS,
    "/api/v1/oauth2/userinfo": {"401": _json_response("Missing, invalid or revoked user access token", "BaseError")},
    "/api/v1/oauth2/authorize": {"302": _REDIRECT, **_TENANT_HOST_ERRORS},
    "/api/v1/logout": {"302": _REDIRECT, **_TENANT_HOST_ERRORS},
}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Make FastAPI's generated document say what the handlers above answer: its ``422``
    ``HTTPValidationError`` is never sent (validation errors are 400s in Wristband's shapes), and
    the other error statuses of the management API are not generated at all."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(
        BaseError=_BASE_ERROR_SCHEMA, ConstraintViolationsError=_VIOLATIONS_ERROR_SCHEMA, OAuthError=_OAUTH_ERROR_SCHEMA
    )
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            extra = OAUTH_RESPONSES.get(path, API_ERROR_RESPONSES if path.startswith("/api/v1/") else {})
            for status, response in extra.items():
                responses.setdefault(status, response)
    return document
