from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, delete, exists, func, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.adapters.sql.listing import MATCHES_TOTAL, USER_LISTING, count_total
from tenantry.adapters.sql.repositories.base import (
    Prefixed,
    Repository,
    aware,
    lookupable,
    metadata_from,
    metadata_values,
    scope_clause,
)
from tenantry.adapters.sql.repositories.identity_providers import named_for_tenant
from tenantry.adapters.sql.repositories.tenants import tenant_from_row
from tenantry.core.access import TenantScope
from tenantry.core.errors import ChangedMeanwhile
from tenantry.core.ports import ListSpec, Page
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import User, UserStatus
from tenantry.protocols.query.ast import BoolOp, Comparison

U = t.users
T = t.tenants
UC = t.user_counts
IDP = t.identity_providers
# Profile fields with a column of their own (they are filtered and sorted on); the others live
# in the ``profile`` JSON column.
PROMOTED = {
    "username": "username",
    "externalId": "external_id",
    "fullName": "full_name",
    "givenName": "given_name",
    "familyName": "family_name",
}
USERS_AND_IDP = U.join(IDP, IDP.c.id == U.c.identity_provider_id)
SELECT_USERS = select(U, IDP.c.name.label("idp_name"), IDP.c.type.label("idp_type")).select_from(USERS_AND_IDP)
# Hot statements are built once: building a construct per call costs more than running it.
GET_USER = DirectStatement(
    SELECT_USERS.where((U.c.id == bindparam("user_id")) & (U.c.application_id == bindparam("app_id")))
)
# A grant's user and tenant (every code exchange and refresh) in one round trip.
GET_USER_WITH_TENANT = DirectStatement(
    select(U, IDP.c.name.label("idp_name"), IDP.c.type.label("idp_type"), *[c.label(f"t_{c.key}") for c in T.c])
    .select_from(USERS_AND_IDP.join(T, T.c.id == U.c.tenant_id))
    .where(
        (U.c.id == bindparam("user_id"))
        & (U.c.tenant_id == bindparam("tenant_id"))
        & (U.c.application_id == bindparam("app_id"))
        & (T.c.application_id == bindparam("app_id"))
    )
)
INSERT_USER = DirectStatement(insert(U))  # every Create User, signup and JIT provisioning
_LOGIN_SCOPE = (
    (U.c.application_id == bindparam("app"))
    & (U.c.tenant_id == bindparam("tenant"))
    & (U.c.identity_provider_id == bindparam("idp"))
)
LOGIN_BY_EMAIL = DirectStatement(SELECT_USERS.where(_LOGIN_SCOPE & (U.c.email_key == bindparam("key"))))
LOGIN_BY_USERNAME = DirectStatement(SELECT_USERS.where(_LOGIN_SCOPE & (U.c.username_key == bindparam("key"))))
# The same, on the provider a name stands for (a password login: the tenant's built-in one),
# found in the same statement instead of a round trip of its own.
_NAMED = IDP.alias("named")
_LOGIN_ON_NAMED = (
    (U.c.application_id == bindparam("app_id"))
    & (U.c.tenant_id == bindparam("tenant_id"))
    & (U.c.identity_provider_id == named_for_tenant(_NAMED, _NAMED.c.id).scalar_subquery())
)
LOGIN_ON_NAMED_BY_EMAIL = DirectStatement(SELECT_USERS.where(_LOGIN_ON_NAMED & (U.c.email_key == bindparam("key"))))
LOGIN_ON_NAMED_BY_USERNAME = DirectStatement(
    SELECT_USERS.where(_LOGIN_ON_NAMED & (U.c.username_key == bindparam("key")))
)


def _from_row(row: Any) -> User:
    profile: dict[str, str | None] = dict(row.profile)
    for field, column in PROMOTED.items():
        value = getattr(row, column)
        if value is not None:
            profile[field] = value
    meta = metadata_from(row)
    meta.activation_time = aware(row.activated_at)
    meta.deactivation_time = aware(row.deactivated_at)
    meta.last_verification_time = aware(row.verified_at)
    failed, locked = row.failed_logins, aware(row.locked_until)
    return User(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        identity_provider_id=row.identity_provider_id,
        identity_provider_name=row.idp_name,
        identity_provider_type=row.idp_type,
        email=row.email,
        email_verified=row.email_verified,
        status=UserStatus(row.status),
        profile=profile,
        public_metadata=row.public_metadata,
        restricted_metadata=row.restricted_metadata,
        password_hash=row.password_hash,
        metadata=meta,
        failed_logins=failed,
        locked_until=locked,
    )


