"""user counts

Exact ``totalResults`` without counting: ``user_counts`` holds how many users each tenant has in
each status with each identity provider, kept by triggers on ``users`` in the same transaction as
the change (inserts, deletes — also the cascades from a tenant, provider or application — and
status or provider updates), so the users listing can sum a few rows where it used to count up to
a million index entries.

On PostgreSQL a tenant's count is spread over ``SLOTS`` rows and each transaction adds to the slot
of its transaction id, once per statement: concurrent Create Users in one tenant rarely wait for each other's counter
row, and one transaction never holds two slots of the same counter (no deadlock between two
inserts of its own). SQLite has one writer at a time and one slot. There is no foreign key: a
cascade from a tenant being deleted updates counts of a tenant already gone (the repository
deletes a tenant's counts with the tenant).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SLOTS = 8

# PostgreSQL counts once per statement, from its transition tables: a COPY or a multi-row INSERT
# of a million users in one transaction updates each counter row once, where a row trigger would
# update it a million times (each update a new row version the next one must step over).
_UPSERT = f"""
    INSERT INTO user_counts AS c (application_id, tenant_id, identity_provider_id, status, slot, users)
    SELECT application_id, tenant_id, identity_provider_id, status, txid_current() % {SLOTS}, sum(delta)
    FROM ({{changes}}) AS changes
    GROUP BY application_id, tenant_id, identity_provider_id, status
    ON CONFLICT (tenant_id, identity_provider_id, status, slot) DO UPDATE SET users = c.users + EXCLUDED.users
"""
_KEY = "application_id, tenant_id, identity_provider_id, status"
_MOVED = (
    "(o.status, o.tenant_id, o.identity_provider_id) IS DISTINCT FROM (n.status, n.tenant_id, n.identity_provider_id)"
)
POSTGRES_FUNCTIONS = {
    "tenantry_count_inserted": _UPSERT.format(changes=f"SELECT {_KEY}, 1 AS delta FROM new_rows"),
    "tenantry_count_deleted": _UPSERT.format(changes=f"SELECT {_KEY}, -1 AS delta FROM old_rows"),
    "tenantry_count_updated": _UPSERT.format(
        changes="SELECT o.application_id, o.tenant_id, o.identity_provider_id, o.status, -1 AS delta"
        f" FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {_MOVED}"
        " UNION ALL SELECT n.application_id, n.tenant_id, n.identity_provider_id, n.status, 1"
        f" FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {_MOVED}"
    ),
    # TRUNCATE fires no row trigger and has no transition table (an operator's, not Tenantry's).
    "tenantry_count_no_users": "DELETE FROM user_counts",
}
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER users_count_inserted AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_count_inserted()",
    "CREATE TRIGGER users_count_deleted AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_count_deleted()",
    "CREATE TRIGGER users_count_updated AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_count_updated()",
    "CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users"
    " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_count_no_users()",
]
POSTGRES_TRIGGER_NAMES = ["users_count_inserted", "users_count_deleted", "users_count_updated", "users_count_truncate"]


def _postgres_function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"


def _sqlite_upsert(row: str, delta: str) -> str:
    return (
        "INSERT INTO user_counts (application_id, tenant_id, identity_provider_id, status, slot, users)"
        f" VALUES ({row}.application_id, {row}.tenant_id, {row}.identity_provider_id, {row}.status, 0, {delta})"
        f" ON CONFLICT (tenant_id, identity_provider_id, status, slot) DO UPDATE SET users = users + ({delta});"
    )


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN {_sqlite_upsert('NEW', '1')} END",
    f"CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN {_sqlite_upsert('OLD', '-1')} END",
    "CREATE TRIGGER users_count_update AFTER UPDATE OF status, tenant_id, identity_provider_id ON users"
    " WHEN OLD.status IS NOT NEW.status OR OLD.tenant_id IS NOT NEW.tenant_id"
    " OR OLD.identity_provider_id IS NOT NEW.identity_provider_id"
    f" BEGIN {_sqlite_upsert('OLD', '-1')} {_sqlite_upsert('NEW', '1')} END",
]
SQLITE_TRIGGER_NAMES = ["users_count_insert", "users_count_delete", "users_count_update"]


def upgrade() -> None:
    op.create_table(
        "user_counts",
        sa.Column("application_id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("identity_provider_id", sa.String(26), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("users", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "identity_provider_id", "status", "slot", name="pk_user_counts"),
    )
    op.create_index("ix_user_counts_application", "user_counts", ["application_id", "status"])
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # Writers wait from here to the commit: the backfill below sees every user, and every
        # user written after it goes through the triggers.
        op.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(_postgres_function(name, body))
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(
        "INSERT INTO user_counts (application_id, tenant_id, identity_provider_id, status, slot, users)"
        " SELECT application_id, tenant_id, identity_provider_id, status, 0, count(*) FROM users"
        " GROUP BY application_id, tenant_id, identity_provider_id, status"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in POSTGRES_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {trigger} ON users")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_user_counts_application", table_name="user_counts")
    op.drop_table("user_counts")
