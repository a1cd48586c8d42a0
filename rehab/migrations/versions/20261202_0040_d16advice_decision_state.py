"""advice decisions keep what they were based on, what they applied and their undo

Revision ID: d16advice_2330
Revises: d16report_2350
Create Date: 2026-12-01

A decision keeps the newest visit and home log its advice was based on (so the card shows it while nothing new
came in), the version and phase move accepting applied, and its undo (when, by whom, the version that put the
dose back). A version that puts a dose back keeps when that dose began; a phase move undone keeps when. Every
new column is empty on existing rows: earlier decisions show in the history and stand on no card (what they
were based on was not kept), and nothing earlier is undone.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'd16advice_2330'
down_revision = 'd16report_2350'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('advice_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('newest_visit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('newest_home_log_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('applied_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('applied_move_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('undone_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('undone_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('undo_version', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_advice_decision_newest_visit_id_visit', 'visit', ['newest_visit_id'], ['id'])
        batch_op.create_foreign_key('fk_advice_decision_newest_home_log_id_home_log', 'home_log',
                                    ['newest_home_log_id'], ['id'])
        batch_op.create_foreign_key('fk_advice_decision_applied_move_id_phase_change', 'phase_change',
                                    ['applied_move_id'], ['id'])
        batch_op.create_foreign_key('fk_advice_decision_undone_by_id_user_account', 'user_account',
                                    ['undone_by_id'], ['id'])
    with op.batch_alter_table('protocol_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dose_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('phase_change', schema=None) as batch_op:
        batch_op.add_column(sa.Column('undone_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('phase_change', schema=None) as batch_op:
        batch_op.drop_column('undone_at')
    with op.batch_alter_table('protocol_version', schema=None) as batch_op:
        batch_op.drop_column('dose_since')
    with op.batch_alter_table('advice_decision', schema=None) as batch_op:
        batch_op.drop_constraint('fk_advice_decision_undone_by_id_user_account', type_='foreignkey')
        batch_op.drop_constraint('fk_advice_decision_applied_move_id_phase_change', type_='foreignkey')
        batch_op.drop_constraint('fk_advice_decision_newest_home_log_id_home_log', type_='foreignkey')
        batch_op.drop_constraint('fk_advice_decision_newest_visit_id_visit', type_='foreignkey')
        for column in ('undo_version', 'undone_by_id', 'undone_at', 'applied_move_id', 'applied_version',
                       'newest_home_log_id', 'newest_visit_id'):
            batch_op.drop_column(column)
