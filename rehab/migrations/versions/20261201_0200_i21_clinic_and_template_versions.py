"""clinic and template versions

Revision ID: i21_0200
Revises: 0013
Create Date: 2026-12-01

A version on clinic settings and clinic templates, so that saving the settings or renaming a template
from a page opened before someone else's change is refused instead of overwriting it. Every existing row
starts at version 1 (what any page open during the upgrade posts is refused once, then reloaded).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'i21_0200'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('clinic', 'clinic_template'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    for table in ('clinic_template', 'clinic'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
