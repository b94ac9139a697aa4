"""user counts

Exact ``totalResults`` without counting: ``user_counts`` holds how many users each tenant has in
each status with each identity provider, kept by triggers on ``users`` in the same transaction as
the change (inserts, deletes — also the cascades from a tenant, provider or application — and
status or provider updates), so the users listing can sum a few rows where it used to count up to
a million index entries.

On PostgreSQL a tenant's count is spread over ``SLOTS`` rows and each transaction adds to the slot
of its transaction id: concurrent Create Users in one tenant rarely wait for each other's counter
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

POSTGRES_FUNCTION = f"""
CREATE FUNCTION tenantry_count_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s integer := txid_current() % {SLOTS};
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO user_counts AS c (application_id, tenant_id, identity_provider_id, status, slot, users)
        VALUES (OLD.application_id, OLD.tenant_id, OLD.identity_provider_id, OLD.status, s, -1)
        ON CONFLICT (tenant_id, identity_provider_id, status, slot) DO UPDATE SET users = c.users - 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO user_counts AS c (application_id, tenant_id, identity_provider_id, status, slot, users)
        VALUES (NEW.application_id, NEW.tenant_id, NEW.identity_provider_id, NEW.status, s, 1)
        ON CONFLICT (tenant_id, identity_provider_id, status, slot) DO UPDATE SET users = c.users + 1;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRUNCATE_FUNCTION = """
CREATE FUNCTION tenantry_count_no_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_counts;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER users_count_rows AFTER INSERT OR DELETE ON users"
    " FOR EACH ROW EXECUTE FUNCTION tenantry_count_users()",
    # TRUNCATE fires no row trigger (an operator's, not Tenantry's).
    "CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users"
    " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_count_no_users()",
    "CREATE TRIGGER users_count_moves AFTER UPDATE OF status, tenant_id, identity_provider_id ON users"
    " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id"
    " OR OLD.identity_provider_id IS DISTINCT FROM NEW.identity_provider_id)"
    " EXECUTE FUNCTION tenantry_count_users()",
]


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
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRUNCATE_FUNCTION)
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
        for trigger in ("users_count_truncate", "users_count_moves", "users_count_rows"):
            op.execute(f"DROP TRIGGER {trigger} ON users")
        op.execute("DROP FUNCTION tenantry_count_no_users()")
        op.execute("DROP FUNCTION tenantry_count_users()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_user_counts_application", table_name="user_counts")
    op.drop_table("user_counts")
