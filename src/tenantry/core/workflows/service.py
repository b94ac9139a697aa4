"""The workflow APIs: what an application's self-hosted signup, activation, verification,
discovery and password pages call with a client-credentials token.

Each use case first checks the caller's permission against the tenant (and user) it touches,
with its boundary, then runs the same core use case as Tenantry's hosted pages. Only what the
hosted pages never need lives here: requesting an email verification, changing a password,
ending a user's sessions and revoking refresh tokens. A session for a just-activated user starts
with a one-time handoff code that the browser brings to the tenant host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from tenantry.core.access import Principal, require
from tenantry.core.activation import service as activation
from tenantry.core.applications.model import Application
from tenantry.core.auth import discovery
from tenantry.core.auth.emails import ACTIVATION, RESET_PASSWORD, VERIFICATION, send_code
from tenantry.core.auth.sessions import issue_handoff
from tenantry.core.context import CoreContext
from tenantry.core.errors import (
    ConstraintViolations,
    Forbidden,
    InvalidState,
    NotFound,
    PasswordPolicyViolation,
    Violation,
)
from tenantry.core.policies.service import password_policy
from tenantry.core.ports import UnitOfWork
from tenantry.core.signup import service as signups
from tenantry.core.tenants.model import Tenant
from tenantry.core.text import text_violation
from tenantry.core.users.model import User, UserStatus
from tenantry.core.users.validation import email_violations

SIGNUP = "signup-workflow:execute"
USER_ACTIVATION = "user-activation-workflow:execute"
EMAIL_VERIFICATION = "email-verification-workflow:execute"
TENANT_DISCOVERY = "tenant-discovery-workflow:execute"
FORGOT_PASSWORD = "forgot-password-workflow:execute"
CHANGE_PASSWORD = "change-password-workflow:execute"
AUTH_SESSION_DELETE = "auth-session:delete"
REFRESH_TOKEN_REVOKE = "refresh-token:revoke"

LandingFor = Callable[[Tenant, str | None], str]
"""Where the browser lands once its session has started: ``(tenant, client id) -> URL``."""


class InvalidCurrentPassword(InvalidState):
    def __init__(self) -> None:
        super().__init__("invalid_current_password", "The current password is not correct")


class UserNotActive(InvalidState):
    def __init__(self) -> None:
        super().__init__("user_not_active", "The user is not active")


@dataclass(frozen=True, slots=True)
class ProvisionUser:
    """Application-level signup (``application_id`` + ``tenant_name``) or tenant-level signup
    (``tenant_id``)."""

    email: str
    password: str | None
    profile: Mapping[str, str | None] = field(default_factory=dict)
    application_id: str | None = None
    tenant_id: str | None = None
    tenant_name: str | None = None
    tenant_display_name: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Provisioned:
    signup: signups.SignupResult
    session: SessionStart | None  # the email-verification strategy signs the user in at once

    @property
    def email_sent(self) -> bool:
        """An activation or verification email went out (a retry resends it)."""
        return not self.signup.resent or self.signup.user.status is UserStatus.PENDING_SIGNUP_ACTIVATION


@dataclass(frozen=True, slots=True)
class ActivateUser:
    """Either the link's ``email_auth_code``, or ``user_id`` with the one-time ``code``."""

    email_auth_code: str | None = None
    user_id: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class SessionStart:
    tenant: Tenant
    user: User
    code: str  # the one-time handoff code that /api/v1/auth-sessions/create on the tenant host redeems


@dataclass(frozen=True, slots=True)
class ChangePassword:
    user_id: str
    current_password: str
    new_password: str


# --- boundaries ---------------------------------------------------------------------------


def _holds(actor: Principal, permission: str) -> None:
    """The caller holds ``permission`` somewhere; checked before a code is even looked at."""
    if not any(g.permission == permission for g in actor.grants):
        raise Forbidden(f"Missing permission [{permission}]")


def _same_application(actor: Principal, application_id: str) -> None:
    if application_id != actor.application_id:
        raise NotFound("application", application_id)


