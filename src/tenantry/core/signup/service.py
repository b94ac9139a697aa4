"""Self-signup (onboarding method 1), at application level (creates a tenant and its first user)
and at tenant level (joins a tenant that allows it).

One transaction writes the tenant, the user, the role assignments, the activation code and the
activation email's outbox row. Signing up again with an email still waiting for activation
sends a fresh activation email instead of provisioning anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tenantry.core.applications.model import Application
from tenantry.core.audit.service import record
from tenantry.core.auth.emails import ACTIVATION, VERIFICATION, send_code
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, Violation
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.policies.model import (
    PolicyKind,
    RoleAssignmentPolicy,
    SignupPolicy,
    UserSchemaPolicy,
    Verification,
)
from tenantry.core.policies.service import password_policy, resolved
from tenantry.core.ports import UnitOfWork
from tenantry.core.tenants.model import Tenant, TenantStatus, TenantType
from tenantry.core.tenants.service import domain_name_violations
from tenantry.core.text import text_violation
from tenantry.core.users.model import User, UserStatus, new_user
from tenantry.core.users.validation import email_violations, profile_violations

# The fields whose unique constraints a concurrent signup can trip (users' email, tenants' name).
RACED_FIELDS = frozenset({"email", "domainName"})


class SignupDisabled(InvalidState):
    def __init__(self) -> None:
        super().__init__("signup_disabled", "Signup is not enabled here")


@dataclass(frozen=True, slots=True)
class SignupForm:
    email: str
    password: str
    profile: Mapping[str, str | None] = field(default_factory=dict)
    tenant_name: str | None = None  # application-level signup only
    tenant_display_name: str | None = None
    client_id: str | None = None  # whose login URL the user lands on after activation


@dataclass(frozen=True, slots=True)
class SignupResult:
    tenant: Tenant
    user: User
    verification: Verification
    code_id: str | None  # the activation code's id: the code-entry form carries it
    resent: bool  # the email was waiting for activation already: nothing new was provisioned

    @property
    def awaits_code(self) -> bool:
        """The user must type the one-time code from the activation email (``code_id`` names it)."""
        return self.code_id is not None and self.verification is Verification.ACTIVATION_CODE

    @property
    def signed_in(self) -> bool:
        """With the email-verification strategy the user is active and signed in at once."""
        return (
            not self.resent
            and self.verification is Verification.EMAIL_VERIFICATION
            and self.user.status is UserStatus.ACTIVE
        )


def _form_violations(uow: UnitOfWork, form: SignupForm, tenant_id: str | None) -> dict[str, list[Violation]]:
    schema: UserSchemaPolicy = resolved(uow, PolicyKind.USER_SCHEMA, tenant_id)
    violations = profile_violations(form.profile)
    for name in schema.required_fields:
        if not form.profile.get(name) and name not in violations:
            violations[name] = [Violation("required")]
    if found := email_violations(form.email):
        violations["email"] = found
    return violations


def _check_password(ctx: CoreContext, uow: UnitOfWork, form: SignupForm, tenant_id: str | None) -> None:
    password_policy(ctx, uow, tenant_id).check(form.password, email=form.email, common=ctx.common_passwords)


def _assign_policy_roles(uow: UnitOfWork, application: Application, user: User, names: tuple[str, ...]) -> None:
    role_ids = []
    for name in names:
        role = uow.roles.get_by_name(name if ":" in name else f"app:{application.name}:{name}")
        if role is not None and role.tenant_id in (None, user.tenant_id):
            role_ids.append(role.id)
    if role_ids:
        uow.roles.assign(user.id, user.tenant_id, role_ids)


def _send_verification_step(
    uow: UnitOfWork,
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    user: User,
    policy: SignupPolicy,
    client_id: str | None,
) -> str | None:
    data = {"client_id": client_id} if client_id else {}
    if policy.verification is Verification.EMAIL_VERIFICATION:
        send_code(
            uow,
            ctx,
            application=application,
            tenant=tenant,
            user=user,
            kind=VERIFICATION,
            data=data,
        )
        return None
    code = send_code(
        uow,
        ctx,
        application=application,
        tenant=tenant,
        user=user,
        kind=ACTIVATION,
        with_otp=policy.verification is Verification.ACTIVATION_CODE,
        data=data,
    )
    return code.id


def _join(
    uow: UnitOfWork,
    ctx: CoreContext,
    application: Application,
    tenant: Tenant,
    form: SignupForm,
    password_hash: str,
    roles: tuple[str, ...],
) -> SignupResult:
    policy: SignupPolicy = resolved(uow, PolicyKind.SIGNUP, tenant.id)
    provider = uow.identity_providers.get_by_name(BUILT_IN_NAME, tenant.id)
    if provider is None:
        raise SignupDisabled()
    existing = uow.users.find_for_login(tenant.id, provider.id, form.email)
    if existing is not None and existing.email.lower() == form.email.lower():
        if existing.status is UserStatus.PENDING_SIGNUP_ACTIVATION:
            code_id = _send_verification_step(uow, ctx, application, tenant, existing, policy, form.client_id)
            return SignupResult(tenant, existing, policy.verification, code_id, resent=True)
        # No enumeration: answer as for a new signup; the address's owner is not told here.
        return SignupResult(tenant, existing, policy.verification, None, resent=True)
    status = (
        UserStatus.ACTIVE
        if policy.verification is Verification.EMAIL_VERIFICATION
        else UserStatus.PENDING_SIGNUP_ACTIVATION
    )
    user = new_user(
        application_id=application.id,
        tenant_id=tenant.id,
        provider=provider,
        email=form.email,
        email_verified=False,
        status=status,
        profile=dict(form.profile),
        now=ctx.clock.now(),
        password_hash=password_hash,
    )
    uow.users.add(user)
    record(uow, ctx, "user.signed_up", application_id=application.id, tenant_id=tenant.id, target=("user", user.id))
    _assign_policy_roles(uow, application, user, roles)
    code_id = _send_verification_step(uow, ctx, application, tenant, user, policy, form.client_id)
    return SignupResult(tenant, user, policy.verification, code_id, resent=False)


def _once_more_if_raced(write: Callable[[], SignupResult]) -> SignupResult:
    """Run the signup's write transaction; run it once more if a concurrent signup of the same
    address (or organization name) committed between its check and its insert, so that the
    database's unique constraint refused it. The second run sees the winner and answers as any
    repeated signup does (a resent activation email, or the no-enumeration answer) instead of
    telling this signup that the address is taken."""
    try:
        return write()
    except ConstraintViolations as error:
        raced = {name for name, found in error.violations.items() if any(v.code == "not_unique" for v in found)}
        if not raced or not raced <= RACED_FIELDS:
            raise
    return write()


def signup_to_tenant(ctx: CoreContext, application: Application, tenant: Tenant, form: SignupForm) -> SignupResult:
    if not tenant.signup_enabled or not tenant.is_usable:
        raise SignupDisabled()
    with ctx.uow(application.id) as uow:
        if violations := _form_violations(uow, form, tenant.id):
            raise ConstraintViolations(violations, "Please correct the highlighted fields")
        _check_password(ctx, uow, form, tenant.id)
    password_hash = ctx.hasher.hash(form.password)

    def write() -> SignupResult:
        with ctx.uow(application.id, write=True) as uow:
            roles: RoleAssignmentPolicy = resolved(uow, PolicyKind.ROLE_ASSIGNMENT, tenant.id)
            result = _join(uow, ctx, application, tenant, form, password_hash, roles.default_roles)
            uow.commit()
        return result

    return _once_more_if_raced(write)


def signup_with_new_tenant(ctx: CoreContext, application: Application, form: SignupForm) -> SignupResult:
    if not application.signup_enabled:
        raise SignupDisabled()
    tenant_name = (form.tenant_name or "").strip()
    display = (form.tenant_display_name or "").strip() or tenant_name
    with ctx.uow(application.id) as uow:
        violations = _form_violations(uow, form, None)
        if found := domain_name_violations(tenant_name):
            violations["tenantName"] = found
        if problem := text_violation(display, max_length=200):
            violations["tenantDisplayName"] = [problem]
        if violations:
            raise ConstraintViolations(violations, "Please correct the highlighted fields")
        _check_password(ctx, uow, form, None)
    password_hash = ctx.hasher.hash(form.password)
    return _once_more_if_raced(lambda: _create_tenant_and_join(ctx, application, form, password_hash, display))


def _create_tenant_and_join(
    ctx: CoreContext, application: Application, form: SignupForm, password_hash: str, display: str
) -> SignupResult:
    tenant_name = (form.tenant_name or "").strip()
    now = ctx.clock.now()
    with ctx.uow(application.id, write=True) as uow:
        roles: RoleAssignmentPolicy = resolved(uow, PolicyKind.ROLE_ASSIGNMENT, None)
        tenant = uow.tenants.get_by_domain_name(tenant_name)
        if tenant is not None:
            # A retry of an earlier signup of this very tenant: resend, provision nothing.
            pending = uow.users.find_for_login_on(tenant.id, BUILT_IN_NAME, form.email)
            if pending is None or pending.status is not UserStatus.PENDING_SIGNUP_ACTIVATION:
                raise ConstraintViolations.single("tenantName", "not_unique", "That organization name is taken")
            result = _join(uow, ctx, application, tenant, form, password_hash, roles.application_signup_roles)
        else:
            tenant = Tenant(
                id=new_id(),
                application_id=application.id,
                domain_name=tenant_name,
                display_name=display,
                description=None,
                logo_url=None,
                signup_enabled=False,
                type=TenantType.STANDARD,
                status=TenantStatus.ACTIVE,
                public_metadata={},
                restricted_metadata={},
                metadata=EntityMetadata.new(now),
            )
            uow.tenants.add(tenant)
            result = _join(uow, ctx, application, tenant, form, password_hash, roles.application_signup_roles)
        uow.commit()
    return result
