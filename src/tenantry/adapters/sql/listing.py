"""Which attributes each list endpoint filters and sorts on, and the columns behind them.

The attribute names and operators are part of the API contract (``docs/api.md``); the column a
name maps to is this adapter's business. Case-insensitive attributes map to ``*_key`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Subquery,
    Table,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql.util import find_tables

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.query import compile_query, compile_sort
from tenantry.core.ports import ListSpec
from tenantry.protocols.query import AttributeSpec, BoolOp, Expr, SortKey

EQUALITY = frozenset({"eq", "ne", "in", "nin"})
TEXT = frozenset({"eq", "ne", "sw", "in", "nin", "lt", "le", "gt", "ge"})
# From this many skipped rows on, a joined listing finds the page's ids first (from an index alone,
# when one holds the conditions, the sort keys and the id), then reads just those rows.
DEFERRED_OFFSET = 100


MATCHES_TOTAL = "matches_total"


@dataclass(frozen=True)
class PageStatements:
    """A joined listing's statements. ``counted``: the page's rows carry the total in their
    ``MATCHES_TOTAL`` column, so ``count`` is needed only when the page is empty."""

    count: Select[Any]
    page: Select[Any]
    counted: bool = False


@dataclass(frozen=True)
class Listing:
    attributes: Mapping[str, AttributeSpec]
    columns: Mapping[str, ColumnElement[Any]]
    tiebreak: ColumnElement[Any]

    def page(self, query: Select[Any], spec: ListSpec) -> tuple[Select[Any], Select[Any]]:
        """(count statement, page statement) for ``query`` under ``spec``."""
        if spec.filter is not None:
            query = query.where(compile_query(cast(Expr, spec.filter), self.columns, self.attributes))
        count = select(func.count()).select_from(query.order_by(None).subquery())
        order = compile_sort(cast(Sequence[SortKey], spec.sort), self.columns)
        paged = query.order_by(*order, self.tiebreak).offset(spec.start_index - 1).limit(spec.count)
        return count, paged

    def joined_page(
        self,
        rows: Select[Any],
        table: Table,
        joined: FromClause,
        conditions: Sequence[ColumnElement[bool]],
        spec: ListSpec,
    ) -> PageStatements:
        """The count and page statements for a listing whose rows join ``table`` to others.

        ``rows`` selects the full rows from ``joined`` (``table`` and its joins) without a WHERE;
        ``conditions`` restrict ``table`` (they may hold subqueries of their own). The count, and
        the ids of a page far from the start, are taken from ``table`` alone unless the filter or
        the sort names a joined column: the join neither adds nor removes rows (it follows a
        required foreign key), and without it an index on ``table`` can answer by itself. On a
        million rows that is the difference between reading an index and reading the table.
        A search's page carries its total (``MATCHES_TOTAL``): its matches are all read anyway."""
        where = list(conditions)
        named = []  # what the client named: the filter and the sort keys
        if spec.filter is not None:
            named.append(compile_query(cast(Expr, spec.filter), self.columns, self.attributes))
            where += named
        order = [*compile_sort(cast(Sequence[SortKey], spec.sort), self.columns), self.tiebreak]
        named += order
        own = all(found is table for clause in named for found in find_tables(clause, check_columns=True))
        source = table if own else joined
        count = select(func.count()).select_from(source).where(*where)
        offset = spec.start_index - 1
        if own and spec.filter is not None and _searches(cast(Expr, spec.filter)):
            ids = self._matches_first(table, where, cast(Sequence[SortKey], spec.sort), offset, spec.count)
            page = rows.add_columns(ids.c[MATCHES_TOTAL]).join(ids, ids.c.page_id == self.tiebreak)
            return PageStatements(count, page.order_by(*order), counted=True)
        if offset < DEFERRED_OFFSET:
            return PageStatements(count, rows.where(*where).order_by(*order).offset(offset).limit(spec.count))
        else:
            ids = (
                select(self.tiebreak.label("page_id"))
                .select_from(source)
                .where(*where)
                .order_by(*order)
                .offset(offset)
                .limit(spec.count)
                .subquery("page_ids")
            )
        return PageStatements(count, rows.join(ids, ids.c.page_id == self.tiebreak).order_by(*order))

    def _matches_first(
        self, table: Table, where: Sequence[ColumnElement[bool]], keys: Sequence[SortKey], offset: int, limit: int
    ) -> Subquery:
        """The page's ids for a search: all matches first (through the search indexes), then sorted.

        A prefix search's matches sit together in the order of the column searched, which the
        planner cannot know: walking the sort index "until 25 match" then reads most of the
        tenant when the page is sorted by that column (the Users page's default: email). The
        OFFSET 0 keeps the matches' subquery from being merged into the sorting query. Each id
        comes with the number of matches (``MATCHES_TOTAL``), counted on the same pass."""
        wanted = [self.columns[key.attribute] for key in keys]
        columns = {c.name: c for c in (*wanted, self.tiebreak) if isinstance(c, Column) and c.table is table}
        everyone = func.count().over().label(MATCHES_TOTAL)
        matches = select(*columns.values(), everyone).select_from(table).where(*where).offset(0).subquery("matches")
        mapped = {
            name: matches.c[c.name] for name, c in self.columns.items() if c is columns.get(getattr(c, "name", ""))
        }
        tiebreak = matches.c[cast(Column[Any], self.tiebreak).name]
        return (
            select(tiebreak.label("page_id"), matches.c[MATCHES_TOTAL])
            .order_by(*compile_sort(keys, mapped), tiebreak)
            .offset(offset)
            .limit(limit)
            .subquery("page_ids")
        )


