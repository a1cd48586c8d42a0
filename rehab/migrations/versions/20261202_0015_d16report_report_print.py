"""printed progress reports

Revision ID: d16report_2350
Revises: d16adhere_0005
Create Date: 2026-12-01

Each printed progress report for the referring physician, with the assessment and plan typed at print time
and everything the letter showed (its snapshot), so a reprint is the letter as printed. A new table only.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd16report_2350'
down_revision = 'd16adhere_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_print',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('options', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('printed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('printed_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['printed_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_print', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_print_digest'), ['digest'], unique=False)
        batch_op.create_index('ix_report_print_patient_at', ['patient_id', 'printed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_print', schema=None) as batch_op:
        batch_op.drop_index('ix_report_print_patient_at')
        batch_op.drop_index(batch_op.f('ix_report_print_digest'))
    op.drop_table('report_print')
