"""Password login on a tenant's built-in identity provider, with lockout.

Unknown accounts cost the same argon2 verification as known ones and every failure answers the
same ``InvalidCredentials``, so the login form does not reveal which emails exist.
"""

from __future__ import annotations

from datetime import timedelta

from tenantry.core.audit.service import record
from tenantry.core.context import CoreContext
from tenantry.core.errors import TenantryError
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus

# A valid argon2id hash of a random password: verifying against it costs what a real check costs.
_DUMMY_PASSWORD = "tenantry-dummy-password-for-timing"


class InvalidCredentials(TenantryError):
    code = "invalid_credentials"
    default_message = "Invalid email, username or password"


def authenticate_password(ctx: CoreContext, tenant: Tenant, identifier: str, password: str) -> User:
    now = ctx.clock.now()
    user = None
    if identifier.strip() and len(identifier) <= 200:
        with ctx.uow(tenant.application_id) as uow:
            user = uow.users.find_for_login_on(tenant.id, BUILT_IN_NAME, identifier.strip())
    if user is None or user.password_hash is None:
        ctx.hasher.verify(_dummy_hash(ctx), password[:1024])
        raise InvalidCredentials()
    locked = user.locked_until is not None and user.locked_until > now
    valid = ctx.hasher.verify(user.password_hash, password[:1024])
    if locked or not valid:
        if not locked:
            with ctx.uow(tenant.application_id, write=True) as uow:
                uow.users.record_login_failure(
                    user.id, now, ctx.auth.lockout_threshold, now + timedelta(seconds=ctx.auth.lockout_seconds)
                )
                record(
                    uow,
                    ctx,
                    "login.failed",
                    application_id=tenant.application_id,
                    tenant_id=tenant.id,
                    target=("user", user.id),
                )
                uow.commit()
        raise InvalidCredentials()
    if user.status is not UserStatus.ACTIVE:
        raise InvalidCredentials()
    rehash = ctx.hasher.hash(password) if ctx.hasher.needs_rehash(user.password_hash) else None
    if rehash is not None or user.failed_logins:
        with ctx.uow(tenant.application_id, write=True) as uow:
            uow.users.record_login_success(user.id, rehash)
            uow.commit()
    return user


_dummy: dict[int, str] = {}


def _dummy_hash(ctx: CoreContext) -> str:
    key = id(ctx.hasher)
    if key not in _dummy:
        _dummy[key] = ctx.hasher.hash(_DUMMY_PASSWORD)
    return _dummy[key]
