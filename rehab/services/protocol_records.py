"""Protocols in the database: create, save a new version, move between phases, end, clinic templates.

Services add and flush; the view commits once. Every change to an active protocol's content is a new,
immutable ProtocolVersion carrying a computed summary of what changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from rehab.models import ClinicTemplate, Patient, PhaseChange, PhasePlan, Protocol, ProtocolVersion, User
from rehab.services.adherence_records import phase_plan_rows
from rehab.services.edits import StaleEdit, claim_version, rows_changed
from rehab.services.protocol_content import ProtocolContent, summarize_changes
from rehab.services.safety import SafetyWarning


@dataclass(frozen=True)
class Override:
    """A safety warning the therapist chose to proceed past, and why. ``fingerprint`` names the rule, the place
    and the facts the warning rests on; ``given_in`` is the version whose save the reason was written for."""

    rule: str
    message: str
    where: str
    reason: str
    fingerprint: str = ""
    given_in: int | None = None

    @classmethod
    def of(cls, warning: SafetyWarning, reason: str, given_in: int | None = None) -> Override:
        return cls(warning.rule, warning.message, warning.where, reason, warning.fingerprint, given_in)


def standing_reasons(version: ProtocolVersion | None) -> dict[str, tuple[str, int]]:
    """The reasons given for a version's warnings, by fingerprint, with the version each was first given in:
    they stand for the next version while the warning and its facts are the same. Reasons saved before
    fingerprints existed stand for nothing (the therapist is asked again)."""
    if version is None:
        return {}
    standing = {}
    for item in json.loads(version.safety_overrides):
        if item.get("fingerprint"):
            standing[item["fingerprint"]] = (item["reason"], item.get("given_in") or version.number)
    return standing


def load_content(version: ProtocolVersion) -> ProtocolContent:
    return ProtocolContent.model_validate_json(version.content)


_ACTIVE_PROTOCOL = select(Protocol).where(Protocol.patient_id == bindparam("patient_id"), Protocol.status == "active")


def active_protocol(session: Session, *, patient_id: int) -> Protocol | None:
    return session.exec(_ACTIVE_PROTOCOL, params={"patient_id": patient_id}).first()


_PROTOCOLS_OF = select(Protocol).where(Protocol.patient_id == bindparam("patient_id")).order_by(
    col(Protocol.created_at).desc())


def protocols_of(session: Session, *, patient_id: int) -> list[Protocol]:
    return list(session.exec(_PROTOCOLS_OF, params={"patient_id": patient_id}))


def get_protocol(session: Session, *, patient_id: int, protocol_id: int) -> Protocol | None:
    """The protocol if it belongs to this patient (whose clinic the caller has already checked)."""
    return session.exec(
        select(Protocol).where(Protocol.id == protocol_id, Protocol.patient_id == patient_id)
    ).first()


_VERSION = select(ProtocolVersion).where(ProtocolVersion.protocol_id == bindparam("protocol_id"),
                                         ProtocolVersion.number == bindparam("number"))


def get_version(session: Session, *, protocol_id: int, number: int) -> ProtocolVersion | None:
    return session.exec(_VERSION, params={"protocol_id": protocol_id, "number": number}).first()


def latest_version(session: Session, protocol: Protocol) -> ProtocolVersion:
    """The protocol's current version. Every version is kept, so a missing one is a broken record (an error, not
    a page that is not found)."""
    version = get_version(session, protocol_id=protocol.id, number=protocol.latest_version)
    if version is None:
        raise LookupError(f"protocol {protocol.id} has no version {protocol.latest_version}")
    return version


def history(session: Session, *, protocol_id: int) -> list[tuple[ProtocolVersion, str]]:
    """Every version, newest first, with its author's name."""
    rows = session.exec(
        select(ProtocolVersion, User.name).outerjoin(User, col(User.id) == ProtocolVersion.author_id)
        .where(ProtocolVersion.protocol_id == protocol_id).order_by(col(ProtocolVersion.number).desc())
    )
    return [(version, name or "Unknown") for version, name in rows]


