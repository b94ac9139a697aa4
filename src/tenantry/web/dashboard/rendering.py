"""Rendering, forms, CSRF and the signed-in administrator for the dashboard pages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tenantry.core.access import Principal
from tenantry.core.admins.model import Admin
from tenantry.core.admins.service import admin_principal, resolve_admin_session
from tenantry.core.applications.model import Application
from tenantry.core.errors import ConstraintViolations, TenantryError
from tenantry.web.deps import ApplicationDep, CoreDep
from tenantry.web.pages.rendering import CSRF_COOKIE, CSRF_FIELD, CsrfFailure, check_csrf, csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The templates ship with the package: compiled once, not stat()ed on every render.
TEMPLATES.env.auto_reload = False
ADMIN_COOKIE = "tenantry_admin"
MAX_FORM_BYTES = 65_536
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class DashboardError(Exception):
    """Rendered as the dashboard's error page with ``status``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class SignInRequired(Exception):
    """No live dashboard session: go to the sign-in page."""


def not_found() -> DashboardError:
    return DashboardError(404, "Not found", "This page does not exist, or you cannot see it.")


@dataclass(frozen=True, slots=True)
class Signed:
    """The signed-in administrator, the Principal they act as, and their application."""

    admin: Admin
    principal: Principal
    application: Application

    @property
    def app_view(self) -> bool:
        return self.admin.tenant_id is None


class Form:
    """A url-encoded form; ``getlist`` for repeated fields (checkboxes)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.pairs if k == name), default)

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


async def read_checked_form(request: Request, *, max_bytes: int = MAX_FORM_BYTES, max_fields: int = 300) -> Form:
    """The posted form, refused (403) unless its CSRF token matches the browser's cookie."""
    pairs: list[tuple[str, str]] = []
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
        raw = await request.body()
        if len(raw) <= max_bytes:
            try:
                pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
            except (UnicodeDecodeError, ValueError):
                pairs = []
    form = Form(pairs)
    try:
        check_csrf(request, {CSRF_FIELD: form.get(CSRF_FIELD)})
    except CsrfFailure as error:
        raise DashboardError(403, "Please try again", error.message) from None
    return form


async def checked_form(request: Request) -> Form:
    return await read_checked_form(request)


def signed_in(request: Request, application: ApplicationDep, core: CoreDep) -> Signed:
    admin = resolve_admin_session(core, application.id, request.cookies.get(ADMIN_COOKIE))
    if admin is None:
        raise SignInRequired()
    return Signed(admin, admin_principal(admin), application)


FormDep = Annotated[Form, Depends(checked_form)]
SignedDep = Annotated[Signed, Depends(signed_in)]


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200, signed: Signed | None = None
) -> HTMLResponse:
    token = csrf_token(request)
    nonce = secrets.token_urlsafe(16)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"csrf_token": token, "nonce": nonce, "signed": signed, **context},
        status_code=status_code,
        headers=NO_STORE,
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; img-src 'self' https: data:; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def redirect(url: str) -> Response:
    return RedirectResponse(url, 303, headers=NO_STORE)


def error_text(error: TenantryError) -> list[str]:
    """Readable messages of a core error, one per field violation."""
    if isinstance(error, ConstraintViolations) and error.violations:
        return [
            f"{name}: " + ", ".join(v.code.replace("_", " ") for v in found) for name, found in error.violations.items()
        ]
    return [error.message]
