"""questionnaires sent to patients; a protocol's discharge reason

Revision ID: out_0100
Revises: 0011
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = 'out_0100'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'questionnaire_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('protocol_id', sa.Integer(), nullable=True),
        sa.Column('instrument', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('occasion', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=False),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('answers', sa.Text(), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('completed_at', UTCDateTime(), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id']),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id']),
        sa.ForeignKeyConstraint(['sent_by_id'], ['user_account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_questionnaire_response_patient', 'questionnaire_response',
                    ['patient_id', 'instrument', 'sent_at'])
    op.create_index('ix_questionnaire_response_clinic_done', 'questionnaire_response', ['clinic_id', 'completed_at'])
    # A plain ADD COLUMN (no table copy): both SQLite and PostgreSQL add a column with a default in place.
    op.add_column('protocol', sa.Column('discharge_reason', sqlmodel.sql.sqltypes.AutoString(length=20),
                                        nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('protocol') as batch:
        batch.drop_column('discharge_reason')
    op.drop_index('ix_questionnaire_response_clinic_done', table_name='questionnaire_response')
    op.drop_index('ix_questionnaire_response_patient', table_name='questionnaire_response')
    op.drop_table('questionnaire_response')