def phase_changes(session: Session, *, protocol_id: int) -> list[tuple[PhaseChange, str]]:
    rows = session.exec(
        select(PhaseChange, User.name).outerjoin(User, col(User.id) == PhaseChange.user_id)
        .where(PhaseChange.protocol_id == protocol_id).order_by(col(PhaseChange.at).desc())
    )
    return [(change, name or "Unknown") for change, name in rows]


def _overrides_json(overrides: list[Override]) -> str:
    return json.dumps([override.__dict__ for override in overrides])


def create_protocol(session: Session, *, patient: Patient, content: ProtocolContent, user_id: int,
                    now: datetime, overrides: list[Override], start_phase: int = 0, start_note: str = "") -> Protocol:
    """Start a protocol (version 1) in ``start_phase``. An active one is ended first: one active protocol per
    patient. ``start_note`` says why it starts where it does (kept in the version's summary)."""
    previous = active_protocol(session, patient_id=patient.id)
    if previous is not None:
        end_protocol(session, protocol=previous, reason="Replaced by a new protocol.", now=now)
        session.flush()  # the database allows one active protocol: end the old one before inserting
    protocol = Protocol(patient_id=patient.id, clinic_id=patient.clinic_id, title=content.title,
                        template_key=content.template_key, created_at=now, created_by_id=user_id,
                        current_phase=min(max(start_phase, 0), len(content.phases) - 1))
    session.add(protocol)
    session.flush()
    _add_version(session, ProtocolVersion(
        protocol_id=protocol.id, number=1, created_at=now, author_id=user_id,
        summary=json.dumps(["First version.", *([start_note] if start_note else [])]),
        content=content.model_dump_json(), safety_overrides=_overrides_json(overrides)))
    session.flush()
    return protocol


def _add_version(session: Session, version: ProtocolVersion) -> None:
    """Add a new version with its phases' sessions a week (``PhasePlan``, which the dashboard counts from)."""
    session.add(version)
    session.add_all(PhasePlan(**row) for row in phase_plan_rows(version.protocol_id, version.number,
                                                                version.created_at, version.content))


def save_version(session: Session, *, protocol: Protocol, content: ProtocolContent, seen_version: int,
                 user_id: int, now: datetime, overrides: list[Override], speed_unit: str = "kmh"
                 ) -> ProtocolVersion | None:
    """Save an edit as the next version; None when nothing changed.

    Raises StaleEdit when another version was saved after this form was opened."""
    if protocol.latest_version != seen_version:
        raise StaleEdit
    current = get_version(session, protocol_id=protocol.id, number=seen_version)
    assert current is not None
    lines = summarize_changes(load_content(current), content, speed_unit=speed_unit)
    if not lines:
        return None
    number = claim_version(session, protocol, column="latest_version", seen=seen_version)
    protocol.title = content.title
    # A phase removed from the end must not leave the patient in a phase that no longer exists.
    protocol.current_phase = min(protocol.current_phase, len(content.phases) - 1)
    session.add(protocol)
    version = ProtocolVersion(protocol_id=protocol.id, number=number, created_at=now, author_id=user_id,
                              summary=json.dumps(lines), content=content.model_dump_json(),
                              safety_overrides=_overrides_json(overrides))
    _add_version(session, version)
    session.flush()
    return version


class PhaseMoveError(ValueError):
    """There is no phase in that direction."""


class PhaseMoved(StaleEdit):
    """The protocol is no longer in the phase the move was asked from (someone moved it first)."""


def move_phase(session: Session, *, protocol: Protocol, from_phase: int, to_phase: int, reason: str, user_id: int,
               now: datetime, phase_count: int) -> PhaseChange:
    """Move from ``from_phase`` to the next or previous phase ``to_phase`` (0-based), keeping the reason.

    The move states where it starts: a conditional UPDATE, so of two moves asked from the same phase (two
    tabs, or a resent form) one applies and the other raises PhaseMoved, and a patient never skips a phase."""
    if abs(to_phase - from_phase) != 1 or not 0 <= to_phase < phase_count:
        raise PhaseMoveError("There is no phase in that direction.")
    set_phase(session, protocol=protocol, from_phase=from_phase, to_phase=to_phase)
    change = PhaseChange(protocol_id=protocol.id, from_phase=from_phase, to_phase=to_phase,
                         version_number=protocol.latest_version, reason=reason, user_id=user_id, at=now)
    session.add(change)
    session.flush()
    return change


