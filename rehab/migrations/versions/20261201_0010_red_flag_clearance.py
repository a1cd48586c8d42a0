"""red flag clearance and the sudden-pain red flag

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

``red_flag_clearance`` keeps what a therapist did about a patient's red flags and falls (called, referred,
cleared to go on) with a note; until one "cleared to go on" is recorded the advice says "stop and refer" and
the portal says "stop". Red flags recorded before this revision are not cleared here: nobody wrote down what
was done about them, so a therapist clears them with a note. ``flag_sudden_pain`` (a sudden sharp rise in
pain) joins the other red flags on visits and home logs, false for the rows already there.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('red_flag_clearance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('covers', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('red_flag_clearance', schema=None) as batch_op:
        batch_op.create_index('ix_red_flag_clearance_patient_at', ['patient_id', 'at'], unique=False)
    for table in ('visit', 'home_log'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('flag_sudden_pain', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('flag_sudden_pain', server_default=None)


def downgrade() -> None:
    for table in ('home_log', 'visit'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('flag_sudden_pain')
    with op.batch_alter_table('red_flag_clearance', schema=None) as batch_op:
        batch_op.drop_index('ix_red_flag_clearance_patient_at')
    op.drop_table('red_flag_clearance')
