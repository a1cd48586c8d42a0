"""the audit chain's head read with its lock, in one round trip (PostgreSQL)

Revision ID: d20audit_0900
Revises: d20dash_0800
Create Date: 2026-12-06

Every audited request appends to the chain (rehab/services/audit.py): on PostgreSQL it took the chain's
advisory lock, then read the last event's hash, then inserted, three round trips. The lock and the read
cannot be one plain statement: under READ COMMITTED a statement's snapshot is taken when it starts, before
its lock is granted, so it would miss an event committed by the append it waited for and fork the chain. A
VOLATILE PL/pgSQL function takes a new snapshot for each statement inside it, so its read, after the lock,
sees that event. SQLite is untouched: its append already reads the head under the write lock.
"""
from __future__ import annotations

from alembic import op


revision = 'd20audit_0900'
down_revision = 'd20dash_0800'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION rehab_audit_chain_head(lock_key bigint) RETURNS text
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1);
        END
        $$
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS rehab_audit_chain_head(bigint)")
