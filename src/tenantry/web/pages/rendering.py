"""Jinja2 templates for the hosted pages, and the CSRF double-submit check of their forms."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tenantry.core.errors import TenantryError

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The templates ship with the package: compiled once, not stat()ed on every render.
TEMPLATES.env.auto_reload = False
CSRF_COOKIE = "tenantry_csrf"
CSRF_FIELD = "csrf_token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class CsrfFailure(TenantryError):
    code = "csrf_failed"
    default_message = "This form has expired. Please go back and try again."


def csrf_token(request: Request) -> str:
    """The token of this browser (the cookie value), minting one when there is none."""
    existing = request.cookies.get(CSRF_COOKIE)
    token: str = request.state.__dict__.get("csrf") or (
        existing if existing and 20 <= len(existing) <= 100 else secrets.token_urlsafe(32)
    )
    request.state.csrf = token
    return token


def check_csrf(request: Request, form: dict[str, str]) -> None:
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    sent = form.get(CSRF_FIELD) or ""
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise CsrfFailure()


def page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    token = csrf_token(request)
    response = TEMPLATES.TemplateResponse(
        request, template, {"csrf_token": token, **context}, status_code=status_code, headers=NO_STORE
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src https: data:; frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def too_many_requests(request: Request) -> HTMLResponse:
    response = error_page(request, "Too many attempts", "Please wait a minute and try again.", 429)
    response.headers["Retry-After"] = "60"
    return response


def error_page(request: Request, title: str, message: str, status_code: int = 400) -> HTMLResponse:
    return page(request, "error.html", {"title": title, "message": message}, status_code)
