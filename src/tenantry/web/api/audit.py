"""``GET /api/v1/audit-events``: the audit log, filtered with the list conventions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tenantry.adapters.sql.listing import AUDIT_LISTING
from tenantry.core.audit.model import AuditEvent
from tenantry.core.audit.service import list_events
from tenantry.protocols.query import SortKey
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import iso
from tenantry.web.deps import ApplicationDep, CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["audit"])
AuditList = Annotated[ListParams, Depends(list_params(AUDIT_LISTING.attributes))]


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "applicationId": event.application_id,
        "tenantId": event.tenant_id,
        "actor": {"type": event.actor_type, "id": event.actor_id},
        "action": event.action,
        "target": {"type": event.target_type, "id": event.target_id} if event.target_type else None,
        "origin": {"ip": event.ip, "userAgent": event.user_agent},
        "details": event.details,
        "creationTime": iso(event.created_at),
    }


@router.get("/audit-events")
def audit_events(params: AuditList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep) -> dict[str, Any]:
    """Newest first unless ``sort_by`` says otherwise."""
    spec = params.spec
    if not spec.sort:
        spec = type(spec)(spec.filter, (SortKey("creationTime", True),), spec.start_index, spec.count)
    return envelope(list_events(core, actor, application.id, spec), params, event_json)
