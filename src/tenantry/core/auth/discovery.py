"""Tenant discovery: an email listing the tenants an address can sign in to.

The page that asks for it answers the same whether or not the address is known; only the
mailbox owner learns the answer.
"""

from __future__ import annotations

from collections.abc import Callable

from tenantry.core.applications.model import Application
from tenantry.core.context import CoreContext
from tenantry.core.ids import new_id
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.validation import email_violations


def discoverable(uow: UnitOfWork, email: str) -> list[tuple[User, Tenant]]:
    """Each usable tenant where ``email`` has a user that is not deactivated, with that user."""
    found: dict[str, tuple[User, Tenant]] = {}
    for user in uow.users.find_by_email(email):
        if user.status is UserStatus.INACTIVE or user.tenant_id in found:
            continue
        tenant = uow.tenants.get(user.tenant_id)
        if tenant is not None and tenant.is_usable:
            found[user.tenant_id] = (user, tenant)
    return list(found.values())


def send_discovery_email(
    ctx: CoreContext, application: Application, email: str, login_url_for: Callable[[Tenant], str]
) -> None:
    if email_violations(email) or ctx.renderer is None:
        return
    with ctx.uow(application.id, write=True) as uow:
        found = discoverable(uow, email)
        if not found:
            return
        tenants = [tenant for _, tenant in found]
        rendered = ctx.renderer.render(
            EmailKind.TENANT_DISCOVERY,
            EmailContext(
                application_name=application.display_name,
                values={"tenants": [{"display_name": t.display_name, "login_url": login_url_for(t)} for t in tenants]},
            ),
        )
        uow.outbox.add(
            EmailMessage(
                id=new_id(),
                kind=EmailKind.TENANT_DISCOVERY,
                recipient=found[0][0].email,
                rendered=rendered,
                created_at=ctx.clock.now(),
                application_id=application.id,
            )
        )
        uow.commit()
