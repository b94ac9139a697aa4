"""An administrator's second factor: TOTP enrollment, confirmation, the sign-in step, and disabling it.

Enrollment stores a pending secret that sign-in ignores until a code from it is confirmed. The
sign-in step shares the password's lockout counter (``failed_logins`` / ``locked_until``), and a
code is accepted once: the accepted time step is stored and only later steps are accepted after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tenantry.core.admins.model import Admin
from tenantry.core.admins.service import MAX_PASSWORD, admin_principal, resolve_second_step
from tenantry.core.admins.totp import TotpState, matching_step, new_secret, parse_state, provisioning_uri
from tenantry.core.audit.service import record
from tenantry.core.auth.login import InvalidCredentials
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, InvalidState, NotFound


class SecondStepExpired(Exception):
    """No half-finished sign-in for this browser (never started, expired, or already used)."""


@dataclass(frozen=True, slots=True)
class Enrollment:
    secret: str
    uri: str


def _fresh(ctx: CoreContext, admin: Admin) -> Admin:
    with ctx.uow(admin.application_id) as uow:
        found = uow.admins.get(admin.id)
    if found is None:
        raise NotFound("admin", admin.id)
    return found


def totp_state(ctx: CoreContext, admin: Admin) -> TotpState | None:
    return parse_state(_fresh(ctx, admin).totp_secret)


def start_enrollment(ctx: CoreContext, admin: Admin, issuer: str) -> Enrollment:
    """A new pending secret (replacing an unconfirmed one); refused while TOTP is on."""
    current = _fresh(ctx, admin)
    state = parse_state(current.totp_secret)
    if state is not None and state.active:
        raise InvalidState("totp_enabled", "Two-step sign-in is already on; turn it off first")
    pending = TotpState(new_secret(), active=False)
    with ctx.uow(admin.application_id, write=True) as uow:
        if not uow.admins.replace_totp(admin.id, current.totp_secret, pending.stored()):
            raise InvalidState("totp_changed", "The settings changed meanwhile; please try again")
        uow.commit()
    return Enrollment(pending.secret, provisioning_uri(pending.secret, admin.email, issuer))


def pending_enrollment(ctx: CoreContext, admin: Admin, issuer: str) -> Enrollment | None:
    state = totp_state(ctx, admin)
    if state is None or state.active:
        return None
    return Enrollment(state.secret, provisioning_uri(state.secret, admin.email, issuer))


def confirm_enrollment(ctx: CoreContext, admin: Admin, code: str) -> None:
    """Switch TOTP on once ``code`` matches the pending secret."""
    current = _fresh(ctx, admin)
    state = parse_state(current.totp_secret)
    if state is None or state.active:
        raise InvalidState("totp_not_pending", "Start the set-up first")
    step = matching_step(state.secret, code, ctx.clock.now())
    if step is None:
        raise ConstraintViolations.single("code", "invalid_code", "The code does not match; check the device's clock")
    with ctx.uow(admin.application_id, write=True) as uow:
        if not uow.admins.replace_totp(admin.id, current.totp_secret, TotpState(state.secret, True, step).stored()):
            raise InvalidState("totp_changed", "The settings changed meanwhile; please try again")
        record(
            uow,
            ctx,
            "admin.totp_enabled",
            application_id=admin.application_id,
            actor=admin_principal(admin),
            tenant_id=admin.tenant_id,
            target=("admin", admin.id),
        )
        uow.commit()


def disable_totp(ctx: CoreContext, admin: Admin, password: str) -> None:
    """Turn TOTP off (or drop a pending set-up); the administrator's password is asked again."""
    current = _fresh(ctx, admin)
    if not ctx.hasher.verify(current.password_hash, password[:MAX_PASSWORD]):
        raise ConstraintViolations.single("password", "invalid_password", "The password is not right")
    if current.totp_secret is None:
        return
    with ctx.uow(admin.application_id, write=True) as uow:
        if not uow.admins.replace_totp(admin.id, current.totp_secret, None):
            raise InvalidState("totp_changed", "The settings changed meanwhile; please try again")
        record(
            uow,
            ctx,
            "admin.totp_disabled",
            application_id=admin.application_id,
            actor=admin_principal(admin),
            tenant_id=admin.tenant_id,
            target=("admin", admin.id),
        )
        uow.commit()


def verify_second_step(ctx: CoreContext, application_id: str, token: str | None, code: str) -> Admin:
    """Finish a sign-in with a TOTP code: the administrator, ``InvalidCredentials`` for a wrong,
    reused or locked-out code, ``SecondStepExpired`` when there is no half-finished sign-in."""
    found = resolve_second_step(ctx, application_id, token)
    if found is None:
        raise SecondStepExpired()
    session, admin = found
    now = ctx.clock.now()
    state = parse_state(admin.totp_secret)
    if state is None or not state.active:
        raise SecondStepExpired()
    if admin.locked_until is not None and admin.locked_until > now:
        raise InvalidCredentials()
    step = matching_step(state.secret, code[:20], now, after=state.last_step)
    with ctx.uow(application_id, write=True) as uow:
        accepted = step is not None and uow.admins.replace_totp(
            admin.id, admin.totp_secret, TotpState(state.secret, True, step).stored()
        )
        if not accepted:
            uow.admins.record_login_failure(
                admin.id, ctx.auth.lockout_threshold, now + timedelta(seconds=ctx.auth.lockout_seconds)
            )
        else:
            uow.admins.record_login_success(admin.id, now, None)
            uow.admins.delete_session(session.id)
        uow.commit()
    if not accepted:
        raise InvalidCredentials()
    return admin