def _values(user: User) -> dict[str, Any]:
    promoted = {column: user.profile.get(field) for field, column in PROMOTED.items()}
    username = user.profile.get("username")
    return {
        "email": user.email,
        "email_key": user.email.lower(),
        "email_verified": user.email_verified,
        **promoted,
        "username_key": username.lower() if username else None,
        "profile": {k: v for k, v in user.profile.items() if k not in PROMOTED and v is not None},
        "status": user.status.value,
        "password_hash": user.password_hash,
        "public_metadata": user.public_metadata,
        "restricted_metadata": user.restricted_metadata,
        "activated_at": user.metadata.activation_time,
        "deactivated_at": user.metadata.deactivation_time,
        "verified_at": user.metadata.last_verification_time,
        **metadata_values(user.metadata),
    }


class SqlUserRepository(Repository):
    def _mine(self) -> Any:
        return SELECT_USERS.where(U.c.application_id == self.application_id)

    def get(self, user_id: str) -> User | None:
        if not lookupable(user_id):
            return None
        rows = GET_USER.execute(self.connection, {"user_id": user_id, "app_id": self.application_id})
        return _from_row(rows[0]) if rows else None

    def get_with_tenant(self, user_id: str, tenant_id: str) -> tuple[User, Tenant] | None:
        """The user and its tenant, when the user belongs to that tenant."""
        if not lookupable(user_id, tenant_id):
            return None
        params = {"user_id": user_id, "tenant_id": tenant_id, "app_id": self.application_id}
        rows = GET_USER_WITH_TENANT.execute(self.connection, params)
        return (_from_row(rows[0]), tenant_from_row(Prefixed(rows[0], "t_"))) if rows else None

    def add(self, user: User) -> None:
        row = {
            "id": user.id,
            "application_id": self.application_id,
            "tenant_id": user.tenant_id,
            "identity_provider_id": user.identity_provider_id,
            **_values(user),
        }
        self.write_direct(INSERT_USER, row)

    def update(self, user: User, expected_version: int | None = None) -> None:
        mine = (U.c.id == user.id) & (U.c.application_id == self.application_id)
        if expected_version is not None:
            mine = mine & (U.c.version == expected_version)
        done = self.write(update(U).where(mine).values(**_values(user)))
        if expected_version is not None and done.rowcount == 0:
            raise ChangedMeanwhile()

    def delete(self, user_id: str) -> None:
        self.write(delete(U).where((U.c.id == user_id) & (U.c.application_id == self.application_id)))

    def page(self, spec: ListSpec, scope: TenantScope, tenant_id: str | None = None) -> Page[User]:
        conditions = [scope_clause(U.c.tenant_id, scope)]
        if tenant_id is None:
            conditions.append(U.c.application_id == self.application_id)
        else:
            # One tenant's users: checking once that the tenant is this application's (its users are)
            # keeps application_id out of the row conditions, so (tenant_id, sort key, id) indexes suffice.
            mine = exists().where((T.c.id == tenant_id) & (T.c.application_id == self.application_id))
            conditions += [U.c.tenant_id == tenant_id, mine]
        statements = USER_LISTING.joined_page(SELECT_USERS, U, USERS_AND_IDP, conditions, spec)
        rows = self.connection.execute(statements.page).all() if spec.count else []
        kept = _kept_by_counts(spec.filter)
        if statements.counted and rows:
            total, estimated = int(getattr(rows[0], MATCHES_TOTAL)), False
        elif kept is not None:
            total, estimated = self._counted(scope, tenant_id, kept), False
        else:
            total, estimated = count_total(self.connection, statements.count, spec.exact_total_up_to)
        return Page(total, spec.start_index, [_from_row(r) for r in rows], estimated)

    def _counted(self, scope: TenantScope, tenant_id: str | None, kept: list[ColumnElement[bool]]) -> int:
        """The total from ``user_counts`` (kept by triggers): a few rows per tenant, where counting
        the users themselves reads one index entry per user."""
        query = (
            select(func.coalesce(func.sum(UC.c.users), 0))
            .select_from(COUNTS_AND_IDP)
            .where((UC.c.application_id == self.application_id) & scope_clause(UC.c.tenant_id, scope), *kept)
        )
        if tenant_id is not None:
            query = query.where(UC.c.tenant_id == tenant_id)
        return int(self.connection.execute(query).scalar_one())

    def delete_for_tenant(self, tenant_id: str, limit: int) -> int:
        batch = (
            select(U.c.id)
            .where((U.c.tenant_id == tenant_id) & (U.c.application_id == self.application_id))
            .limit(limit)
        )
        ids = list(self.connection.execute(batch).scalars())
        if ids:
            self.connection.execute(delete(U).where(U.c.id.in_(ids)))
        return len(ids)

    def find_for_login(self, tenant_id: str, identity_provider_id: str, identifier: str) -> User | None:
        """By email, else by username — two lookups on their unique indexes. (One query with
        ``email_key = :k OR username_key = :k`` let SQLite's planner, once the table has
        statistics, scan the tenant's users instead.) An email that is also someone else's
        username is ambiguous: the email match wins."""
        if not lookupable(identifier):
            return None
        params = {
            "app": self.application_id,
            "tenant": tenant_id,
            "idp": identity_provider_id,
            "key": identifier.lower(),
        }
        rows = LOGIN_BY_EMAIL.execute(self.connection, params) or LOGIN_BY_USERNAME.execute(self.connection, params)
        return _from_row(rows[0]) if rows else None

    def find_for_login_on(self, tenant_id: str, provider_name: str, identifier: str) -> User | None:
        """As ``find_for_login``, on the provider called ``provider_name`` that the tenant sees
        (its own first, then the application's)."""
        if not lookupable(identifier, tenant_id, provider_name):
            return None
        params = {
            "app_id": self.application_id,
            "tenant_id": tenant_id,
            "name_key": provider_name.lower(),
            "key": identifier.lower(),
        }
        rows = LOGIN_ON_NAMED_BY_EMAIL.execute(self.connection, params) or LOGIN_ON_NAMED_BY_USERNAME.execute(
            self.connection, params
        )
        return _from_row(rows[0]) if rows else None

    def find_by_external_id(self, tenant_id: str, identity_provider_id: str, external_id: str) -> User | None:
        if not lookupable(external_id, tenant_id, identity_provider_id):
            return None
        query = self._mine().where(
            (U.c.tenant_id == tenant_id)
            & (U.c.identity_provider_id == identity_provider_id)
            & (U.c.external_id == external_id)
        )
        row = self.connection.execute(query).first()
        return _from_row(row) if row else None

    def find_by_email(self, email: str) -> list[User]:
        if not lookupable(email):
            return []
        query = self._mine().where(U.c.email_key == email.lower()).order_by(U.c.tenant_id).limit(100)
        return [_from_row(r) for r in self.connection.execute(query)]

    def batch_after(self, after_id: str | None, limit: int, tenant_id: str | None = None) -> list[User]:
        query = self._mine()
        if after_id is not None:
            query = query.where(U.c.id > after_id)
        if tenant_id is not None:
            query = query.where(U.c.tenant_id == tenant_id)
        return [_from_row(r) for r in self.connection.execute(query.order_by(U.c.id).limit(limit))]

    def record_login_failure(self, user_id: str, now: datetime, threshold: int, lock_until: datetime) -> None:
        count = U.c.failed_logins + 1
        self.connection.execute(
            update(U)
            .where(U.c.id == user_id)
            .values(failed_logins=count, locked_until=case((count >= threshold, lock_until), else_=U.c.locked_until))
        )

    def record_login_success(self, user_id: str, password_hash: str | None) -> None:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if password_hash is not None:
            values["password_hash"] = password_hash
        self.connection.execute(update(U).where(U.c.id == user_id).values(**values))


