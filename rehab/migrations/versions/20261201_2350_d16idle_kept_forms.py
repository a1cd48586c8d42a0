"""kept forms

Revision ID: d16idle_kept
Revises: d16triage_0300
Create Date: 2026-12-01

A table for forms sent after the idle sign-out, kept for their author for a short time (services/kept_forms.py).
A new table only: no existing row changes.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd16idle_kept'
down_revision = 'd16triage_0300'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kept_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('page', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('kept_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kept_form', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kept_form_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kept_form_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kept_form', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kept_form_user_id'))
        batch_op.drop_index(batch_op.f('ix_kept_form_expires_at'))

    op.drop_table('kept_form')
