"""admin is a role per clinic membership

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Admin was a flag on the account, so an admin of one clinic could reset the password of a therapist who also
works in another. It becomes a flag on each membership: an existing admin becomes admin of every clinic they
are a member of (what they could do before), and the account's flag goes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text(
        "UPDATE membership SET is_admin = TRUE WHERE user_id IN "
        "(SELECT id FROM user_account WHERE user_account.is_admin = TRUE)"))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('is_admin')


def downgrade() -> None:
    # Going back, an admin of any clinic is an admin everywhere again: the old schema cannot say less.
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text(
        "UPDATE user_account SET is_admin = TRUE WHERE id IN "
        "(SELECT user_id FROM membership WHERE membership.is_admin = TRUE)"))
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('is_admin')
