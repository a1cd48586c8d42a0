"""The print records: a sheet's snapshot taken from the database, each print kept with it (so a reprint is
the sheet as printed), the prints a page lists, and the patient's link that a download prints.

Plain arguments throughout (a session, rows, the clinic, who prints): no request, no ``g``."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from rehab.dates import local  # the sheet is dated with the clinic's day, as every page shows it
from rehab.models import Clinic, HandoutPrint, Membership, Patient, PortalLink, Protocol, User, utcnow
from rehab.printing.snapshot import SheetOptions, build_sheet_snapshot, snapshot_digest
from rehab.services import portal_links, protocol_records

Snapshot = dict[str, Any]


def new_snapshot(db: Session, patient: Patient, protocol: Protocol, options: SheetOptions, *,
                 clinic: Clinic, printed_by_name: str | None) -> Snapshot:
    """Everything today's sheet shows: the protocol's latest version at its current phase, the clinic's
    details and the patient's therapist (``sheet_therapist_name``; ``printed_by_name`` None: the patient's
    own download)."""
    version = protocol_records.get_version(db, protocol_id=protocol.id, number=protocol.latest_version)
    assert version is not None  # every version is kept
    return build_sheet_snapshot(
        patient_name=patient.full_name,
        therapist_name=sheet_therapist_name(db, patient, author_id=version.author_id, printed_by_name=printed_by_name),
        clinic={"name": clinic.name, "address": clinic.address, "phone": clinic.phone,
                "emergency_number": clinic.emergency_number},
        protocol_title=protocol.title, version_number=protocol.latest_version,
        content=protocol_records.load_content(version), phase_index=protocol.current_phase,
        options=options, printed_on=local(utcnow(), clinic.timezone).date(), speed_unit=clinic.speed_unit,
        anticoagulants=patient.anticoagulants,
    )


def sheet_therapist_name(db: Session, patient: Patient, *, author_id: int | None, printed_by_name: str | None) -> str:
    """Whom the sheet names as the patient's therapist, whoever prints it: the patient's assigned therapist
    while they work in the clinic; else the therapist printing it; else (the patient's own download) whoever
    wrote the protocol's current version, if they still work there. "" only when nobody is left to name.

    The sheet once took the printing user's name, so the patient's own download said "Therapist:" and
    nothing: the patient is the one person who needs the name, to ask for them when calling."""
    assigned = _working_here(db, patient.therapist_id, clinic_id=patient.clinic_id)
    if assigned:
        return assigned
    if printed_by_name:
        return printed_by_name
    return _working_here(db, author_id, clinic_id=patient.clinic_id) or ""


def _working_here(db: Session, user_id: int | None, *, clinic_id: int) -> str | None:
    """The name of an active account that works in the clinic, or None."""
    if user_id is None:
        return None
    return db.exec(select(User.name).join(Membership, col(Membership.user_id) == User.id)
                   .where(User.id == user_id, Membership.clinic_id == clinic_id,
                          col(User.is_active).is_(True))).first()


def record_print(db: Session, patient: Patient, protocol: Protocol, snapshot: Snapshot, *, source: str,
                 printed_by_id: int | None) -> HandoutPrint:
    """Keep a print with its snapshot and digest (the cache key); ``printed_by_id`` None: the patient."""
    record = HandoutPrint(
        patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
        protocol_version=snapshot["version_number"], phase_index=snapshot["phase_number"] - 1,
        options=json.dumps(snapshot["options"]), snapshot=json.dumps(snapshot),
        digest=snapshot_digest(snapshot), printed_by_id=printed_by_id, source=source,
    )
    db.add(record)
    db.flush()
    return record


def recent_prints(db: Session, *, patient_id: int, limit: int = 50) -> Sequence[HandoutPrint]:
    """The patient's prints, newest first, for the print page's history."""
    return db.exec(select(HandoutPrint).where(HandoutPrint.patient_id == patient_id)
                   .order_by(col(HandoutPrint.printed_at).desc()).limit(limit)).all()


# A printed sheet's download, the most frequent request after a print: the print (without its snapshot, which
# only a first render reads), scoped to the clinic, and the patient's live link for the QR code, in one query.
_PRINT_FOR_DOWNLOAD = (
    select(HandoutPrint.digest, HandoutPrint.printed_at, PortalLink)
    .join(Patient, col(Patient.id) == HandoutPrint.patient_id)
    .outerjoin(PortalLink, (col(PortalLink.patient_id) == Patient.id) & col(PortalLink.revoked_at).is_(None))
    .where(HandoutPrint.id == bindparam("print_id"), HandoutPrint.patient_id == bindparam("patient_id"),
           Patient.clinic_id == bindparam("clinic_id"))
    .order_by(col(PortalLink.id).desc()).limit(1)
)


def print_for_download(db: Session, *, print_id: int, patient_id: int,
                       clinic_id: int) -> tuple[str, datetime, PortalLink | None] | None:
    """A print's digest and date and the patient's link that is not revoked, or None when the print is not
    this clinic's patient's."""
    row = db.exec(_PRINT_FOR_DOWNLOAD, params={"print_id": print_id, "patient_id": patient_id,
                                               "clinic_id": clinic_id}).first()
    return None if row is None else (row[0], row[1], row[2])


def clinic_prints(db: Session, *, clinic_id: int, print_ids: Collection[int]) -> Sequence[HandoutPrint]:
    """The prints among ``print_ids`` that are of the clinic's patients, in the order they were made."""
    return db.exec(select(HandoutPrint).join(Patient, Patient.id == HandoutPrint.patient_id)  # type: ignore[arg-type]
                   .where(col(HandoutPrint.id).in_(print_ids), Patient.clinic_id == clinic_id)
                   .order_by(col(HandoutPrint.id))).all()


def stored_snapshot(db: Session, *, print_id: int) -> str:
    """A print's snapshot as stored (JSON), read only when its sheet is not in the cache."""
    return db.exec(select(HandoutPrint.snapshot).where(HandoutPrint.id == print_id)).one()


def opening_link(link: PortalLink | None, *, now: datetime) -> PortalLink | None:
    """The link when it still opens the portal (a sheet prints it), else None."""
    return link if link is not None and portal_links.link_status(link, now) == "ok" else None


def live_opening_link(db: Session, *, patient_id: int, now: datetime) -> PortalLink | None:
    """The patient's link that still opens the portal, or None: what a sheet printed now prints."""
    return opening_link(portal_links.live_link(db, patient_id=patient_id), now=now)


def link_token(link: PortalLink | None, *, secret_key: str, now: datetime) -> str | None:
    """The token of a link that still opens the portal, re-derived (never stored), for the QR code."""
    if link is None or portal_links.link_status(link, now) != "ok":
        return None
    return portal_links.derive_token(secret_key, link)


def live_link_token(db: Session, *, patient_id: int, secret_key: str, now: datetime) -> str | None:
    """The token of the patient's link that still opens the portal, or None."""
    return link_token(portal_links.live_link(db, patient_id=patient_id), secret_key=secret_key, now=now)


def batch_candidates(db: Session, *, clinic_id: int, patient_ids: Collection[int]) -> list[tuple[Patient, Protocol]]:
    """The chosen patients of the clinic who are not archived and have an active protocol, by name."""
    return list(db.exec(
        select(Patient, Protocol)
        .join(Protocol, (col(Protocol.patient_id) == Patient.id) & (col(Protocol.status) == "active"))
        .where(Patient.clinic_id == clinic_id, col(Patient.id).in_(patient_ids), col(Patient.archived_at).is_(None))
        .order_by(Patient.last_name, Patient.first_name)
    ).all())
