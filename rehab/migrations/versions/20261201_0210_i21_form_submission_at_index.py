"""form submission time index

Revision ID: i21_0210
Revises: i21_0200
Create Date: 2026-12-01

An index on form_submission.at, so that pruning the forms older than the retention (services/submissions.py)
deletes them without reading the whole table. No row changes.
"""
from __future__ import annotations

from alembic import op


revision = 'i21_0210'
down_revision = 'i21_0200'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_submission_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_submission_at'))
