"""Dashboard administrator use cases: create, sign in (with the users' lockout rules), sessions.

A session token is random, handed to the browser once and stored as its SHA-256. A session ends
after ``IDLE_TIMEOUT`` without a request or ``ABSOLUTE_LIFETIME`` after sign-in, whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tenantry.core.access import Principal
from tenantry.core.admins.model import Admin, AdminSession
from tenantry.core.admins.totp import parse_state
from tenantry.core.audit.service import record
from tenantry.core.auth.login import InvalidCredentials, _dummy_hash
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, NotFound
from tenantry.core.ids import new_id
from tenantry.core.roles.model import TENANT_ADMIN_PERMISSIONS, Boundary, PermissionGrant, all_permissions
from tenantry.core.tenants.model import TenantStatus
from tenantry.core.users.validation import email_violations

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)
SECOND_STEP_LIFETIME = timedelta(minutes=5)
SECOND_STEP_PREFIX = "second-step:"  # hashed with the token: a half-signed-in token is never a session token
MAX_PASSWORD = 1024


def email_key(email: str) -> str:
    return email.strip().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreateAdmin:
    email: str
    password: str
    tenant_id: str | None = None


def create_admin(ctx: CoreContext, application_id: str, cmd: CreateAdmin, actor: Principal | None = None) -> Admin:
    """Without ``actor`` an operator action (the CLI, tests): no Principal is checked; the
    dashboard's administrator management checks its own (``management.add_admin``)."""
    email = cmd.email.strip()
    if found := email_violations(email):
        raise ConstraintViolations({"email": found}, "Invalid email")
    ctx.password_policy.check(cmd.password, email=email, common=ctx.common_passwords)
    password_hash = ctx.hasher.hash(cmd.password)
    now = ctx.clock.now()
    admin = Admin(new_id(), application_id, cmd.tenant_id, email, password_hash, 0, None, None, now, now)
    with ctx.uow(application_id, write=True) as uow:
        if cmd.tenant_id is not None:
            tenant = uow.tenants.get(cmd.tenant_id)
            if tenant is None:
                raise NotFound("tenant", cmd.tenant_id)
        uow.admins.add(admin)
        record(
            uow,
            ctx,
            "admin.created",
            application_id=application_id,
            actor=actor or Principal.operator(application_id),
            tenant_id=cmd.tenant_id,
            target=("admin", admin.id),
            details={"email": email},
        )
        uow.commit()
    return admin


def authenticate_admin(ctx: CoreContext, application_id: str, email: str, password: str) -> Admin:
    """The administrator, or ``InvalidCredentials`` (same message, same hashing cost) for an
    unknown email, a wrong password or a locked account."""
    now = ctx.clock.now()
    key = email_key(email)
    with ctx.uow(application_id) as uow:
        admin = uow.admins.get_by_email_key(key) if key and len(key) <= 200 else None
    if admin is None:
        ctx.hasher.verify(_dummy_hash(ctx), password[:MAX_PASSWORD])
        raise InvalidCredentials()
    locked = admin.locked_until is not None and admin.locked_until > now
    valid = ctx.hasher.verify(admin.password_hash, password[:MAX_PASSWORD])
    if locked or not valid:
        if not locked:
            with ctx.uow(application_id, write=True) as uow:
                uow.admins.record_login_failure(
                    admin.id, ctx.auth.lockout_threshold, now + timedelta(seconds=ctx.auth.lockout_seconds)
                )
                uow.commit()
        raise InvalidCredentials()
    rehash = ctx.hasher.hash(password) if ctx.hasher.needs_rehash(admin.password_hash) else None
    with ctx.uow(application_id, write=True) as uow:
        if second_factor_required(admin):
            # The failure counter is reset by the second step, so that a known password cannot
            # be used to keep clearing the lockout while guessing codes.
            if rehash is not None:
                uow.admins.set_password_hash(admin.id, rehash)
        else:
            uow.admins.record_login_success(admin.id, now, rehash)
        uow.commit()
    return admin


def second_factor_required(admin: Admin) -> bool:
    state = parse_state(admin.totp_secret)
    return state is not None and state.active


def start_admin_session(ctx: CoreContext, admin: Admin, *, second_step: bool = False) -> str:
    """A new session token. With ``second_step`` the token only proves that the password was
    right: it lives five minutes and is accepted by ``resolve_second_step`` alone."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    lifetime = SECOND_STEP_LIFETIME if second_step else ABSOLUTE_LIFETIME
    session = AdminSession(new_id(), admin.id, now, now, now + lifetime)
    stored = token_hash(SECOND_STEP_PREFIX + token if second_step else token)
    with ctx.uow(admin.application_id, write=True) as uow:
        uow.admins.add_session(session, stored)
        uow.commit()
    return token


def resolve_second_step(ctx: CoreContext, application_id: str, token: str | None) -> tuple[AdminSession, Admin] | None:
    """The half-finished sign-in (password accepted, code still to come) of ``token``."""
    if not token or len(token) > 200:
        return None
    with ctx.uow(application_id) as uow:
        found = uow.admins.get_session(token_hash(SECOND_STEP_PREFIX + token))
    if found is None or found[0].expires_at <= ctx.clock.now():
        return None
    return found


def resolve_admin_session(ctx: CoreContext, application_id: str, token: str | None) -> Admin | None:
    """The administrator of a live session (and the session is touched), else None."""
    if not token or len(token) > 200:
        return None
    now = ctx.clock.now()
    with ctx.uow(application_id) as uow:
        found = uow.admins.get_session(token_hash(token))
        tenant = uow.tenants.get(found[1].tenant_id) if found is not None and found[1].tenant_id else None
    if found is None:
        return None
    session, admin = found
    # A tenant administrator's session ends with their tenant (deleted or being deleted).
    gone = admin.tenant_id is not None and (tenant is None or tenant.status is TenantStatus.DELETE_IN_PROGRESS)
    expired = gone or session.expires_at <= now or session.last_seen_at + IDLE_TIMEOUT <= now
    # Touch at most every 30 s: one write per page view would serialize readers on SQLite.
    if expired or now - session.last_seen_at > TOUCH_EVERY:
        with ctx.uow(application_id, write=True) as uow:
            if expired:
                uow.admins.delete_session(session.id)
            else:
                uow.admins.touch_session(session.id, now)
            uow.commit()
    return None if expired else admin


def end_admin_session(ctx: CoreContext, application_id: str, token: str | None) -> None:
    if not token or len(token) > 200:
        return
    with ctx.uow(application_id, write=True) as uow:
        found = uow.admins.get_session(token_hash(token))
        if found is not None:
            uow.admins.delete_session(found[0].id)
            uow.commit()


def admin_principal(admin: Admin) -> Principal:
    """An application administrator holds every permission application-wide; a tenant
    administrator holds the ``tenant-admin`` role's permissions inside their tenant."""
    if admin.tenant_id is None:
        return Principal(admin.application_id, admin.id, "admin", None, all_permissions(Boundary.APPLICATION))
    grants = tuple(PermissionGrant(p, Boundary.TENANT) for p in TENANT_ADMIN_PERMISSIONS)
    return Principal(admin.application_id, admin.id, "admin", admin.tenant_id, grants)