# A provider's counts with the provider: its name and type answer filters. (Counts of a deleted
# provider, whose users went with it, sum to zero and drop out of the join.)
COUNTS_AND_IDP = UC.join(IDP, IDP.c.id == UC.c.identity_provider_id)
# The attributes ``user_counts`` can answer an ``eq`` on, and the column that answers it.
COUNTED_BY = {"status": UC.c.status, "identityProviderName": IDP.c.name_key, "identityProviderType": IDP.c.type}


def _kept_by_counts(filter_: object | None) -> list[ColumnElement[bool]] | None:
    """The conditions on ``user_counts`` (joined to the providers) that keep what a listing's
    filter keeps, when it can: no filter, or ``eq`` on the status, the provider's name or type,
    alone or joined by ``and``, each attribute once. ``None``: the matches must be counted."""
    if filter_ is None:
        return []
    terms = filter_.operands if isinstance(filter_, BoolOp) and filter_.op == "and" else (filter_,)
    kept: dict[str, ColumnElement[bool]] = {}
    for term in terms:
        if not isinstance(term, Comparison) or term.op != "eq" or term.attribute not in COUNTED_BY:
            return None
        if term.attribute in kept or not isinstance(term.value, str):
            return None
        value = term.value.lower() if USER_LISTING.attributes[term.attribute].case_insensitive else term.value
        kept[term.attribute] = COUNTED_BY[term.attribute] == value
    return list(kept.values())
