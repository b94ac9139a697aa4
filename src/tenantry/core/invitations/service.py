"""Invitation use cases (onboarding methods 2 and 3).

- ``invite_new_user``: someone without an account; EMAIL sends an action link, LINK returns a
  shareable URL once. A new invitation for the same (tenant, email) cancels the pending one —
  that is how "resend" works.
- ``invite_existing_user``: a PROVISIONED or INACTIVE user takes over their account.
- ``accept_*``: the invitee's side; the status change is a conditional update, so of two racing
  acceptances exactly one creates (or activates) the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from tenantry.core.access import Principal, require, require_grantable
from tenantry.core.applications.model import Application
from tenantry.core.audit.service import record
from tenantry.core.auth.emails import ACTIVATION, VERIFICATION, send_code
from tenantry.core.auth.model import new_token, token_hash
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, NotFound, Violation
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.ids import new_id
from tenantry.core.invitations.model import Invitation, InvitationKind, InvitationStatus, InvitationType
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage
from tenantry.core.model import EntityMetadata
from tenantry.core.policies.model import EmailPolicy, PolicyKind, SignupPolicy, Verification
from tenantry.core.policies.service import password_policy, resolved
from tenantry.core.ports import ListSpec, Page, UnitOfWork
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus, new_user
from tenantry.core.users.validation import email_violations, profile_violations

PENDING = InvitationStatus.PENDING_INVITE_ACCEPTANCE
NEW_USER_PATH = "/accept-invite"
EXISTING_USER_PATH = "/accept-existing-invite"
MAX_ROLES = 50


class InvitationUnusable(InvalidState):
    def __init__(self, status: InvitationStatus | None = None) -> None:
        reason = {
            InvitationStatus.CANCELED: "This invitation is no longer valid",
            InvitationStatus.EXPIRED: "This invitation has expired",
            InvitationStatus.COMPLETED: "This invitation has already been accepted",
        }.get(status or InvitationStatus.CANCELED, "This invitation is no longer valid")
        super().__init__("invalid_invitation", reason)


@dataclass(frozen=True, slots=True)
class InviteNewUser:
    tenant_id: str
    email: str | None
    invitation_type: InvitationType = InvitationType.EMAIL
    roles_to_assign: Sequence[str] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Invited:
    invitation: Invitation
    invite_url: str | None  # LINK invitations: shown to the inviter once


@dataclass(frozen=True, slots=True)
class AcceptForm:
    password: str | None
    email: str | None = None  # LINK invitations: the invitee types it
    profile: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    invitation: Invitation
    tenant: Tenant
    user: User
    signed_in: bool  # False when the invitee must still activate or verify by email


def _tenant_in_reach(uow: UnitOfWork, actor: Principal, tenant_id: str, permission: str) -> Tenant:
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or not tenant.is_usable or not actor.reaches_tenant(permission, tenant_id):
        if tenant is not None and tenant.is_usable and actor.reaches_tenant("tenant:read", tenant_id):
            require(actor, permission, tenant_id=tenant_id)
        raise NotFound("tenant", tenant_id)
    return tenant


def _invite_url(application: Application, tenant: Tenant, path: str, code: str, override: str | None) -> str:
    base = override or f"https://{application.tenant_host(tenant.domain_name)}{path}"
    base = base.replace("{tenant_name}", tenant.domain_name).replace("{tenant_domain}", tenant.domain_name)
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'code': code})}"


def _email(
    uow: UnitOfWork,
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    kind: EmailKind,
    to: str,
    values: dict[str, object],
) -> None:
    if ctx.renderer is None:
        raise RuntimeError("no email renderer configured")
    rendered = ctx.renderer.render(
        kind,
        EmailContext(application.display_name, tenant.display_name, tenant.logo_url, values),
    )
    uow.outbox.add(EmailMessage(new_id(), kind, to, rendered, ctx.clock.now(), application.id, tenant.id))


def _application(uow: UnitOfWork, application_id: str) -> Application:
    application = uow.applications.get(application_id)
    if application is None:
        raise NotFound("application", application_id)
    return application


def invite_new_user(ctx: CoreContext, actor: Principal, cmd: InviteNewUser) -> Invited:
    violations: dict[str, list[Violation]] = {}
    email = (cmd.email or "").strip() or None
    if cmd.invitation_type is InvitationType.EMAIL and email is None:
        violations["email"] = [Violation("required")]
    elif email is not None and (found := email_violations(email)):
        violations["email"] = found
    if len(cmd.roles_to_assign) > MAX_ROLES:
        violations["rolesToAssign"] = [Violation("too_many", {"maxItems": str(MAX_ROLES)})]
    if violations:
        raise ConstraintViolations(violations, "Field violations detected while trying to invite a user")
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        tenant = _tenant_in_reach(uow, actor, cmd.tenant_id, "new-user-invitation-workflow:execute")
        application = _application(uow, actor.application_id)
        if email is not None and any(u.tenant_id == tenant.id for u in uow.users.find_by_email(email)):
            raise InvalidState("user_already_exists", f"[{email}] is already a user of this tenant")
        role_ids = list(dict.fromkeys(cmd.roles_to_assign))
        roles = uow.roles.get_many(role_ids)
        if len(roles) != len(role_ids) or any(r.tenant_id not in (None, tenant.id) for r in roles):
            raise ConstraintViolations.single("rolesToAssign", "invalid_value", "Unknown or foreign role ids")
        require_grantable(actor, roles, tenant.id)
        emails: EmailPolicy = resolved(uow, PolicyKind.EMAIL, tenant.id)
        if email is not None:
            uow.invitations.cancel_pending_for_email(tenant.id, email, now)
        code = new_token()
        invitation = Invitation(
            id=new_id(),
            application_id=application.id,
            tenant_id=tenant.id,
            kind=InvitationKind.NEW_USER,
            invitation_type=cmd.invitation_type,
            email=email,
            user_id=None,
            roles_to_assign=role_ids,
            language=cmd.language,
            invited_by=actor.subject,
            status=PENDING,
            expires_at=now + timedelta(minutes=emails.invitation_minutes),
            metadata=EntityMetadata.new(now),
        )
        uow.invitations.add(invitation, token_hash(code))
        url = _invite_url(application, tenant, NEW_USER_PATH, code, emails.invitation_url)
        if cmd.invitation_type is InvitationType.EMAIL and email is not None:
            _email(
                uow,
                ctx,
                application,
                tenant,
                EmailKind.NEW_USER_INVITATION,
                email,
                {"action_url": url, "expires_minutes": emails.invitation_minutes},
            )
        record(
            uow,
            ctx,
            "invitation.sent",
            application_id=application.id,
            actor=actor,
            tenant_id=tenant.id,
            target=("invitation", invitation.id),
            details={"kind": "NEW_USER", "type": cmd.invitation_type.value},
        )
        uow.commit()
    return Invited(invitation, url if cmd.invitation_type is InvitationType.LINK else None)


def invite_existing_user(ctx: CoreContext, actor: Principal, user_id: str) -> Invitation:
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        user = uow.users.get(user_id)
        if user is None or not actor.allows("existing-user-invitation-workflow:execute", tenant_id=user.tenant_id):
            if user is not None and actor.allows("user:read", tenant_id=user.tenant_id, user_id=user.id):
                require(actor, "existing-user-invitation-workflow:execute", tenant_id=user.tenant_id)
            raise NotFound("user", user_id)
        if user.status not in (UserStatus.PROVISIONED, UserStatus.INACTIVE):
            raise InvalidState("user_not_invitable", "Only PROVISIONED or INACTIVE users can be invited")
        tenant = uow.tenants.get(user.tenant_id)
        if tenant is None or not tenant.is_usable:
            raise NotFound("tenant", user.tenant_id)
        application = _application(uow, actor.application_id)
        emails: EmailPolicy = resolved(uow, PolicyKind.EMAIL, tenant.id)
        uow.invitations.cancel_pending_for_user(user.id, now)
        code = new_token()
        invitation = Invitation(
            id=new_id(),
            application_id=application.id,
            tenant_id=tenant.id,
            kind=InvitationKind.EXISTING_USER,
            invitation_type=InvitationType.EMAIL,
            email=user.email,
            user_id=user.id,
            roles_to_assign=[],
            language=None,
            invited_by=actor.subject,
            status=PENDING,
            expires_at=now + timedelta(minutes=emails.invitation_minutes),
            metadata=EntityMetadata.new(now),
        )
        uow.invitations.add(invitation, token_hash(code))
        url = _invite_url(application, tenant, EXISTING_USER_PATH, code, None)
        name = user.profile.get("givenName") or user.profile.get("fullName") or user.email
        _email(
            uow,
            ctx,
            application,
            tenant,
            EmailKind.EXISTING_USER_INVITATION,
            user.email,
            {"action_url": url, "expires_minutes": emails.invitation_minutes, "user_name": name},
        )
        record(
            uow,
            ctx,
            "invitation.sent",
            application_id=application.id,
            actor=actor,
            tenant_id=tenant.id,
            target=("invitation", invitation.id),
            details={"kind": "EXISTING_USER", "userId": user.id},
        )
        uow.commit()
    return invitation


def _visible(
    uow: UnitOfWork, actor: Principal, invitation_id: str, kind: InvitationKind, permission: str
) -> Invitation:
    invitation = uow.invitations.get(invitation_id)
    if (
        invitation is None
        or invitation.kind is not kind
        or not actor.allows(permission, tenant_id=invitation.tenant_id)
    ):
        raise NotFound("invitation_request", invitation_id)
    return invitation


def cancel_invitation(ctx: CoreContext, actor: Principal, invitation_id: str, kind: InvitationKind) -> Invitation:
    permission = (
        "new-user-invitation-workflow:execute"
        if kind is InvitationKind.NEW_USER
        else "existing-user-invitation-workflow:execute"
    )
    now = ctx.clock.now()
    with ctx.uow(actor.application_id, write=True) as uow:
        invitation = _visible(uow, actor, invitation_id, kind, permission)
        if not invitation.is_open(now) or not uow.invitations.transition(
            invitation.id, PENDING.value, InvitationStatus.CANCELED.value, now
        ):
            raise InvalidState("invitation_not_pending", "Only a pending invitation can be canceled")
        canceled = uow.invitations.get(invitation.id)
        record(
            uow,
            ctx,
            "invitation.canceled",
            application_id=actor.application_id,
            actor=actor,
            tenant_id=invitation.tenant_id,
            target=("invitation", invitation.id),
        )
        uow.commit()
    assert canceled is not None
    return canceled


def list_invitations(
    ctx: CoreContext,
    actor: Principal,
    kind: InvitationKind,
    spec: ListSpec,
    *,
    tenant_id: str | None,
    application_id: str,
) -> Page[Invitation]:
    permission = (
        "new-user-invitation-request:read"
        if kind is InvitationKind.NEW_USER
        else "existing-user-invitation-request:read"
    )
    if application_id != actor.application_id:
        raise NotFound("application", application_id)
    # Filters and sorting see what readers see: expire what is due before reading.
    expire_invitations(ctx, actor.application_id)
    with ctx.uow(actor.application_id) as uow:
        if tenant_id is not None:
            _tenant_in_reach(uow, actor, tenant_id, permission)
        scope = actor.tenant_scope(permission)
        if scope.empty:
            require(actor, permission, tenant_id=tenant_id)
        return uow.invitations.page(spec, kind.value, scope, tenant_id)


def expire_invitations(ctx: CoreContext, application_id: str) -> int:
    with ctx.uow(application_id, write=True) as uow:
        count = uow.invitations.expire_due(ctx.clock.now())
        uow.commit()
    return count


@dataclass(frozen=True, slots=True)
class OpenInvitation:
    invitation: Invitation
    tenant: Tenant
    user: User | None  # existing-user invitations
    inviter: str | None = None  # who sent it, as the invitee may read it


def open_invitation(ctx: CoreContext, application: Application, code: str, kind: InvitationKind) -> OpenInvitation:
    """The pending invitation behind ``code`` (introspection, the acceptance page)."""
    with ctx.uow(application.id) as uow:
        invitation = uow.invitations.get_by_code_hash(token_hash(code)) if code and len(code) <= 200 else None
        if invitation is None or invitation.kind is not kind:
            raise InvitationUnusable()
        if not invitation.is_open(ctx.clock.now()):
            raise InvitationUnusable(invitation.status_at(ctx.clock.now()))
        tenant = uow.tenants.get(invitation.tenant_id)
        user = uow.users.get(invitation.user_id) if invitation.user_id else None
        sender = uow.users.get(invitation.invited_by) if invitation.invited_by else None
    if tenant is None or not tenant.is_usable or (kind is InvitationKind.EXISTING_USER and user is None):
        raise InvitationUnusable()
    inviter = None
    if sender is not None and sender.tenant_id == tenant.id:
        inviter = (
            sender.profile.get("fullName")
            or " ".join(p for p in (sender.profile.get("givenName"), sender.profile.get("familyName")) if p)
            or sender.email
        )
    return OpenInvitation(invitation, tenant, user, inviter or application.display_name)


def _check_password(ctx: CoreContext, uow: UnitOfWork, tenant: Tenant, password: str | None, email: str) -> None:
    if password is None:
        raise ConstraintViolations.single("password", "required", "A password is required")
    password_policy(ctx, uow, tenant.id).check(password, email=email, common=ctx.common_passwords)


def accept_new_user_invite(
    ctx: CoreContext, application: Application, opened: OpenInvitation, form: AcceptForm
) -> Accepted:
    """Accept the invitation ``open_invitation`` found (the callers open it first, to check who
    may accept it); the write moves it on only if it is still pending."""
    if opened.invitation.kind is not InvitationKind.NEW_USER:
        raise InvitationUnusable()
    invitation, tenant = opened.invitation, opened.tenant
    link = invitation.invitation_type is InvitationType.LINK
    email = (form.email or "").strip() if link else (invitation.email or "")
    violations = profile_violations(form.profile)
    if found := email_violations(email):
        violations["email"] = found
    if violations:
        raise ConstraintViolations(violations, "Please correct the highlighted fields")
    with ctx.uow(application.id) as uow:
        _check_password(ctx, uow, tenant, form.password, email)
    password_hash = ctx.hasher.hash(form.password or "")
    now = ctx.clock.now()
    with ctx.uow(application.id, write=True) as uow:
        provider = uow.identity_providers.get_by_name(BUILT_IN_NAME, tenant.id)
        if provider is None:
            raise InvitationUnusable()
        signup: SignupPolicy = resolved(uow, PolicyKind.SIGNUP, tenant.id)
        verified = not link
        # An unverified (typed) email follows the policy: activation first, or verification later.
        activation_first = link and signup.verification is not Verification.EMAIL_VERIFICATION
        status = UserStatus.PENDING_INVITE_ACTIVATION if activation_first else UserStatus.ACTIVE
        user = new_user(
            application_id=application.id,
            tenant_id=tenant.id,
            provider=provider,
            email=email,
            email_verified=verified,
            status=status,
            profile=dict(form.profile),
            now=now,
            password_hash=password_hash,
        )
        if verified:
            user.metadata.last_verification_time = now
        target = InvitationStatus.PENDING_EMAIL_VERIFICATION if link else InvitationStatus.COMPLETED
        # The conditional update decides a race between two acceptances: the second one waits on
        # the row and then finds it no longer pending.
        if not uow.invitations.transition(invitation.id, PENDING.value, target.value, now):
            raise InvitationUnusable(InvitationStatus.COMPLETED)
        uow.users.add(user)  # a racing signup of the same email meets the unique constraint here
        uow.invitations.transition(invitation.id, target.value, target.value, now, user.id)
        roles = uow.roles.get_many(invitation.roles_to_assign)
        uow.roles.assign(user.id, tenant.id, [r.id for r in roles if r.tenant_id in (None, tenant.id)])
        if link:
            if activation_first:
                send_code(
                    uow,
                    ctx,
                    application=application,
                    tenant=tenant,
                    user=user,
                    kind=ACTIVATION,
                    data={"invitation_id": invitation.id},
                )
            else:
                send_code(
                    uow,
                    ctx,
                    application=application,
                    tenant=tenant,
                    user=user,
                    kind=VERIFICATION,
                    data={"invitation_id": invitation.id},
                )
        record(
            uow,
            ctx,
            "invitation.accepted",
            application_id=application.id,
            tenant_id=tenant.id,
            target=("invitation", invitation.id),
            details={"userId": user.id},
        )
        uow.commit()
    invitation.status = target
    return Accepted(invitation, tenant, user, signed_in=status is UserStatus.ACTIVE)


def accept_existing_user_invite(
    ctx: CoreContext, application: Application, opened: OpenInvitation, password: str | None
) -> Accepted:
    """As ``accept_new_user_invite``, for an existing user's invitation."""
    if opened.invitation.kind is not InvitationKind.EXISTING_USER:
        raise InvitationUnusable()
    invitation, tenant, user = opened.invitation, opened.tenant, opened.user
    assert user is not None
    built_in = user.identity_provider_type == "WRISTBAND"
    password_hash = None
    if built_in and (password is not None or user.password_hash is None):
        with ctx.uow(application.id) as uow:
            _check_password(ctx, uow, tenant, password, user.email)
        password_hash = ctx.hasher.hash(password or "")
    now = ctx.clock.now()
    with ctx.uow(application.id, write=True) as uow:
        if not uow.invitations.transition(invitation.id, PENDING.value, InvitationStatus.COMPLETED.value, now, user.id):
            raise InvitationUnusable(InvitationStatus.COMPLETED)
        current = uow.users.get(user.id)
        if current is None or current.status not in (UserStatus.PROVISIONED, UserStatus.INACTIVE):
            raise InvitationUnusable()
        current.change_status(UserStatus.ACTIVE, now)
        current.email_verified = True
        current.metadata.last_verification_time = now
        if password_hash is not None:
            current.password_hash = password_hash
        current.metadata.touch(now)
        uow.users.update(current)
        record(
            uow,
            ctx,
            "invitation.accepted",
            application_id=application.id,
            tenant_id=tenant.id,
            target=("invitation", invitation.id),
            details={"userId": user.id},
        )
        uow.commit()
    invitation.status = InvitationStatus.COMPLETED
    return Accepted(invitation, tenant, current, signed_in=True)
