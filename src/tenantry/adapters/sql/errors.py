"""Turn a database constraint failure into the domain's ``not_unique`` violation, and tell a
database that is unavailable for now from a failing statement.

PostgreSQL names the violated constraint; SQLite names the columns. Both map to the API field.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tenantry.core.errors import ConstraintViolations, InvalidRequest, TenantryError, Violation

CONSTRAINT_FIELDS = {
    "uq_users_email": "email",
    "uq_users_external_id": "externalId",
    "uq_users_username": "username",
    "uq_tenants_domain_name": "domainName",
    "uq_tenants_one_global": "type",
    "uq_tenants_custom_domain": "customDomain",
    "uq_roles_name": "name",
    "uq_applications_vanity_domain": "vanityDomain",
    "uq_identity_providers_name": "name",
    "pk_identity_provider_domains": "emailDomains",
    "uq_invitations_pending_email": "email",
    "uq_invitations_pending_user": "userId",
    "uq_dashboard_admins_email": "email",
}
SQLITE_COLUMNS = {
    "users.email_key": "email",
    "users.external_id": "externalId",
    "users.username_key": "username",
    "tenants.domain_key": "domainName",
    "tenants.application_id": "type",
    "tenants.custom_domain": "customDomain",
    "roles.name_key": "name",
    "applications.vanity_domain": "vanityDomain",
    "identity_providers.name_key": "name",
    "identity_provider_domains.domain_key": "emailDomains",
    "invitations.email_key": "email",
    "invitations.user_id": "userId",
    "dashboard_admins.email_key": "email",
}
SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def translate_integrity_error(error: IntegrityError) -> TenantryError:
    diag = getattr(error.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    field = CONSTRAINT_FIELDS.get(constraint or "")
    if field is None and (match := SQLITE_UNIQUE.search(str(error.orig))):
        columns = [c.strip() for c in match.group(1).split(",")]
        field = next((SQLITE_COLUMNS[c] for c in reversed(columns) if c in SQLITE_COLUMNS), None)
    if field is not None:
        return ConstraintViolations({field: [Violation("not_unique")]}, f"The value of [{field}] is already in use")
    return InvalidRequest("The request conflicts with the current state of a related resource")


# SQLSTATE classes of a database that is away or overloaded for now: connection exceptions,
# insufficient resources (too many connections), operator intervention (shutdown, recovery),
# and transaction rollbacks (deadlock, serialization) that a retry resolves.
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")
SQLITE_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def database_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot serve right now (down, restarting, out of
    connections, busy), rather than that the statement is wrong: the answer is then 503."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code in SQLITE_BUSY_CODES
    sqlstate = getattr(error.orig, "sqlstate", None)
    # psycopg gives no SQLSTATE when it could not reach the server at all.
    return sqlstate is None or str(sqlstate).startswith(TRANSIENT_SQLSTATE_CLASSES)
