"""users page indexes

The Users page on a tenant of a million users: every per-tenant sort index ends in the id (the
listing's tie-break), so pages, counts and deep pages' ids are read from the index alone; a new
(tenant_id, email_key, id) for the default sort; and, on PostgreSQL, pattern-operator indexes for
the prefix search (LIKE 'x%' cannot use a plain btree under a collation other than C).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WIDENED = {  # index: (old columns, new columns)
    "ix_users_tenant_status": (["tenant_id", "status"], ["tenant_id", "status", "id"]),
    "ix_users_tenant_created": (["tenant_id", "created_at"], ["tenant_id", "created_at", "id"]),
    "ix_users_tenant_family": (["tenant_id", "family_name"], ["tenant_id", "family_name", "id"]),
    "ix_users_tenant_given": (["tenant_id", "given_name"], ["tenant_id", "given_name", "id"]),
}
PREFIX = {
    "ix_users_email_prefix": "email_key",
    "ix_users_username_prefix": "username_key",
    "ix_users_given_prefix": "given_name",
    "ix_users_family_prefix": "family_name",
}


def upgrade() -> None:
    op.create_index("ix_users_tenant_email", "users", ["tenant_id", "email_key", "id"])
    for name, (_, columns) in WIDENED.items():
        op.drop_index(name, table_name="users")
        op.create_index(name, "users", columns)
    if op.get_bind().dialect.name == "postgresql":
        for name, column in PREFIX.items():
            op.create_index(name, "users", [column], postgresql_ops={column: "varchar_pattern_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PREFIX:
            op.drop_index(name, table_name="users")
    for name, (columns, _) in WIDENED.items():
        op.drop_index(name, table_name="users")
        op.create_index(name, "users", columns)
    op.drop_index("ix_users_tenant_email", table_name="users")
