"""Sending one-time codes by email: the code row, the rendered message and its outbox row are
written in the caller's transaction, so a rolled-back change sends nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlencode

from tenantry.core.applications.model import Application
from tenantry.core.auth.model import EmailCode, new_otp, new_token, token_hash
from tenantry.core.context import CoreContext
from tenantry.core.ids import new_id
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage
from tenantry.core.policies.model import EmailPolicy, PolicyKind
from tenantry.core.policies.service import resolved
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User

# EmailCode.kind values
ACTIVATION = "activation"
VERIFICATION = "verification"
RESET_PASSWORD = "reset_password"

CODE_EMAILS: dict[str, tuple[EmailKind, str, str]] = {
    ACTIVATION: (EmailKind.USER_ACTIVATION, "activation_minutes", "activation_url"),
    VERIFICATION: (EmailKind.EMAIL_VERIFICATION, "verification_minutes", "verification_url"),
    RESET_PASSWORD: (EmailKind.FORGOT_PASSWORD, "reset_password_minutes", "reset_password_url"),
}
HOSTED_PATHS = {ACTIVATION: "/activate", VERIFICATION: "/verify-email", RESET_PASSWORD: "/reset-password"}


def otp_hash(code_id: str, otp: str) -> str:
    return hashlib.sha256(f"{code_id}:{otp}".encode()).hexdigest()


def action_url(application: Application, tenant: Tenant, kind: str, code: str, override: str | None) -> str:
    base = override or f"https://{application.tenant_host(tenant.domain_name)}{HOSTED_PATHS[kind]}"
    base = base.replace("{tenant_name}", tenant.domain_name).replace("{tenant_domain}", tenant.domain_name)
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'code': code})}"


def send_code(
    uow: UnitOfWork,
    ctx: CoreContext,
    *,
    application: Application,
    tenant: Tenant,
    user: User,
    kind: str,
    with_otp: bool = False,
    data: dict[str, str] | None = None,
) -> EmailCode:
    """Invalidate the user's earlier codes of ``kind``, then email a new one. A resend without
    ``data`` keeps the previous code's (the client to land on, the invitation to complete)."""
    if ctx.renderer is None:
        raise RuntimeError("no email renderer configured")
    # What the email is, how long its code lives and where its link points follow from the
    # code's kind and the tenant's email policy.
    email_kind, minutes_field, url_field = CODE_EMAILS[kind]
    emails: EmailPolicy = resolved(uow, PolicyKind.EMAIL, tenant.id)
    minutes: int = getattr(emails, minutes_field)
    url_override: str | None = getattr(emails, url_field)
    now = ctx.clock.now()
    if data is None and (previous := uow.email_codes.latest_for_user(user.id, kind)) is not None:
        data = previous.data
    uow.email_codes.invalidate_for_user(user.id, kind, now)
    code = new_token()
    code_id = new_id()
    otp = new_otp() if with_otp else None
    record = EmailCode(
        id=code_id,
        application_id=application.id,
        tenant_id=tenant.id,
        user_id=user.id,
        kind=kind,
        code_hash=token_hash(code),
        otp_hash=otp_hash(code_id, otp) if otp else None,
        email=user.email,
        data=dict(data or {}),
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    uow.email_codes.add(record)
    values: dict[str, object] = {
        "action_url": action_url(application, tenant, kind, code, url_override),
        "expires_minutes": minutes,
    }
    if email_kind in (EmailKind.USER_ACTIVATION, EmailKind.EXISTING_USER_INVITATION):
        values["user_name"] = user.profile.get("givenName") or user.profile.get("fullName") or user.email
    if otp:
        values["code"] = otp
    rendered = ctx.renderer.render(
        email_kind,
        EmailContext(
            application_name=application.display_name,
            tenant_name=tenant.display_name,
            tenant_logo_url=tenant.logo_url,
            values=values,
        ),
    )
    uow.outbox.add(
        EmailMessage(
            id=new_id(),
            kind=email_kind,
            recipient=user.email,
            rendered=rendered,
            created_at=now,
            application_id=application.id,
            tenant_id=tenant.id,
        )
    )
    return record
