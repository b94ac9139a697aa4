"""Signing keys (application administrators): the keys in the JWKS, and rotation.

The key store is the server's (``tenantry keys rotate``): rotating here rotates it for every
application this server hosts, which the page says."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.audit.service import record_event
from tenantry.web.dashboard.common import app_admin_only, dashboard_router, notice
from tenantry.web.dashboard.rendering import FormDep, SignedDep, redirect, render
from tenantry.web.deps import CoreDep, ServicesDep

router = dashboard_router()


@router.get("/keys", response_model=None)
def keys(request: Request, signed: SignedDep, services: ServicesDep) -> Response:
    app_admin_only(signed)
    context = {"section": "keys", "keys": services.keys.describe(), "notice": notice(request)}
    return render(request, "keys.html", context, signed=signed)


@router.post("/keys/rotate", response_model=None)
def rotate(signed: SignedDep, services: ServicesDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    kid = services.keys.rotate(token_lifetime=timedelta(seconds=services.settings.access_token_lifetime))
    record_event(
        core,
        "signing_key.rotated",
        application_id=signed.application.id,
        actor=signed.principal,
        target=("signing_key", kid),
    )
    return redirect("/dashboard/keys?done=rotated")
