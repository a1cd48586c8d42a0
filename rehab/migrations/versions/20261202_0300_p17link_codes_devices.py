"""patient links get a short code; remembered phones

Revision ID: p17link_0300
Revises: d16advice_2330
Create Date: 2026-12-02

A link gains the short code a patient types from the sheet: its salt (the code is re-derived from it under the
secret key) and its keyed hash, unique among every link. Links made before have neither and keep working by
their long link and QR code; a new link gives the patient a code. ``portal_device`` holds the phones a patient
chose to remember, each by the hash of its cookie's token.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'p17link_0300'
down_revision = 'd16advice_2330'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_salt', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_portal_link_code_hash', ['code_hash'])
    op.create_table(
        'portal_device',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('forgotten_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
        sa.ForeignKeyConstraint(['link_id'], ['portal_link.id'], ),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('portal_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_device_link_id'), ['link_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_device_link_id'))
    op.drop_table('portal_device')
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.drop_constraint('uq_portal_link_code_hash', type_='unique')
        batch_op.drop_column('code_hash')
        batch_op.drop_column('code_salt')
