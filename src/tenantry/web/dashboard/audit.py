"""The audit log: who did what, to which resource, in which tenant, when and from where.

Filters become query-language expressions on the listing of ``GET /api/v1/audit-events``; a
tenant administrator sees only their tenant's events (the core's tenant scope)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.adapters.sql.listing import AUDIT_LISTING
from tenantry.core.audit.model import AuditEvent
from tenantry.core.audit.service import list_events
from tenantry.core.ports import ListSpec, Page
from tenantry.protocols.query import parse_query, parse_sort
from tenantry.protocols.query.parser import QueryError
from tenantry.web.dashboard.common import Paging, dashboard_router, is_htmx, quote, tenants_in_reach
from tenantry.web.dashboard.rendering import SignedDep, render
from tenantry.web.deps import CoreDep

router = dashboard_router()
FILTERS = ("tenant", "actor", "action", "target", "from", "to")


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QueryError("query", f"{name}: use a date such as 2026-01-31") from None


def audit_query(values: dict[str, str], tenant_pinned: str | None = None) -> str | None:
    """The filters as an expression: exact tenant, actor and target ids, an action prefix
    (``user.`` for every user event), and a day range in UTC (``to`` included)."""
    parts: list[str] = []
    tenant = tenant_pinned or values["tenant"]
    if tenant:
        parts.append(f"tenantId eq {quote(tenant)}")
    if values["actor"]:
        parts.append(f"actorId eq {quote(values['actor'])}")
    if values["action"]:
        parts.append(f"action sw {quote(values['action'])}")
    if values["target"]:
        parts.append(f"targetId eq {quote(values['target'])}")
    if start := _day(values["from"], "From"):
        parts.append(f'creationTime ge "{start.isoformat()}T00:00:00Z"')
    if end := _day(values["to"], "To"):
        parts.append(f'creationTime lt "{(end + timedelta(days=1)).isoformat()}T00:00:00Z"')
    return " and ".join(parts) or None


def event_page(core: Any, signed: Any, text: str | None, paging: Paging) -> Page[AuditEvent]:
    spec = ListSpec(
        filter=parse_query(text, AUDIT_LISTING.attributes) if text else None,
        sort=parse_sort("creationTime:desc", AUDIT_LISTING.attributes),
        start_index=paging.start_index,
        count=paging.per,
    )
    page: Page[AuditEvent] = list_events(core, signed.principal, signed.application.id, spec)
    return page


@router.get("/audit", response_model=None)
def audit(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    params = request.query_params
    values = {name: params.get(name, "").strip()[:100] for name in FILTERS}
    if not signed.app_view:
        values["tenant"] = ""
    tenants = tenants_in_reach(core, signed)
    paging = Paging.of(request)
    context: dict[str, Any] = {
        "section": "audit",
        "values": values,
        "tenants": tenants,
        "tenant_names": {t.id: t.display_name for t in tenants},
        "htmx_target": "#results-panel",
        "partial": is_htmx(request),
    }
    template = "_audit_results.html" if context["partial"] else "audit.html"
    try:
        page = event_page(core, signed, audit_query(values, signed.admin.tenant_id), paging)
    except QueryError as error:
        return render(request, template, {**context, "error": str(error), "page": None}, 400, signed)
    return render(request, template, {**context, **paging.context(page, params)}, signed=signed)
