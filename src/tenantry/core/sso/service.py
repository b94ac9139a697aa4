"""Enterprise SSO use cases: remember a sign-in sent to an IdP, take it back once, and turn the
identity the IdP returned into a signed-in user — just in time, by invitation, or only when
the user already exists ("verify user").

Account linking rule: a user is found by (tenant, identity provider, external id) and by nothing
else. Someone with the same email under another provider (the built-in password one included)
is a different user and is never linked implicitly: an IdP asserting an email proves control of
that IdP's account, not of the mailbox or of the other account (docs/decisions.md)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tenantry.core.access import Principal, require
from tenantry.core.applications.model import Application
from tenantry.core.audit.service import record
from tenantry.core.auth.emails import VERIFICATION, send_code
from tenantry.core.auth.model import token_hash
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, NotFound, TenantryError, Violation
from tenantry.core.identity_providers.model import IdentityProvider, IdentityProviderStatus
from tenantry.core.ids import new_id
from tenantry.core.invitations.model import InvitationKind, InvitationStatus, InvitationType
from tenantry.core.invitations.service import InvitationUnusable, open_invitation
from tenantry.core.model import JsonObject
from tenantry.core.policies.model import PolicyKind, RoleAssignmentPolicy, SsoEmailVerification, SsoLoginPolicy
from tenantry.core.policies.service import resolved
from tenantry.core.ports import UnitOfWork
from tenantry.core.sso.model import ExternalIdentity, SsoRequest
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus, new_user
from tenantry.core.users.validation import email_violations, profile_violations

SSO_REQUEST_SECONDS = 600
PENDING = InvitationStatus.PENDING_INVITE_ACCEPTANCE.value


class SsoRefused(TenantryError):
    """The IdP's answer cannot sign anyone in (expired or foreign state, replay, no email...)."""

    code = "sso_refused"
    default_message = "The sign-in could not be completed"


class UserNotActive(InvalidState):
    def __init__(self) -> None:
        super().__init__("user_not_active", "The user exists but is not active")


def _browser_hash(browser_id: str) -> str:
    return hashlib.sha256(f"sso-browser:{browser_id}".encode()).hexdigest()


def providers_for_login(ctx: CoreContext, tenant: Tenant) -> list[IdentityProvider]:
    """The enabled external providers offered to the tenant's users: the tenant's own, and the
    application's — except that with the tenant's override toggle ENABLED, an application
    provider is replaced by the tenant's own of the same type (``resolve-overrides``)."""
    with ctx.uow(tenant.application_id) as uow:
        visible = [p for p in uow.identity_providers.visible_to_tenant(tenant.id) if p.is_external]
        override = uow.identity_providers.override_toggle(tenant.id) is IdentityProviderStatus.ENABLED
    own_types = {p.type for p in visible if p.tenant_id == tenant.id}
    return [p for p in visible if p.is_enabled and (p.tenant_id is not None or not (override and p.type in own_types))]


def provider_for_sign_in(ctx: CoreContext, tenant: Tenant, provider_id: str) -> IdentityProvider:
    """An enabled external provider the tenant may sign in with, else ``identity_provider_not_found``."""
    for provider in providers_for_login(ctx, tenant):
        if provider.id == provider_id:
            return provider
    raise NotFound("identity_provider", provider_id[:40])


def provider_for_email(ctx: CoreContext, tenant: Tenant, email: str) -> IdentityProvider | None:
    """Home-realm discovery: the tenant's sign-in provider that owns the email's domain."""
    domain = email.rpartition("@")[2].strip().lower()
    if "@" not in email or not domain or len(domain) > 253:
        return None
    return next((p for p in providers_for_login(ctx, tenant) if domain in p.email_domains), None)


def record_request(
    ctx: CoreContext,
    tenant: Tenant,
    provider: IdentityProvider,
    *,
    state: str,
    browser_id: str,
    nonce: str | None = None,
    code_verifier: str | None = None,
    saml_request_id: str | None = None,
    context: JsonObject | None = None,
) -> SsoRequest:
    now = ctx.clock.now()
    request = SsoRequest(
        id=new_id(),
        application_id=tenant.application_id,
        tenant_id=tenant.id,
        identity_provider_id=provider.id,
        state_hash=token_hash(state),
        browser_hash=_browser_hash(browser_id),
        created_at=now,
        expires_at=now + timedelta(seconds=SSO_REQUEST_SECONDS),
        nonce=nonce,
        code_verifier=code_verifier,
        saml_request_id=saml_request_id,
        context=context or {},
    )
    with ctx.uow(tenant.application_id, write=True) as uow:
        uow.sso_requests.add(request)
        uow.commit()
    return request


