"""``DirectStatement`` (``adapters/sql/direct.py``) on SQLite and PostgreSQL: what it writes and
reads is what ``Connection.execute`` writes and reads, and its failures are SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.direct import DirectStatement
from tenantry.bootstrap import Services, bootstrap
from tenantry.core.ids import new_id
from tests.contract.test_repositories import _app
from tests.support import test_settings

A = t.audit_events
INSERT = DirectStatement(insert(A))
BY_ID = select(A).where(A.c.id == bindparam("id"))
DIRECT_BY_ID = DirectStatement(BY_ID)


def _event(app_id: str, **fields: object) -> dict[str, object]:
    return {
        "id": new_id(),
        "application_id": app_id,
        "tenant_id": None,
        "actor_type": "client",
        "actor_id": "c1",
        "action": "user.created",
        "target_type": "user",
        "target_id": "u1",
        "ip": "203.0.113.9",
        "user_agent": "Zoë's agent",
        "details": {"nested": [1, {"b": None}], "flag": True, "text": "ünïcode"},
        "created_at": datetime(2026, 11, 25, 6, 30, 15, 123456, tzinfo=UTC),
        **fields,
    }


def test_inserted_and_read_back_as_sqlalchemy_does(services: Services) -> None:
    app_id = _app(services)
    event = _event(app_id)
    with services.database.transaction(write=True) as connection:
        assert INSERT.execute(connection, event) == []
        connection.commit()
    with services.database.transaction(write=False) as connection:
        through_sqlalchemy = connection.execute(BY_ID, {"id": event["id"]}).one()
        (direct,) = DIRECT_BY_ID.execute(connection, {"id": event["id"]})
        assert DIRECT_BY_ID.execute(connection, {"id": "nobody"}) == []
    assert tuple(direct) == tuple(through_sqlalchemy)
    assert direct._fields == tuple(through_sqlalchemy._fields)
    assert direct.details == event["details"] and direct.user_agent == "Zoë's agent"
    created = direct.created_at if direct.created_at.tzinfo else direct.created_at.replace(tzinfo=UTC)
    assert created == event["created_at"]


STAMPED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Constants of the statement's own, of types with bind processors (JSON; DateTime on SQLite).
RESOLVE = DirectStatement(
    update(A)
    .where((A.c.id == bindparam("id")) & (A.c.action == "user.created"))
    .values(details={"state": "resolved"}, created_at=STAMPED, target_id=bindparam("target"))
)


def test_the_statements_own_constants_are_bound_as_sqlalchemy_binds_them(services: Services) -> None:
    event, other = _event(_app(services)), _event(_app(services), action="user.deleted")
    with services.database.transaction(write=True) as connection:
        INSERT.execute(connection, event)
        INSERT.execute(connection, other)
        assert RESOLVE.count(connection, {"id": event["id"], "target": "u2"}) == 1
        assert RESOLVE.count(connection, {"id": other["id"], "target": "u2"}) == 0  # not 'user.created'
        connection.commit()
    with services.database.transaction(write=False) as connection:
        row = connection.execute(BY_ID, {"id": event["id"]}).one()
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    assert (row.details, created, row.target_id) == ({"state": "resolved"}, STAMPED, "u2")


def test_a_rolled_back_insert_is_gone(services: Services) -> None:
    event = _event(_app(services))
    with services.database.transaction(write=True) as connection:
        INSERT.execute(connection, event)  # no commit: the transaction rolls back
    with services.database.transaction(write=False) as connection:
        assert DIRECT_BY_ID.execute(connection, {"id": event["id"]}) == []


def test_a_constraint_failure_is_sqlalchemys_integrity_error(services: Services) -> None:
    event = _event(_app(services))
    with services.database.transaction(write=True) as connection:
        INSERT.execute(connection, event)
        with pytest.raises(IntegrityError):
            INSERT.execute(connection, event)  # the same primary key


def test_a_missing_value_is_refused_before_the_database(services: Services) -> None:
    event = _event(_app(services))
    refused = pytest.raises(InvalidRequestError, match="A value is required for bind parameter 'id'")
    with services.database.transaction(write=False) as connection, refused:
        DIRECT_BY_ID.execute(connection, {"wrong": event["id"]})


def test_a_lost_connection_is_reported_and_invalidated(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """PostgreSQL only: an embedded database has no connection to lose."""
    services = bootstrap(test_settings(tmp_path, request.getfixturevalue("pg_url")))
    try:
        with services.database.transaction(write=False) as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with services.database.transaction(write=True) as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
            with pytest.raises(DBAPIError) as raised:
                DIRECT_BY_ID.execute(connection, {"id": "x"})
            assert raised.value.connection_invalidated
        with services.database.transaction(write=False) as connection:  # the pool hands out a new one
            assert DIRECT_BY_ID.execute(connection, {"id": "x"}) == []
    finally:
        services.close()
