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
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import UserStatus
from tenantry.core.users.validation import email_violations


def send_discovery_email(
    ctx: CoreContext, application: Application, email: str, login_url_for: Callable[[Tenant], str]
) -> None:
    if email_violations(email) or ctx.renderer is None:
        return
    with ctx.uow(application.id, write=True) as uow:
        users = [u for u in uow.users.find_by_email(email) if u.status is not UserStatus.INACTIVE]
        tenants = [t for t in (uow.tenants.get(tid) for tid in dict.fromkeys(u.tenant_id for u in users)) if t]
        tenants = [t for t in tenants if t.is_usable]
        if not tenants:
            return
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
                recipient=users[0].email,
                rendered=rendered,
                created_at=ctx.clock.now(),
                application_id=application.id,
            )
        )
        uow.commit()
