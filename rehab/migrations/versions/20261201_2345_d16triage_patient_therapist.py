"""patient's assigned therapist

Revision ID: d16triage_0300
Revises: d16report_2330
Create Date: 2026-12-01

Each patient gets the therapist who looks after them (``patient.therapist_id``), for "My patients" on the
dashboard. Patients already in the database get the therapist who recorded their latest visit (who is
treating them now), else whoever last edited their record (who added or looked after them), provided that
account is still active and works in the patient's clinic; otherwise none ("Unassigned"). Unassigned patients
are shown in every therapist's "My patients" until someone takes them, so no patient drops out of sight.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'd16triage_0300'
down_revision = 'd16report_2330'
branch_labels = None
depends_on = None

# The account, if it is active and a member of the patient's clinic (membership is per clinic).
_ACTIVE_MEMBER = ("EXISTS (SELECT 1 FROM membership JOIN user_account ON user_account.id = membership.user_id"
                  " WHERE membership.user_id = {who} AND membership.clinic_id = patient.clinic_id"
                  " AND user_account.is_active)")
_LATEST_VISITOR = ("(SELECT visit.created_by_id FROM visit WHERE visit.patient_id = patient.id"
                   " AND visit.deleted_at IS NULL AND visit.created_by_id IS NOT NULL"
                   " ORDER BY visit.occurred_at DESC, visit.id DESC LIMIT 1)")


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('therapist_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_patient_therapist_id_user_account', 'user_account', ['therapist_id'],
                                    ['id'])
        batch_op.create_index('ix_patient_clinic_therapist', ['clinic_id', 'therapist_id', 'last_session_at'],
                              unique=False)
    connection = op.get_bind()
    connection.execute(sa.text(
        f"UPDATE patient SET therapist_id = {_LATEST_VISITOR} WHERE "
        + _ACTIVE_MEMBER.format(who=_LATEST_VISITOR)))
    connection.execute(sa.text(
        "UPDATE patient SET therapist_id = updated_by_id WHERE therapist_id IS NULL AND updated_by_id IS NOT NULL"
        " AND " + _ACTIVE_MEMBER.format(who="patient.updated_by_id")))


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_clinic_therapist')
        batch_op.drop_constraint('fk_patient_therapist_id_user_account', type_='foreignkey')
        batch_op.drop_column('therapist_id')