def _visible_tenant(uow: UnitOfWork, actor: Principal, tenant_id: str, permission: str) -> Tenant:
    """The usable tenant, or ``tenant_not_found`` when it lies outside the caller's boundary."""
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or not tenant.is_usable or not actor.reaches_tenant(permission, tenant_id):
        if tenant is not None and tenant.is_usable and actor.reaches_tenant("tenant:read", tenant_id):
            require(actor, permission, tenant_id=tenant_id)
        raise NotFound("tenant", tenant_id)
    return tenant


def _visible_user(uow: UnitOfWork, actor: Principal, user_id: str, permission: str) -> tuple[User, Tenant]:
    """The user and its usable tenant, or ``user_not_found`` outside the caller's boundary (a
    caller that may read the user but lacks ``permission`` gets 403)."""
    user = uow.users.get(user_id)
    if user is None or not actor.allows(permission, tenant_id=user.tenant_id, user_id=user.id):
        if user is not None and actor.allows("user:read", tenant_id=user.tenant_id, user_id=user.id):
            require(actor, permission, tenant_id=user.tenant_id, user_id=user.id)
        raise NotFound("user", user_id)
    tenant = uow.tenants.get(user.tenant_id)
    if tenant is None or not tenant.is_usable:
        raise NotFound("user", user_id)
    return user, tenant


def _code_owner(
    ctx: CoreContext, actor: Principal, application: Application, code: str, kind: str, permission: str
) -> activation.CodeOwner:
    """Introspect an email code (without using it up) and check the caller reaches its user."""
    _holds(actor, permission)
    owner = activation.introspect(ctx, application, code, kind)
    require(actor, permission, tenant_id=owner.tenant.id, user_id=owner.user.id)
    return owner


def _start_session(ctx: CoreContext, tenant: Tenant, user: User, landing: str) -> SessionStart:
    with ctx.uow(tenant.application_id, write=True) as uow:
        code = issue_handoff(uow, ctx, tenant, user, landing)
        uow.commit()
    return SessionStart(tenant, user, code)


# --- signup -------------------------------------------------------------------------------


def provision_user(
    ctx: CoreContext, actor: Principal, application: Application, cmd: ProvisionUser, landing_for: LandingFor
) -> Provisioned:
    """Signup through the API. Unlike the hosted page (which answers the same to hide who has an
    account) an email that already belongs to a user of the tenant is ``not_unique``."""
    if cmd.tenant_id is not None:
        if cmd.application_id is not None:
            _same_application(actor, cmd.application_id)
        with ctx.uow(application.id) as uow:
            tenant: Tenant | None = _visible_tenant(uow, actor, cmd.tenant_id, SIGNUP)
    elif cmd.application_id is not None:
        _same_application(actor, cmd.application_id)
        require(actor, SIGNUP, tenant_id=None)
        tenant = None
    else:
        raise ConstraintViolations(
            {"tenantId": [Violation("required")]},
            "Send tenantId (tenant-level signup) or applicationId (application-level signup)",
        )
    if cmd.password is None:
        raise ConstraintViolations.single("password", "required", "The built-in identity provider needs a password")
    if cmd.client_id is not None and (problem := text_violation(cmd.client_id, max_length=64)):
        raise ConstraintViolations({"clientId": [problem]}, "Field violations detected")
    form = signups.SignupForm(
        email=cmd.email,
        password=cmd.password,
        profile=cmd.profile,
        tenant_name=cmd.tenant_name,
        tenant_display_name=cmd.tenant_display_name,
        client_id=cmd.client_id,
    )
    result = (
        signups.signup_with_new_tenant(ctx, application, form)
        if tenant is None
        else signups.signup_to_tenant(ctx, application, tenant, form)
    )
    if result.resent and result.user.status is not UserStatus.PENDING_SIGNUP_ACTIVATION:
        # Nothing was written: the signup found an account that is past activation.
        raise ConstraintViolations.single("email", "not_unique", "A user with this email already exists")
    session = (
        _start_session(ctx, result.tenant, result.user, landing_for(result.tenant, cmd.client_id))
        if result.signed_in
        else None
    )
    return Provisioned(result, session)


# --- user activation ----------------------------------------------------------------------


def request_user_activation(ctx: CoreContext, actor: Principal, application: Application, user_id: str) -> None:
    with ctx.uow(application.id) as uow:
        user, tenant = _visible_user(uow, actor, user_id, USER_ACTIVATION)
    activation.request_activation(ctx, application, tenant, user)