def take_request(
    ctx: CoreContext, tenant: Tenant, provider: IdentityProvider, state: str | None, browser_id: str | None
) -> SsoRequest:
    """The pending request behind ``state``, consumed: it must be this tenant's and provider's,
    unexpired, unused, and started by this browser."""
    if not state or len(state) > 200 or not browser_id or len(browser_id) > 200:
        raise SsoRefused("The sign-in request is missing or has expired. Please sign in again.")
    with ctx.uow(tenant.application_id, write=True) as uow:
        request = uow.sso_requests.consume(token_hash(state), ctx.clock.now())
        uow.commit()
    if (
        request is None
        or request.tenant_id != tenant.id
        or request.identity_provider_id != provider.id
        or not hmac.compare_digest(request.browser_hash, _browser_hash(browser_id))
    ):
        raise SsoRefused("The sign-in request is missing or has expired. Please sign in again.")
    return request


@dataclass(frozen=True, slots=True)
class Assertion:
    """A SAML assertion's id and end of validity, for the replay cache."""

    id: str
    expires_at: datetime | None


def _sync_roles(uow: UnitOfWork, provider: IdentityProvider, user: User, groups: tuple[str, ...]) -> None:
    """Roles that come from group mappings follow the IdP's groups at every login; roles given
    any other way (policies, an admin) are left alone."""
    if not provider.role_mappings:
        return
    mapped = {role_id for m in provider.role_mappings for role_id in m.role_ids}
    member_of = {g.lower() for g in groups}
    wanted = {role_id for m in provider.role_mappings if m.group.lower() in member_of for role_id in m.role_ids}
    usable = {r.id for r in uow.roles.get_many(sorted(wanted)) if r.tenant_id in (None, user.tenant_id)}
    current = {r.id for r in uow.roles.roles_of_users([user.id]).get(user.id, [])} & mapped
    if stale := current - usable:
        uow.roles.unassign(user.id, sorted(stale))
    if missing := usable - current:
        uow.roles.assign(user.id, user.tenant_id, sorted(missing))


def _policy_roles(uow: UnitOfWork, application: Application, tenant: Tenant) -> list[str]:
    policy: RoleAssignmentPolicy = resolved(uow, PolicyKind.ROLE_ASSIGNMENT, tenant.id)
    ids = []
    for name in policy.default_roles:
        role = uow.roles.get_by_name(name if ":" in name else f"app:{application.name}:{name}")
        if role is not None and role.tenant_id in (None, tenant.id):
            ids.append(role.id)
    return ids


def _apply_identity(user: User, identity: ExternalIdentity, now: datetime) -> bool:
    """Copy the IdP's attributes onto the user; ``True`` when the email became unverified-new."""
    changed_email = identity.email is not None and identity.email.lower() != user.email.lower()
    if identity.email is not None:
        user.email = identity.email
    if identity.email_verified and not (user.email_verified and not changed_email):
        user.email_verified = True
        user.metadata.last_verification_time = now
    elif changed_email:
        user.email_verified = identity.email_verified
    user.profile = {**user.profile, **identity.profile, "externalId": identity.external_id}
    return changed_email and not identity.email_verified


def _send_verification_if_needed(
    uow: UnitOfWork, ctx: CoreContext, application: Application, tenant: Tenant, user: User
) -> None:
    if user.email_verified:
        return
    policy: SsoLoginPolicy = resolved(uow, PolicyKind.SSO_LOGIN, tenant.id)
    if policy.email_verification is SsoEmailVerification.EMAIL_LINK:
        send_code(uow, ctx, application=application, tenant=tenant, user=user, kind=VERIFICATION)


def _new_user(
    application: Application, tenant: Tenant, provider: IdentityProvider, identity: ExternalIdentity, now: datetime
) -> User:
    if identity.email is None:
        raise SsoRefused("The identity provider did not send an email address for this user")
    user = new_user(
        application_id=application.id,
        tenant_id=tenant.id,
        provider=provider,
        email=identity.email,
        email_verified=identity.email_verified,
        status=UserStatus.ACTIVE,
        profile={**identity.profile, "externalId": identity.external_id},
        now=now,
    )
    if identity.email_verified:
        user.metadata.last_verification_time = now
    return user


