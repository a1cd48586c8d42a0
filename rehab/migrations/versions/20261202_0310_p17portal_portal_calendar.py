"""portal calendar

Revision ID: p17portal_calendar
Revises: p17link_0300
Create Date: 2026-12-02

The patient's reminder calendar (models/reminders.py): one row per personal link that has one, with the
calendar token's hash and the chosen time. A new table only: no existing row changes.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'p17portal_calendar'
down_revision = 'p17link_0300'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_calendar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reminder_time', sa.Time(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['portal_link.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('portal_calendar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_calendar_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_calendar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_calendar_patient_id'))

    op.drop_table('portal_calendar')
