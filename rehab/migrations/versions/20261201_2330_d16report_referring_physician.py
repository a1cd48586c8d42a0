"""the patient's referring physician

Revision ID: d16report_2330
Revises: i21_0210
Create Date: 2026-12-01

The physician who referred the patient (name, practice, address, fax), so the progress report is a letter
addressed to them. Empty for every existing patient; no row changes otherwise.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd16report_2330'
down_revision = 'i21_0210'
branch_labels = None
depends_on = None

_COLUMNS = (('referring_physician', 150), ('referring_practice', 200), ('referring_address', 300),
            ('referring_fax', 40))


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        for name, length in _COLUMNS:
            batch_op.add_column(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        for name, _length in reversed(_COLUMNS):
            batch_op.drop_column(name)
