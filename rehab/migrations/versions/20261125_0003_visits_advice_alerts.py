"""visits advice alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('phase_index', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('pain_before', sa.Integer(), nullable=False),
    sa.Column('pain_worst', sa.Integer(), nullable=False),
    sa.Column('pain_after', sa.Integer(), nullable=False),
    sa.Column('pain_next_morning', sa.Integer(), nullable=True),
    sa.Column('soreness', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('effusion', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('exercise', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('incline_pct', sa.Float(), nullable=False),
    sa.Column('support', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('stumbles', sa.Integer(), nullable=False),
    sa.Column('falls', sa.Integer(), nullable=False),
    sa.Column('flag_calf', sa.Boolean(), nullable=False),
    sa.Column('flag_chest', sa.Boolean(), nullable=False),
    sa.Column('flag_infection', sa.Boolean(), nullable=False),
    sa.Column('flag_locking', sa.Boolean(), nullable=False),
    sa.Column('backward_walk_3m_s', sa.Float(), nullable=True),
    sa.Column('tug_s', sa.Float(), nullable=True),
    sa.Column('gait_speed_ms', sa.Float(), nullable=True),
    sa.Column('six_minute_walk_m', sa.Float(), nullable=True),
    sa.Column('knee_flexion_deg', sa.Float(), nullable=True),
    sa.Column('knee_extension_deg', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('delete_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_clinic_when', ['clinic_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_visit_patient_when', ['patient_id', 'occurred_at'], unique=False)

    op.create_table('advice_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('phase_index', sa.Integer(), nullable=False),
    sa.Column('advice', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('change', sa.Text(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('advice_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advice_decision_patient_id'), ['patient_id'], unique=False)

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index('ix_alert_clinic_open', ['clinic_id', 'acknowledged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_patient_id'), ['patient_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_patient_id'))
        batch_op.drop_index('ix_alert_clinic_open')

    op.drop_table('alert')
    with op.batch_alter_table('advice_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advice_decision_patient_id'))

    op.drop_table('advice_decision')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_patient_when')
        batch_op.drop_index('ix_visit_clinic_when')

    op.drop_table('visit')
