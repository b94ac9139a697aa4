"""What the dashboard's page modules share: the router factory, paging and query-text helpers,
the 404 for whatever is out of the administrator's reach, and the tenants and roles in reach."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from tenantry.core.context import CoreContext
from tenantry.core.errors import NotFound
from tenantry.core.ports import ListSpec, Page
from tenantry.core.roles.model import Role
from tenantry.core.roles.service import list_tenant_roles
from tenantry.core.tenants.model import Tenant
from tenantry.core.tenants.service import get_tenant, list_tenants
from tenantry.web.dashboard.rendering import Signed, not_found
from tenantry.web.routing import OneHopRoute

PAGE_SIZE = 25
R = TypeVar("R")
NOTICES = {
    "created": "User created.",
    "invited": "Invitation email sent.",
    "activation": "Activation email sent.",
    "saved": "Changes saved.",
    "deleted": "User deleted.",
    "canceled": "Invitation canceled.",
    "resent": "Invitation email sent again.",
    "tenant": "Tenant created.",
    "tenant-saved": "Tenant saved.",
    "tenant-deleting": "The tenant is being deleted.",
    "policy": "Policy saved.",
    "revoked": "Sessions and refresh tokens revoked.",
    "admin": "Administrator created.",
    "admin-deleted": "Administrator deleted.",
    "client-deleted": "Client deleted.",
    "rotated": "A new signing key is now in use.",
    "retry": "The message will be sent again shortly.",
    "totp-on": "Two-step sign-in is on.",
    "totp-off": "Two-step sign-in is off.",
}


def dashboard_router() -> APIRouter:
    return APIRouter(route_class=OneHopRoute, prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def int_param(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(raw or default), low), high)
    except ValueError:
        return default


def quote(text: str) -> str:
    """``text`` as a query-language string literal: it can never change the expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def call(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """A core call whose NotFound means 'not yours or not there': the dashboard's 404."""
    try:
        return fn(*args, **kwargs)
    except NotFound:
        raise not_found() from None


def app_admin_only(signed: Signed) -> None:
    """Pages of the application view: a tenant administrator gets the same 404 as for a missing page."""
    if not signed.app_view:
        raise not_found()


def is_htmx(request: Request) -> bool:
    """An htmx request for a fragment (``HX-Request``), not a history restore (full page wanted)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


@dataclass(frozen=True, slots=True)
class Paging:
    page_no: int
    per: int

    @classmethod
    def of(cls, request: Request, default: int = PAGE_SIZE) -> Paging:
        params = request.query_params
        return cls(int_param(params.get("page"), 1, 1, 100_000), int_param(params.get("per"), default, 1, 100))

    @property
    def start_index(self) -> int:
        return (self.page_no - 1) * self.per + 1

    def context(self, page: Page[Any], params: Mapping[str, str]) -> dict[str, Any]:
        """What ``_pager.html`` needs: the page, its number, how many, and the other parameters."""
        return {
            "page": page,
            "page_no": self.page_no,
            "pages": max((page.total + self.per - 1) // self.per, 1),
            "base": {k: v for k, v in params.items() if k not in ("page", "done")},
        }


def tenants_in_reach(core: CoreContext, signed: Signed) -> list[Tenant]:
    if signed.app_view:
        page: Page[Tenant] = list_tenants(core, signed.principal, signed.application.id, ListSpec(count=200))
        return page.items
    assert signed.admin.tenant_id is not None
    return [call(get_tenant, core, signed.principal, signed.admin.tenant_id)]


def grantable_roles(core: CoreContext, signed: Signed, tenant_id: str) -> list[Role]:
    """The roles this administrator may hand to a user of ``tenant_id`` (nobody grants beyond their reach)."""
    page: Page[Role] = list_tenant_roles(core, signed.principal, tenant_id, True, ListSpec(count=100))
    return [r for r in page.items if all(signed.principal.can_grant(g, tenant_id) for g in r.grants)]