def _accept_invitation(
    uow: UnitOfWork,
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    provider: IdentityProvider,
    identity: ExternalIdentity,
    code: str,
) -> User:
    """A new-user invitation accepted by signing in at the tenant's IdP: the user is created
    under that IdP with the invitation's roles. An EMAIL invitation names its invitee, so the IdP
    must assert that same address."""
    opened = open_invitation(ctx, application, code, InvitationKind.NEW_USER)
    invitation = opened.invitation
    if opened.tenant.id != tenant.id:
        raise InvitationUnusable()
    if (
        invitation.invitation_type is InvitationType.EMAIL
        and (identity.email or "").lower() != (invitation.email or "").lower()
    ):
        raise SsoRefused(
            "This invitation was sent to another email address than the one your identity provider signed you in with."
        )
    now = ctx.clock.now()
    user = _new_user(application, tenant, provider, identity, now)
    if invitation.invitation_type is InvitationType.EMAIL and not user.email_verified:
        # Following the emailed link proves the mailbox, as accepting with a password does.
        user.email_verified = True
        user.metadata.last_verification_time = now
    if not uow.invitations.transition(invitation.id, PENDING, InvitationStatus.COMPLETED.value, now):
        raise InvitationUnusable(InvitationStatus.COMPLETED)
    uow.users.add(user)
    uow.invitations.transition(
        invitation.id, InvitationStatus.COMPLETED.value, InvitationStatus.COMPLETED.value, now, user.id
    )
    roles = uow.roles.get_many(invitation.roles_to_assign)
    uow.roles.assign(user.id, tenant.id, [r.id for r in roles if r.tenant_id in (None, tenant.id)])
    record(
        uow,
        ctx,
        "invitation.accepted",
        application_id=application.id,
        tenant_id=tenant.id,
        target=("invitation", invitation.id),
        details={"userId": user.id, "identityProvider": provider.name},
    )
    return user


def _sign_in_once(
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    provider: IdentityProvider,
    identity: ExternalIdentity,
    assertion: Assertion | None,
    invitation_code: str | None,
) -> User:
    now = ctx.clock.now()
    with ctx.uow(application.id, write=True) as uow:
        if assertion is not None:
            kept_until = assertion.expires_at or now + timedelta(hours=1)
            if not uow.sso_requests.remember_assertion(provider.id, assertion.id, max(kept_until, now)):
                raise SsoRefused("This sign-in response was already used")
        user = uow.users.find_by_external_id(tenant.id, provider.id, identity.external_id)
        if user is not None:
            if user.status is not UserStatus.ACTIVE:
                raise UserNotActive()
            if provider.jit_provisioning_enabled:
                needs_verification = _apply_identity(user, identity, now)
                user.metadata = replace(user.metadata, last_modified_time=now, version=user.metadata.version + 1)
                uow.users.update(user)
                _sync_roles(uow, provider, user, identity.groups)
                if needs_verification:
                    _send_verification_if_needed(uow, ctx, application, tenant, user)
            action = "sso.login"
        elif invitation_code:
            user = _accept_invitation(uow, ctx, application, tenant, provider, identity, invitation_code)
            _sync_roles(uow, provider, user, identity.groups)
            action = "sso.invitation_accepted"
        elif provider.jit_provisioning_enabled:
            user = _new_user(application, tenant, provider, identity, now)
            uow.users.add(user)
            uow.roles.assign(user.id, tenant.id, _policy_roles(uow, application, tenant))
            _sync_roles(uow, provider, user, identity.groups)
            _send_verification_if_needed(uow, ctx, application, tenant, user)
            action = "user.provisioned_by_sso"
        else:
            raise NotFound("user", identity.external_id[:80])
        record(
            uow,
            ctx,
            action,
            application_id=application.id,
            tenant_id=tenant.id,
            target=("user", user.id),
            details={"identityProvider": provider.name},
        )
        uow.commit()
    return user


