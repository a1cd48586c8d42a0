"""batch print jobs and their sheets

Revision ID: d20queue_0315
Revises: p17portal_calendar
Create Date: 2026-12-02

A batch print ("Print today's sheets", a caseload, a clinic) is a job a render worker prints off the page
workers: the job with its progress and the worker printing it, and one item per sheet with its print record
once printed (so a worker that died mid-batch is resumed without printing a sheet twice). New tables only.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd20queue_0315'
down_revision = 'p17portal_calendar'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('print_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done_count', sa.Integer(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('link_base', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('result_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.create_index('ix_print_job_status', ['status'], unique=False)
        batch_op.create_index('ix_print_job_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('print_job_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('print_id', sa.Integer(), nullable=True),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['print_job.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['print_id'], ['handout_print.id'], ),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'position', name='uq_print_job_item_position')
    )
    with op.batch_alter_table('print_job_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_job_item_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('print_job_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_job_item_job_id'))
    op.drop_table('print_job_item')
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index('ix_print_job_user_created')
        batch_op.drop_index('ix_print_job_status')
    op.drop_table('print_job')