def count_total(connection: Connection, count: Select[Any], exact_up_to: int | None) -> tuple[int, bool]:
    """(total, estimated) for a ``joined_page`` count statement.

    With ``exact_up_to``, at most that many matches (plus one) are counted; when there are more,
    PostgreSQL's planner estimate of the matches is given instead (never below the bound), as
    ``estimated``. SQLite, without such estimates, always counts."""
    if exact_up_to is None or connection.dialect.name != "postgresql":
        return int(connection.execute(count).scalar_one()), False
    matches = count.with_only_columns(literal_column("1")).limit(exact_up_to + 1).subquery("bounded")
    bounded = int(connection.execute(select(func.count()).select_from(matches)).scalar_one())
    if bounded <= exact_up_to:
        return bounded, False
    compiled = count.with_only_columns(literal_column("1")).compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return max(estimate, exact_up_to + 1), True


def _searches(expr: Expr) -> bool:
    """Whether a filter holds a prefix search (``sw``)."""
    if isinstance(expr, BoolOp):
        return any(_searches(operand) for operand in expr.operands)
    return expr.op == "sw"


def _spec(name: str, type_: str = "string", ops: frozenset[str] = TEXT, ci: bool = False) -> AttributeSpec:
    return AttributeSpec(name=name, type=type_, operators=ops, case_insensitive=ci)  # type: ignore[arg-type]


_idp = t.identity_providers
USER_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("tenantId", ops=EQUALITY),
            _spec("email", ci=True),
            _spec("username", ci=True),
            _spec("emailVerified", "boolean", EQUALITY),
            _spec("externalId"),
            _spec("fullName"),
            _spec("givenName"),
            _spec("familyName"),
            _spec("status", ops=EQUALITY),
            _spec("identityProviderName", ops=EQUALITY, ci=True),
            _spec("identityProviderId", ops=EQUALITY),
            _spec("identityProviderType", ops=EQUALITY),
            _spec("creationTime", "datetime", TEXT - {"sw"}),
            _spec("lastModifiedTime", "datetime", TEXT - {"sw"}),
        )
    },
    columns={
        "id": t.users.c.id,
        "tenantId": t.users.c.tenant_id,
        "email": t.users.c.email_key,
        "username": t.users.c.username_key,
        "emailVerified": t.users.c.email_verified,
        "externalId": t.users.c.external_id,
        "fullName": t.users.c.full_name,
        "givenName": t.users.c.given_name,
        "familyName": t.users.c.family_name,
        "status": t.users.c.status,
        "identityProviderName": _idp.c.name_key,
        "identityProviderId": t.users.c.identity_provider_id,
        "identityProviderType": _idp.c.type,
        "creationTime": t.users.c.created_at,
        "lastModifiedTime": t.users.c.updated_at,
    },
    tiebreak=t.users.c.id,
)

