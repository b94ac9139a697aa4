"""The administrator's own settings: two-step sign-in with a TOTP authenticator app."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.admins.mfa import (
    confirm_enrollment,
    disable_totp,
    pending_enrollment,
    start_enrollment,
    totp_state,
)
from tenantry.core.errors import TenantryError
from tenantry.web.dashboard.common import dashboard_router, notice
from tenantry.web.dashboard.rendering import FormDep, Signed, SignedDep, error_text, redirect, render
from tenantry.web.deps import CoreDep

router = dashboard_router()


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG ``data:`` URI (the page's CSP allows ``data:`` images)."""
    import segno  # only the TOTP set-up page draws a QR code: not loaded in every worker

    uri: str = segno.make(text, error="m").svg_data_uri(scale=5, border=2)
    return uri


def _page(request: Request, core: Any, signed: Signed, status: int = 200, **extra: Any) -> Response:
    state = totp_state(core, signed.admin)
    enrollment = pending_enrollment(core, signed.admin, signed.application.display_name)
    context = {
        "section": "account",
        "totp_on": state is not None and state.active,
        "enrollment": enrollment,
        "qr": qr_data_uri(enrollment.uri) if enrollment else None,
        "notice": notice(request),
        **extra,
    }
    return render(request, "account.html", context, status, signed)


@router.get("/account", response_model=None)
def account(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    return _page(request, core, signed)


@router.post("/account/totp/start", response_model=None)
def totp_start(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    try:
        start_enrollment(core, signed.admin, signed.application.display_name)
    except TenantryError as error:
        return _page(request, core, signed, 400, errors=error_text(error))
    return redirect("/dashboard/account#totp")


@router.post("/account/totp/confirm", response_model=None)
def totp_confirm(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    try:
        confirm_enrollment(core, signed.admin, form.get("code")[:20])
    except TenantryError as error:
        return _page(request, core, signed, 400, errors=error_text(error))
    return redirect("/dashboard/account?done=totp-on")


@router.post("/account/totp/disable", response_model=None)
def totp_disable(request: Request, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    try:
        disable_totp(core, signed.admin, form.get("password"))
    except TenantryError as error:
        return _page(request, core, signed, 400, errors=error_text(error))
    return redirect("/dashboard/account?done=totp-off")