def introspect_activation_code(
    ctx: CoreContext, actor: Principal, application: Application, code: str
) -> activation.CodeOwner:
    return _code_owner(ctx, actor, application, code, ACTIVATION, USER_ACTIVATION)


def activate_user(
    ctx: CoreContext, actor: Principal, application: Application, cmd: ActivateUser, landing_for: LandingFor
) -> SessionStart:
    """Activate by the link's code or by the one-time code of the user's latest activation
    email, then hand out a code that starts the user's session on the tenant host."""
    _holds(actor, USER_ACTIVATION)
    if cmd.email_auth_code is not None:
        if cmd.user_id is not None or cmd.code is not None:
            raise ConstraintViolations.single(
                "emailAuthCode", "invalid_value", "Send either emailAuthCode, or userId and code"
            )
        introspect_activation_code(ctx, actor, application, cmd.email_auth_code)
        owner = activation.activate_with_link(ctx, application, cmd.email_auth_code)
    elif cmd.user_id is not None and cmd.code is not None:
        with ctx.uow(application.id) as uow:
            user, _ = _visible_user(uow, actor, cmd.user_id, USER_ACTIVATION)
            latest = uow.email_codes.latest_for_user(user.id, ACTIVATION)
        if latest is None:
            raise activation.InvalidCode()
        owner = activation.activate_with_otp(ctx, application, latest.id, cmd.code)
    else:
        missing = "code" if cmd.user_id is not None else "userId" if cmd.code is not None else "emailAuthCode"
        raise ConstraintViolations.single(missing, "required", "Send either emailAuthCode, or userId and code")
    landing = landing_for(owner.tenant, owner.code.data.get("client_id"))
    return _start_session(ctx, owner.tenant, owner.user, landing)


# --- email verification -------------------------------------------------------------------


def request_email_verification(ctx: CoreContext, actor: Principal, application: Application, user_id: str) -> None:
    """(Re)send the verification email of an active user whose email is not verified yet."""
    with ctx.uow(application.id, write=True) as uow:
        user, tenant = _visible_user(uow, actor, user_id, EMAIL_VERIFICATION)
        if user.status is not UserStatus.ACTIVE:
            raise UserNotActive()
        if user.email_verified:
            raise InvalidState("email_already_verified", "The user's email is already verified")
        send_code(
            uow,
            ctx,
            application=application,
            tenant=tenant,
            user=user,
            kind=VERIFICATION,
        )
        uow.commit()


def verify_email(ctx: CoreContext, actor: Principal, application: Application, code: str) -> User:
    _code_owner(ctx, actor, application, code, VERIFICATION, EMAIL_VERIFICATION)
    return activation.verify_email(ctx, application, code).user


# --- tenant discovery (spans tenants: application boundary) --------------------------------


def _discovery_checks(actor: Principal, application_id: str, email: str) -> None:
    _same_application(actor, application_id)
    require(actor, TENANT_DISCOVERY, tenant_id=None)
    if found := email_violations(email):
        raise ConstraintViolations({"email": found}, "Field violations detected")


def fetch_tenants(
    ctx: CoreContext, actor: Principal, application: Application, application_id: str, email: str
) -> list[Tenant]:
    _discovery_checks(actor, application_id, email)
    with ctx.uow(application.id) as uow:
        return [tenant for _, tenant in discovery.discoverable(uow, email)]


def send_tenants_email(
    ctx: CoreContext,
    actor: Principal,
    application: Application,
    application_id: str,
    email: str,
    login_url_for: Callable[[Tenant], str],
) -> None:
    """Email the address its tenants' login links; nothing tells the caller whether it had any."""
    _discovery_checks(actor, application_id, email)
    discovery.send_discovery_email(ctx, application, email, login_url_for)


# --- passwords ----------------------------------------------------------------------------


def request_password_reset(
    ctx: CoreContext, actor: Principal, application: Application, tenant_id: str, email: str
) -> None:
    with ctx.uow(application.id) as uow:
        tenant = _visible_tenant(uow, actor, tenant_id, FORGOT_PASSWORD)
    activation.request_password_reset(ctx, application, tenant, email)


