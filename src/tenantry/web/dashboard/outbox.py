"""The email outbox (application administrators): messages with their status, attempts and last
error, filterable, and "Retry now" for a pending or failed one (an htmx fragment, or a redirect)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from tenantry.core.mail.model import OUTBOX_STATUSES, OutboxEntry, OutboxFilter
from tenantry.core.mail.service import list_outbox, retry_message
from tenantry.core.ports import Page
from tenantry.web.dashboard.common import Paging, app_admin_only, call, dashboard_router, int_param, is_htmx, notice
from tenantry.web.dashboard.rendering import FormDep, SignedDep, redirect, render
from tenantry.web.deps import CoreDep

router = dashboard_router()


@router.get("/outbox", response_model=None)
def outbox(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    params = request.query_params
    status = params.get("status", "")
    where = OutboxFilter(
        status=status if status in OUTBOX_STATUSES else None,
        with_error=params.get("error") == "on",
        min_attempts=int_param(params.get("attempts"), 0, 0, 1000),
        recipient_prefix=params.get("q", "").strip()[:200] or None,
    )
    paging = Paging.of(request)
    page: Page[OutboxEntry] = list_outbox(core, signed.principal, where, paging.start_index, paging.per)
    context = {
        "section": "outbox",
        **paging.context(page, params),
        "where": where,
        "statuses": OUTBOX_STATUSES,
        "notice": notice(request),
        "htmx_target": "#results-panel",
    }
    template = "_outbox_results.html" if is_htmx(request) else "outbox.html"
    return render(request, template, context, signed=signed)


@router.post("/outbox/{message_id}/retry", response_model=None)
def retry(request: Request, message_id: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    call(retry_message, core, signed.principal, message_id)
    if is_htmx(request):
        return HTMLResponse('<span class="notice-inline" role="status">Queued: sent on the next pass</span>')
    return redirect("/dashboard/outbox?done=retry")
