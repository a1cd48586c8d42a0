"""handouts portal home logs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('require_birth_date', sa.Boolean(), nullable=False),
    sa.Column('birth_date_failures', sa.Integer(), nullable=False),
    sa.Column('locked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_link_patient_id'), ['patient_id'], unique=False)

    op.create_table('handout_print',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('phase_index', sa.Integer(), nullable=False),
    sa.Column('options', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('printed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('printed_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['printed_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handout_print', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handout_print_digest'), ['digest'], unique=False)
        batch_op.create_index('ix_handout_print_patient_at', ['patient_id', 'printed_at'], unique=False)

    op.create_table('home_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('phase_index', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('pain_worst', sa.Integer(), nullable=False),
    sa.Column('pain_next_morning', sa.Integer(), nullable=True),
    sa.Column('soreness', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('stumbled', sa.Boolean(), nullable=False),
    sa.Column('fell', sa.Boolean(), nullable=False),
    sa.Column('flag_calf', sa.Boolean(), nullable=False),
    sa.Column('flag_chest', sa.Boolean(), nullable=False),
    sa.Column('flag_infection', sa.Boolean(), nullable=False),
    sa.Column('flag_locking', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['portal_link.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('home_log', schema=None) as batch_op:
        batch_op.create_index('ix_home_log_clinic_created', ['clinic_id', 'created_at'], unique=False)
        batch_op.create_index('ix_home_log_patient_date', ['patient_id', 'session_date'], unique=False)

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_log_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_alert_home_log_id_home_log', 'home_log', ['home_log_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_alert_home_log_id_home_log', type_='foreignkey')
        batch_op.drop_column('home_log_id')

    with op.batch_alter_table('home_log', schema=None) as batch_op:
        batch_op.drop_index('ix_home_log_patient_date')
        batch_op.drop_index('ix_home_log_clinic_created')

    op.drop_table('home_log')
    with op.batch_alter_table('handout_print', schema=None) as batch_op:
        batch_op.drop_index('ix_handout_print_patient_at')
        batch_op.drop_index(batch_op.f('ix_handout_print_digest'))

    op.drop_table('handout_print')
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_link_patient_id'))

    op.drop_table('portal_link')
