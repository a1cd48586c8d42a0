"""each clinic's data generation

Revision ID: d20gen_1400
Revises: d20audit_0900
Create Date: 2026-12-06

A counter per clinic that every transaction writing the clinic's records moves, in the same transaction
(services/clinic_changes.py). The dashboard keeps its "under half this week" per process under the clinic's
generation and the day, and works it out again once anything changed. No row is generation 0, so existing
clinics need none: a process keeps nothing across a migration (the app is restarted to run it).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'd20gen_1400'
down_revision = 'd20audit_0900'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinic_generation",
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("generation", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clinic_generation")
