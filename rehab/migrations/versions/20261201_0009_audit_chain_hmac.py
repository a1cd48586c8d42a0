"""the audit chain is keyed (HMAC-SHA-256)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Until now each audit event's hash was a plain SHA-256, which anyone able to write the table could recompute
after deleting or changing a row. From here on it is an HMAC under the install's chain key (AUDIT_KEY, or a
key derived from SECRET_KEY), kept outside the database. This revision re-hashes the existing chain under
that key so that `audit verify` keeps passing, and only where the old chain verified: a row that was already
altered, or that followed a removed row, keeps its old value and is still named by `audit verify`.
No table changes; downgrading re-hashes back to plain SHA-256 the same way.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from flask import current_app
from sqlmodel.sql.sqltypes import UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
_EVENT = sa.table('audit_event', sa.column('id', sa.Integer), sa.column('at', UTCDateTime()),
                  sa.column('user_id', sa.Integer), sa.column('clinic_id', sa.Integer),
                  sa.column('patient_id', sa.Integer), sa.column('action', sa.String),
                  sa.column('object_type', sa.String), sa.column('object_id', sa.Integer),
                  sa.column('outcome', sa.String), sa.column('prev_hash', sa.String), sa.column('hash', sa.String))


# A copy of the payload in rehab/services/audit.py as it is at this revision (a migration must give the same
# result whatever the app's code becomes later).
def _payload(prev_hash: str, row: sa.Row) -> bytes:
    fields = json.dumps([row.at.isoformat(timespec="microseconds"), row.user_id, row.clinic_id, row.patient_id,
                         row.action, row.object_type, row.object_id, row.outcome], separators=(",", ":"))
    return f"{prev_hash}|{fields}".encode()


def _plain(prev_hash: str, row: sa.Row) -> str:
    return hashlib.sha256(_payload(prev_hash, row)).hexdigest()


def _keyed(prev_hash: str, row: sa.Row) -> str:
    # The key the app will verify with: the running install's AUDIT_KEY or SECRET_KEY (rehab.security).
    key = current_app.extensions["rehab.audit_key"]
    return hmac.new(key, _payload(prev_hash, row), hashlib.sha256).hexdigest()


def _rehash(old: Callable[[str, sa.Row], str], new: Callable[[str, sa.Row], str]) -> None:
    connection = op.get_bind()
    expected_old_prev, new_prev, last_id = GENESIS, GENESIS, 0
    while True:  # in batches: an install's trail may hold millions of rows
        rows = connection.execute(sa.select(_EVENT).where(_EVENT.c.id > last_id).order_by(_EVENT.c.id)
                                  .limit(5000)).all()
        if not rows:
            return
        changes = []
        for row in rows:
            linked = row.prev_hash == expected_old_prev
            prev_value = new_prev if linked else row.prev_hash
            hash_value = new(prev_value, row) if linked and old(row.prev_hash, row) == row.hash else row.hash
            expected_old_prev, new_prev = row.hash, hash_value
            changes.append({'event_id': row.id, 'new_prev': prev_value, 'new_hash': hash_value})
        connection.execute(_EVENT.update().where(_EVENT.c.id == sa.bindparam('event_id'))
                           .values(prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash')), changes)
        last_id = rows[-1].id


def upgrade() -> None:
    _rehash(_plain, _keyed)


def downgrade() -> None:
    _rehash(_keyed, _plain)