def set_phase(session: Session, *, protocol: Protocol, from_phase: int, to_phase: int) -> None:
    """Put the active protocol in ``to_phase`` only if it is still in ``from_phase`` (a conditional UPDATE):
    raises PhaseMoved when someone moved it first. ``move_phase`` records the move; an undone one is only put
    back (services/advice/undo.py)."""
    moved = session.execute(
        update(Protocol).where(col(Protocol.id) == protocol.id, col(Protocol.current_phase) == from_phase,
                               col(Protocol.status) == "active")
        .values(current_phase=to_phase).execution_options(synchronize_session=False))
    if rows_changed(moved) != 1:
        raise PhaseMoved
    set_committed_value(protocol, "current_phase", to_phase)


# Why a patient was discharged: the clinic outcomes count discharged patients by it.
DISCHARGE_REASONS = {"goals_met": "Goals met", "moved": "Moved away", "stopped": "Stopped coming",
                     "referred": "Referred elsewhere"}


def end_protocol(session: Session, *, protocol: Protocol, reason: str, now: datetime,
                 discharge_reason: str = "") -> None:
    """End the protocol; with a discharge reason (one of DISCHARGE_REASONS) the patient is discharged."""
    if discharge_reason and discharge_reason not in DISCHARGE_REASONS:
        raise ValueError(f"unknown discharge reason {discharge_reason!r}")
    protocol.status = "ended"
    protocol.ended_at = now
    protocol.end_reason = reason
    protocol.discharge_reason = discharge_reason
    session.add(protocol)


def clinic_templates(session: Session, *, clinic_id: int, include_archived: bool = False) -> list[ClinicTemplate]:
    statement = select(ClinicTemplate).where(ClinicTemplate.clinic_id == clinic_id)
    if not include_archived:
        statement = statement.where(col(ClinicTemplate.archived_at).is_(None))
    return list(session.exec(statement.order_by(ClinicTemplate.name)))


def get_clinic_template(session: Session, *, clinic_id: int, template_id: int) -> ClinicTemplate | None:
    return session.exec(
        select(ClinicTemplate).where(ClinicTemplate.id == template_id, ClinicTemplate.clinic_id == clinic_id)
    ).first()


def save_clinic_template(session: Session, *, clinic_id: int, name: str, condition: str,
                         content: ProtocolContent, user_id: int, now: datetime) -> ClinicTemplate:
    stored: dict[str, Any] = content.model_dump()
    stored["title"] = name
    template = ClinicTemplate(clinic_id=clinic_id, name=name, condition=condition, created_at=now,
                              content=json.dumps(stored), created_by_id=user_id)
    session.add(template)
    session.flush()
    return template


def clinic_template_content(template: ClinicTemplate) -> ProtocolContent:
    return ProtocolContent.model_validate_json(template.content)


def rename_template(session: Session, *, template: ClinicTemplate, name: str, seen_version: int) -> bool:
    """Rename a clinic template; False when it already has this name. Raises StaleEdit when it was renamed,
    retired or brought back after the renaming page was opened (the rename would undo what the admin missed)."""
    if template.version != seen_version:
        raise StaleEdit
    if template.name == name:
        return False
    template.name = name
    claim_version(session, template, column="version", seen=seen_version)
    session.add(template)
    session.flush()
    return True


def set_template_retired(session: Session, *, template: ClinicTemplate, retired: bool, now: datetime) -> bool:
    """Retire a clinic template or bring it back; False when it already is (a page from before another
    admin's click), and then nothing changes."""
    if (template.archived_at is not None) == retired:
        return False
    template.archived_at = now if retired else None
    claim_version(session, template, column="version", seen=template.version)
    session.add(template)
    session.flush()
    return True
