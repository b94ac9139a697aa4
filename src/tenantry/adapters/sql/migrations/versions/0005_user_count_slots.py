"""user count slots

Spread each PostgreSQL user count over 64 rows instead of 8. A transaction that adds a user locks
the counter row of its slot until it commits; with 16 concurrent Create Users in one tenant and 8
slots, a tenth of the PostgreSQL backends' samples were waits for another transaction's slot
(``pg_stat_activity``: ``Lock:transactionid`` on the users insert). Existing rows keep counting
(a total is the sum over all of a counter's slots); the listing sums a few more rows. SQLite has
one writer at a time and keeps its one slot.

The three counting functions of 0004 are rewritten from their own definitions
(``pg_get_functiondef``) with the new modulus.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTIONS = ("tenantry_count_inserted", "tenantry_count_deleted", "tenantry_count_updated")


def _modulus(old: int, new: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name in FUNCTIONS:
        definition = bind.execute(sa.text("SELECT pg_get_functiondef(CAST(:name AS regproc))"), {"name": name})
        text = definition.scalar_one()
        slot = f"txid_current() % {old},"
        if text.count(slot) != 1:
            raise RuntimeError(f"{name}: expected one {slot!r} in its definition")
        op.execute(text.replace(slot, f"txid_current() % {new},"))


def upgrade() -> None:
    _modulus(8, 64)


def downgrade() -> None:
    _modulus(64, 8)