def sign_in_external(
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    provider: IdentityProvider,
    identity: ExternalIdentity,
    *,
    assertion: Assertion | None = None,
    invitation_code: str | None = None,
) -> User:
    """The user the IdP's identity signs in, created or re-synced as the provider says.

    Two first logins of the same person racing: both try to insert, the unique constraint on
    (tenant, provider, external id) lets one win, and the loser's retry finds that user."""
    try:
        return _sign_in_once(ctx, application, tenant, provider, identity, assertion, invitation_code)
    except ConstraintViolations as error:
        if "externalId" not in error.violations and "email" not in error.violations:
            raise
    # The losing attempt rolled back whole (its replay-cache entry too), so the retry records it.
    # The winner's row may trip the email index before the external-id one (PostgreSQL checks
    # them in no promised order), so an email clash is only another account's once the retry,
    # which finds a same-identity winner by its external id, clashes again.
    try:
        return _sign_in_once(ctx, application, tenant, provider, identity, assertion, None)
    except ConstraintViolations as error:
        if "email" in error.violations:
            raise SsoRefused("Another account of this identity provider already uses this email address") from error
        raise


def verify_user(ctx: CoreContext, tenant: Tenant, provider: IdentityProvider, external_id: str) -> User:
    """ "Verify user for external IdP login": the user of this provider with this external id,
    active (404 ``user_not_found`` / 400 ``user_not_active`` otherwise)."""
    with ctx.uow(tenant.application_id) as uow:
        user = uow.users.find_by_external_id(tenant.id, provider.id, external_id)
    if user is None:
        raise NotFound("user", external_id[:80])
    if user.status is not UserStatus.ACTIVE:
        raise UserNotActive()
    return user


WORKFLOW_PERMISSION = "external-idp-login-workflow:execute"


def _workflow_target(
    ctx: CoreContext, actor: Principal, tenant_id: str, provider_name: str
) -> tuple[Application, Tenant, IdentityProvider]:
    """The tenant and external provider a self-hosted SSO page names, within the caller's reach."""
    require(actor, WORKFLOW_PERMISSION, tenant_id=tenant_id)
    with ctx.uow(actor.application_id) as uow:
        application = uow.applications.get(actor.application_id)
        tenant = uow.tenants.get(tenant_id)
        if tenant is None or not tenant.is_usable or application is None:
            raise NotFound("tenant", tenant_id[:40])
        provider = uow.identity_providers.get_by_name(provider_name, tenant.id)
    if provider is None or not provider.is_external:
        raise NotFound("identity_provider", provider_name[:60])
    return application, tenant, provider


def verify_external_user(
    ctx: CoreContext, actor: Principal, tenant_id: str, provider_name: str, external_id: str
) -> User:
    """``POST /api/v1/external-idp-login/verify-user``."""
    _, tenant, provider = _workflow_target(ctx, actor, tenant_id, provider_name)
    return verify_user(ctx, tenant, provider, external_id)


class JitDisabled(InvalidState):
    def __init__(self) -> None:
        super().__init__(
            "jit_provisioning_disabled", "Just-in-time provisioning is not enabled for this identity provider"
        )


def _check_identity(identity: ExternalIdentity) -> None:
    """What a caller-supplied identity must satisfy (an IdP's answer goes through ``mapping``)."""
    violations = profile_violations(identity.profile)
    if found := email_violations(identity.email or ""):
        violations["email"] = found
    if any(len(g) > 500 or not g.strip() for g in identity.groups):
        violations["groups"] = [Violation("invalid_value")]
    if violations:
        raise ConstraintViolations(violations)


def provision_external_user(
    ctx: CoreContext, actor: Principal, tenant_id: str, provider_name: str, identity: ExternalIdentity
) -> tuple[User, bool]:
    """``POST /api/v1/external-idp-login/provision-user``: what a JIT login does, for self-hosted
    SSO pages that validated the IdP's answer themselves. ``(user, created)``."""
    _check_identity(identity)
    identity = replace(identity, groups=tuple(dict.fromkeys(g.strip() for g in identity.groups)))
    application, tenant, provider = _workflow_target(ctx, actor, tenant_id, provider_name)
    if not provider.jit_provisioning_enabled:
        raise JitDisabled()
    with ctx.uow(application.id) as uow:
        existed = uow.users.find_by_external_id(tenant.id, provider.id, identity.external_id) is not None
    user = sign_in_external(ctx, application, tenant, provider, identity)
    return user, not existed
