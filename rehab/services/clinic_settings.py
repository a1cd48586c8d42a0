"""A clinic's settings (name, address, phones, paper, speed unit, time zone), saved by its admins.

The settings form carries the version it was opened at: a save from a page opened before another admin's
save is refused (StaleEdit) and changes nothing, like the patient and visit forms (services/edits.py).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from rehab.models import Clinic
from rehab.services.edits import StaleEdit, apply_changes, claim_version


def update_settings(session: Session, *, clinic: Clinic, values: dict[str, Any],
                    seen_version: int) -> dict[str, list[Any]]:
    """Apply the settings form. Returns {field: [old, new]} (empty when nothing changed).

    Raises StaleEdit when someone saved the settings after this form was opened."""
    if clinic.version != seen_version:
        raise StaleEdit
    changes = apply_changes(clinic, values)
    if changes:
        claim_version(session, clinic, column="version", seen=seen_version)
        session.add(clinic)
        session.flush()
    return changes