def _renamed(error: PasswordPolicyViolation, field_name: str) -> PasswordPolicyViolation:
    return PasswordPolicyViolation(field_name, [v for found in error.violations.values() for v in found])


def reset_password(ctx: CoreContext, actor: Principal, application: Application, code: str, new_password: str) -> None:
    _code_owner(ctx, actor, application, code, RESET_PASSWORD, FORGOT_PASSWORD)
    try:
        activation.reset_password(ctx, application, code, new_password)
    except PasswordPolicyViolation as error:
        raise _renamed(error, "newPassword") from error


def change_password(ctx: CoreContext, actor: Principal, application: Application, cmd: ChangePassword) -> None:
    """Check the current password (wrong guesses count towards the login lockout), apply the
    tenant's password policy to the new one, then end every session and refresh token of the
    user: a caller using the API cannot say which session is its own."""
    with ctx.uow(application.id) as uow:
        user, tenant = _visible_user(uow, actor, cmd.user_id, CHANGE_PASSWORD)
        policy = password_policy(ctx, uow, tenant.id)
    if user.status is not UserStatus.ACTIVE:
        raise UserNotActive()
    now = ctx.clock.now()
    locked = user.locked_until is not None and user.locked_until > now
    if user.password_hash is None or locked or not ctx.hasher.verify(user.password_hash, cmd.current_password[:1024]):
        if user.password_hash is not None and not locked:
            with ctx.uow(application.id, write=True) as uow:
                lock_until = now + timedelta(seconds=ctx.auth.lockout_seconds)
                uow.users.record_login_failure(user.id, now, ctx.auth.lockout_threshold, lock_until)
                uow.commit()
        raise InvalidCurrentPassword()
    policy.check(cmd.new_password, email=user.email, common=ctx.common_passwords, field="newPassword")
    password_hash = ctx.hasher.hash(cmd.new_password)
    with ctx.uow(application.id, write=True) as uow:
        current = uow.users.get(user.id)
        if current is None:
            raise NotFound("user", cmd.user_id)
        if current.password_hash != user.password_hash:
            raise InvalidCurrentPassword()  # changed by someone else meanwhile
        current.password_hash = password_hash
        current.metadata.touch(now)
        uow.users.update(current)
        uow.users.record_login_success(current.id, None)
        uow.auth_sessions.delete_for_user(current.id)
        uow.refresh_tokens.revoke_for_user(current.id, now)
        uow.commit()


# --- sessions and refresh tokens ----------------------------------------------------------


def delete_auth_sessions(ctx: CoreContext, actor: Principal, application: Application, user_id: str) -> None:
    with ctx.uow(application.id, write=True) as uow:
        user, _ = _visible_user(uow, actor, user_id, AUTH_SESSION_DELETE)
        uow.auth_sessions.delete_for_user(user.id)
        uow.commit()


def revoke_user_refresh_tokens(ctx: CoreContext, actor: Principal, application: Application, user_id: str) -> None:
    with ctx.uow(application.id, write=True) as uow:
        user, _ = _visible_user(uow, actor, user_id, REFRESH_TOKEN_REVOKE)
        uow.refresh_tokens.revoke_for_user(user.id, ctx.clock.now())
        uow.commit()


def revoke_refresh_token(ctx: CoreContext, actor: Principal, application: Application, token_id: str) -> None:
    """Revoke a refresh token and the tokens rotated from the same grant (its family): a used
    token is dead already, its live successor is what must stop working."""
    with ctx.uow(application.id, write=True) as uow:
        stored = uow.refresh_tokens.get(token_id)
        if stored is None or not actor.allows(REFRESH_TOKEN_REVOKE, tenant_id=stored.tenant_id, user_id=stored.user_id):
            if stored is not None and actor.allows("user:read", tenant_id=stored.tenant_id, user_id=stored.user_id):
                require(actor, REFRESH_TOKEN_REVOKE, tenant_id=stored.tenant_id, user_id=stored.user_id)
            raise NotFound("refresh_token", token_id)
        uow.refresh_tokens.revoke_family(stored.family_id, ctx.clock.now())
        uow.commit()
