"""indexes of the sessions that stopped the walking

Revision ID: d16adhere_0005
Revises: d16idle_kept
Create Date: 2026-12-02

Partial indexes on the visits and home sessions that reported a red flag or a fall, so adherence finds the
safety stops that began before the weeks it shows without reading every session of every patient. No row
changes. Each dialect states the condition as SQLAlchemy writes it in queries (SQLite compares booleans with
1), which is what lets the planner use a partial index.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'd16adhere_0005'
down_revision = 'd16idle_kept'
branch_labels = None
depends_on = None

_FLAGS = ('flag_calf', 'flag_chest', 'flag_infection', 'flag_sudden_pain', 'flag_locking')


def _where(last: str, *, sqlite: bool) -> sa.TextClause:
    return sa.text(" OR ".join([f"{flag} = 1" if sqlite else flag for flag in _FLAGS] + [last]))


_INDEXES = (('visit', 'ix_visit_stop', ['patient_id', 'occurred_at'], 'falls > 0', 'falls > 0'),
            ('home_log', 'ix_home_log_stop', ['patient_id', 'session_date'], 'fell = 1', 'fell'))


def upgrade() -> None:
    for table, name, columns, sqlite_last, postgresql_last in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False, sqlite_where=_where(sqlite_last, sqlite=True),
                                  postgresql_where=_where(postgresql_last, sqlite=False))


def downgrade() -> None:
    for table, name, _, _, _ in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
