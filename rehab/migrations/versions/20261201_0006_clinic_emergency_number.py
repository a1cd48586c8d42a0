"""clinic emergency number

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

The number sheets and patient pages tell patients to call first for chest pain, breathlessness or a
suspected blood clot. Every clinic starts with 911 (what the pages said before); admins change it under
Clinic settings.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emergency_number', sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=False, server_default='911'))


def downgrade() -> None:
    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.drop_column('emergency_number')