TENANT_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("type", ops=EQUALITY),
            _spec("domainName", ci=True),
            _spec("displayName"),
            _spec("status", ops=EQUALITY),
            _spec("signupEnabled", "boolean", EQUALITY),
            _spec("creationTime", "datetime", TEXT - {"sw"}),
        )
    },
    columns={
        "id": t.tenants.c.id,
        "type": t.tenants.c.type,
        "domainName": t.tenants.c.domain_key,
        "displayName": t.tenants.c.display_name,
        "status": t.tenants.c.status,
        "signupEnabled": t.tenants.c.signup_enabled,
        "creationTime": t.tenants.c.created_at,
    },
    tiebreak=t.tenants.c.id,
)

ROLE_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("name", ci=True),
            _spec("displayName"),
            _spec("ownerType", ops=EQUALITY),
            _spec("type", ops=EQUALITY),
        )
    },
    columns={
        "id": t.roles.c.id,
        "name": t.roles.c.name_key,
        "displayName": t.roles.c.display_name,
        "ownerType": t.roles.c.owner_type,
        "type": t.roles.c.type,
    },
    tiebreak=t.roles.c.id,
)

CLIENT_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("name"),
            _spec("type", ops=EQUALITY),
            _spec("tenantId", ops=EQUALITY),
        )
    },
    columns={
        "id": t.clients.c.id,
        "name": t.clients.c.name,
        "type": t.clients.c.type,
        "tenantId": t.clients.c.tenant_id,
    },
    tiebreak=t.clients.c.id,
)

INVITATION_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("status", ops=EQUALITY),
            _spec("email", ci=True),
            _spec("invitationType", ops=EQUALITY),
            _spec("tenantId", ops=EQUALITY),
            _spec("userId", ops=EQUALITY),
            _spec("creationTime", "datetime", TEXT - {"sw"}),
            _spec("expirationTime", "datetime", TEXT - {"sw"}),
        )
    },
    columns={
        "id": t.invitations.c.id,
        "status": t.invitations.c.status,
        "email": t.invitations.c.email_key,
        "invitationType": t.invitations.c.invitation_type,
        "tenantId": t.invitations.c.tenant_id,
        "userId": t.invitations.c.user_id,
        "creationTime": t.invitations.c.created_at,
        "expirationTime": t.invitations.c.expires_at,
    },
    tiebreak=t.invitations.c.id,
)

AUDIT_LISTING = Listing(
    attributes={
        s.name: s
        for s in (
            _spec("id", ops=EQUALITY),
            _spec("action"),
            _spec("tenantId", ops=EQUALITY),
            _spec("actorType", ops=EQUALITY),
            _spec("actorId", ops=EQUALITY),
            _spec("targetType", ops=EQUALITY),
            _spec("targetId", ops=EQUALITY),
            _spec("creationTime", "datetime", TEXT - {"sw"}),
        )
    },
    columns={
        "id": t.audit_events.c.id,
        "action": t.audit_events.c.action,
        "tenantId": t.audit_events.c.tenant_id,
        "actorType": t.audit_events.c.actor_type,
        "actorId": t.audit_events.c.actor_id,
        "targetType": t.audit_events.c.target_type,
        "targetId": t.audit_events.c.target_id,
        "creationTime": t.audit_events.c.created_at,
    },
    tiebreak=t.audit_events.c.id,
)
