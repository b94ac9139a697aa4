"""The email-code workflows: activation (by link or one-time code), email verification, and
forgot / reset password. Every code is single-use and expires; a wrong one-time code counts
against a small attempt budget."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from tenantry.core.applications.model import Application
from tenantry.core.audit.service import record
from tenantry.core.auth.emails import ACTIVATION, RESET_PASSWORD, VERIFICATION, otp_hash, send_code
from tenantry.core.auth.model import EmailCode, token_hash
from tenantry.core.context import CoreContext
from tenantry.core.errors import InvalidState
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.invitations.model import InvitationStatus
from tenantry.core.policies.model import PolicyKind, SignupPolicy, Verification
from tenantry.core.policies.service import password_policy, resolved
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.validation import email_violations

MAX_OTP_ATTEMPTS = 5
PENDING = (UserStatus.PENDING_SIGNUP_ACTIVATION, UserStatus.PENDING_INVITE_ACTIVATION)


class InvalidCode(InvalidState):
    def __init__(self, message: str = "This link or code is invalid, expired or already used") -> None:
        super().__init__("invalid_email_auth_code", message)


@dataclass(frozen=True, slots=True)
class CodeOwner:
    tenant: Tenant
    user: User
    code: EmailCode


def _load(uow: UnitOfWork, ctx: CoreContext, code: str, kind: str) -> CodeOwner:
    stored = uow.email_codes.get_by_code_hash(token_hash(code)) if code and len(code) <= 200 else None
    if stored is None or stored.kind != kind or not stored.usable(ctx.clock.now()) or stored.user_id is None:
        raise InvalidCode()
    user = uow.users.get(stored.user_id)
    tenant = uow.tenants.get(stored.tenant_id) if stored.tenant_id else None
    if user is None or tenant is None or not tenant.is_usable or user.email.lower() != stored.email.lower():
        raise InvalidCode()
    return CodeOwner(tenant, user, stored)


def introspect(ctx: CoreContext, application: Application, code: str, kind: str) -> CodeOwner:
    with ctx.uow(application.id) as uow:
        return _load(uow, ctx, code, kind)


def _complete_invitation(uow: UnitOfWork, ctx: CoreContext, code: EmailCode) -> None:
    """A LINK invitation accepted with a typed email completes once that email is proven."""
    if invitation_id := code.data.get("invitation_id"):
        uow.invitations.transition(
            invitation_id,
            InvitationStatus.PENDING_EMAIL_VERIFICATION.value,
            InvitationStatus.COMPLETED.value,
            ctx.clock.now(),
        )


def _activate(uow: UnitOfWork, ctx: CoreContext, owner: CodeOwner) -> User:
    if not uow.email_codes.consume(owner.code.id, ctx.clock.now()):
        raise InvalidCode()
    _complete_invitation(uow, ctx, owner.code)
    user = owner.user
    if user.status not in PENDING and user.status is not UserStatus.ACTIVE:
        raise InvalidCode("This account cannot be activated")
    now = ctx.clock.now()
    user.change_status(UserStatus.ACTIVE, now)
    user.email_verified = True
    user.metadata.last_verification_time = now
    user.metadata.touch(now)
    uow.users.update(user)
    record(
        uow,
        ctx,
        "user.activated",
        application_id=user.application_id,
        tenant_id=user.tenant_id,
        target=("user", user.id),
    )
    return user


def activate_with_link(ctx: CoreContext, application: Application, code: str) -> CodeOwner:
    with ctx.uow(application.id, write=True) as uow:
        owner = _load(uow, ctx, code, ACTIVATION)
        if owner.code.otp_hash is not None:
            raise InvalidCode("Enter the code from the email instead")
        user = _activate(uow, ctx, owner)
        uow.commit()
    return CodeOwner(owner.tenant, user, owner.code)


def activate_with_otp(ctx: CoreContext, application: Application, code_id: str, otp: str) -> CodeOwner:
    """The one-time code of an activation email, for the code the signup form carries. After
    ``MAX_OTP_ATTEMPTS`` wrong codes the code is dead and a new email is needed."""
    with ctx.uow(application.id, write=True) as uow:
        stored = uow.email_codes.get(code_id) if code_id and len(code_id) <= 64 else None
        if stored is None or stored.kind != ACTIVATION or stored.otp_hash is None or not stored.usable(ctx.clock.now()):
            raise InvalidCode()
        if uow.email_codes.count_attempt(stored.id) > MAX_OTP_ATTEMPTS:
            uow.commit()
            raise InvalidCode("Too many attempts: request a new code")
        candidate = otp_hash(stored.id, otp.strip()[:12])
        if not hmac.compare_digest(candidate, stored.otp_hash):
            uow.commit()
            raise InvalidCode("That code is not right")
        user = uow.users.get(stored.user_id or "")
        tenant = uow.tenants.get(stored.tenant_id or "")
        if user is None or tenant is None or not tenant.is_usable:
            raise InvalidCode()
        activated = _activate(uow, ctx, CodeOwner(tenant, user, stored))
        uow.commit()
    return CodeOwner(tenant, activated, stored)


def request_activation(ctx: CoreContext, application: Application, tenant: Tenant, user: User) -> EmailCode:
    """(Re)send the activation email of a user waiting for activation."""
    if user.status not in PENDING:
        raise InvalidState("user_not_pending_activation", "The user is not waiting for activation")
    with ctx.uow(application.id, write=True) as uow:
        signup: SignupPolicy = resolved(uow, PolicyKind.SIGNUP, tenant.id)
        code = send_code(
            uow,
            ctx,
            application=application,
            tenant=tenant,
            user=user,
            kind=ACTIVATION,
            with_otp=signup.verification is Verification.ACTIVATION_CODE,
        )
        uow.commit()
    return code


def request_password_reset(ctx: CoreContext, application: Application, tenant: Tenant, email: str) -> None:
    """Email a reset link when ``email`` is an active password user of ``tenant``; answer the
    same way otherwise (no enumeration)."""
    if email_violations(email):
        return
    with ctx.uow(application.id, write=True) as uow:
        user = uow.users.find_for_login_on(tenant.id, BUILT_IN_NAME, email)
        if user is None or user.status is not UserStatus.ACTIVE or user.email.lower() != email.lower():
            return
        send_code(
            uow,
            ctx,
            application=application,
            tenant=tenant,
            user=user,
            kind=RESET_PASSWORD,
        )
        uow.commit()


def reset_password(ctx: CoreContext, application: Application, code: str, new_password: str) -> CodeOwner:
    """Set a new password from a reset link; every session and refresh token of the user ends."""
    with ctx.uow(application.id) as uow:
        owner = _load(uow, ctx, code, RESET_PASSWORD)
        policy = password_policy(ctx, uow, owner.tenant.id)
    policy.check(new_password, email=owner.user.email, common=ctx.common_passwords)
    password_hash = ctx.hasher.hash(new_password)
    now = ctx.clock.now()
    with ctx.uow(application.id, write=True) as uow:
        if not uow.email_codes.consume(owner.code.id, now):
            raise InvalidCode()
        user = uow.users.get(owner.user.id)
        if user is None:
            raise InvalidCode()
        user.password_hash = password_hash
        user.metadata.touch(now)
        uow.users.update(user)
        uow.users.record_login_success(user.id, None)
        uow.auth_sessions.delete_for_user(user.id)
        uow.refresh_tokens.revoke_for_user(user.id, now)
        record(
            uow,
            ctx,
            "user.password_reset",
            application_id=application.id,
            tenant_id=owner.tenant.id,
            target=("user", user.id),
        )
        uow.commit()
    return CodeOwner(owner.tenant, user, owner.code)


def verify_email(ctx: CoreContext, application: Application, code: str) -> CodeOwner:
    with ctx.uow(application.id, write=True) as uow:
        owner = _load(uow, ctx, code, VERIFICATION)
        if not uow.email_codes.consume(owner.code.id, ctx.clock.now()):
            raise InvalidCode()
        _complete_invitation(uow, ctx, owner.code)
        now = ctx.clock.now()
        owner.user.email_verified = True
        owner.user.metadata.last_verification_time = now
        owner.user.metadata.touch(now)
        uow.users.update(owner.user)
        record(
            uow,
            ctx,
            "user.email_verified",
            application_id=application.id,
            tenant_id=owner.tenant.id,
            target=("user", owner.user.id),
        )
        uow.commit()
    return owner
