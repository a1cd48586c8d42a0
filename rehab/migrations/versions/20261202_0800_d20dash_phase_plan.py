"""each saved version's phases' sessions a week, stored

Revision ID: d20dash_0800
Revises: d20queue_0315
Create Date: 2026-12-02

The dashboard's "under half this week" counts a whole clinic's week in SQL from each version's phases'
sessions a week (clinic and home) instead of parsing every active protocol's content on each load, with
indexes it reads from alone (the version in force; a clinic's home sessions by date; its patients and whom
they are assigned to). The new table is back-filled from every version's stored content by the rule the app
uses (adherence_records.phase_plans, as of this revision: the largest "sessions per week" of a phase's clinic
exercises, and of its home ones).
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd20dash_0800'
down_revision = 'd20queue_0315'
branch_labels = None
depends_on = None


def _plan_of_phase(phase: dict[str, Any]) -> tuple[int, int]:
    clinic = home = 0
    for rx in phase.get("prescriptions", []):
        sessions = int(rx.get("sessions_per_week") or 0)
        if rx.get("setting") == "clinic":
            clinic = max(clinic, sessions)
        else:
            home = max(home, sessions)
    return clinic, home


def upgrade() -> None:
    plans = op.create_table('phase_plan',
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('phase_index', sa.Integer(), nullable=False),
    sa.Column('clinic_per_week', sa.Integer(), nullable=False),
    sa.Column('home_per_week', sa.Integer(), nullable=False),
    sa.Column('saved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.PrimaryKeyConstraint('protocol_id', 'version_number', 'phase_index'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('protocol_version', schema=None) as batch_op:
        batch_op.create_index('ix_protocol_version_protocol_at', ['protocol_id', 'created_at', 'number'],
                              unique=False)
    with op.batch_alter_table('home_log', schema=None) as batch_op:
        batch_op.create_index('ix_home_log_clinic_date', ['clinic_id', 'session_date', 'patient_id'], unique=False)
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_clinic_assigned', ['clinic_id', 'archived_at', 'therapist_id'],
                              unique=False)
    connection = op.get_bind()
    versions = connection.execute(sa.select(sa.column('protocol_id'), sa.column('number'),
                                            sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime()),
                                            sa.column('content')).select_from(sa.table('protocol_version')))
    batch: list[dict[str, Any]] = []
    for protocol_id, number, saved_at, content in versions.all():
        for index, phase in enumerate(json.loads(content).get("phases") or []):
            clinic, home = _plan_of_phase(phase)
            batch.append({"protocol_id": protocol_id, "version_number": number, "phase_index": index,
                          "clinic_per_week": clinic, "home_per_week": home, "saved_at": saved_at})
    for start in range(0, len(batch), 10_000):
        op.bulk_insert(plans, batch[start:start + 10_000])


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_clinic_assigned')
    with op.batch_alter_table('home_log', schema=None) as batch_op:
        batch_op.drop_index('ix_home_log_clinic_date')
    with op.batch_alter_table('protocol_version', schema=None) as batch_op:
        batch_op.drop_index('ix_protocol_version_protocol_at')
    op.drop_table('phase_plan')
