"""throttle notice

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

When a sign-in or patient-link throttle last wrote its audit event for one address or account, so a
throttled client adds one audit event per window instead of one per request.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'throttle_notice',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('noted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('throttle_notice')
