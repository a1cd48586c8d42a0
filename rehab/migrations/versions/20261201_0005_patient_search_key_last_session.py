"""patient search key and last session

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Two columns kept by the app so the busiest pages read an index instead of scanning a clinic's rows:
``search_key`` (folded "last first chart", what the caseload search matches and sorts by) and
``last_session_at`` (the latest visit or home session, for the dashboard). Both are filled here for the
patients already in the database.
"""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _search_key(first_name: str, last_name: str, chart_number: str | None) -> str:
    # A copy of rehab.models.patients.patient_search_key as it was at this revision: a migration must give
    # the same result whatever the app's code becomes later.
    def fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        return "".join(char for char in decomposed if not unicodedata.combining(char))

    return "\x1f".join(fold(part) for part in (last_name, first_name, chart_number or ""))


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_key', sqlmodel.sql.sqltypes.AutoString(length=260), nullable=True))
        batch_op.add_column(sa.Column('last_session_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    connection = op.get_bind()
    patient = sa.table('patient', sa.column('id', sa.Integer), sa.column('first_name', sa.String),
                       sa.column('last_name', sa.String), sa.column('chart_number', sa.String),
                       sa.column('search_key', sa.String))
    rows = connection.execute(sa.select(patient.c.id, patient.c.first_name, patient.c.last_name,
                                        patient.c.chart_number)).all()
    if rows:
        connection.execute(
            patient.update().where(patient.c.id == sa.bindparam('pid')).values(search_key=sa.bindparam('key')),
            [{'pid': row.id, 'key': _search_key(row.first_name, row.last_name, row.chart_number)} for row in rows])
    # The latest session: the newest visit not deleted, or home log (counted when the patient logged it).
    connection.execute(sa.text(
        "UPDATE patient SET last_session_at = (SELECT max(at) FROM ("
        " SELECT max(occurred_at) AS at FROM visit WHERE visit.patient_id = patient.id AND deleted_at IS NULL"
        " UNION ALL SELECT max(created_at) FROM home_log WHERE home_log.patient_id = patient.id) AS latest)"))

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.alter_column('search_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=260),
                              nullable=False)
        batch_op.create_index('ix_patient_clinic_search', ['clinic_id', 'archived_at', 'search_key'], unique=False)
        batch_op.create_index('ix_patient_clinic_last_session', ['clinic_id', 'last_session_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_clinic_last_session')
        batch_op.drop_index('ix_patient_clinic_search')
        batch_op.drop_column('last_session_at')
        batch_op.drop_column('search_key')
