"""Visits in the database, the advice they lead to, alerts, and what the therapist decided.

Services add and flush; the view commits once. Visit edits keep their history in EditRecord and deletion is
soft, with a reason, so no clinical record disappears.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from rehab.forms import VisitForm
from rehab.models import AdviceDecision, Alert, EditRecord, Patient, PhaseChange, Protocol, ProtocolVersion, Visit
from rehab.services import protocol_records
from rehab.services.activity import note_session, refresh_last_session
from rehab.services.progression import RED_FLAGS, Advice, SessionReport, advise, alerts_for
from rehab.services.protocols import ProtocolContent
from rehab.services.records import StaleEdit, apply_changes, claim_version

# Sessions older than this do not change today's advice (weekly trend needs two weeks).
ADVICE_WINDOW = timedelta(days=28)


def visits_of(session: Session, *, patient_id: int, include_deleted: bool = False) -> list[Visit]:
    """A patient's visits in time order (one query, served by the (patient, time) index)."""
    statement = select(Visit).where(Visit.patient_id == patient_id)
    if not include_deleted:
        statement = statement.where(col(Visit.deleted_at).is_(None))
    return list(session.exec(statement.order_by(col(Visit.occurred_at), col(Visit.id))))


# The patient page's queries run on every view of it: built once, bound per request (building a statement
# costs about as much as running it on an index).
_PATIENT_VISITS = select(Visit).where(Visit.patient_id == bindparam("patient_id"), col(Visit.deleted_at).is_(None))
_VISITS_SINCE = _PATIENT_VISITS.where(Visit.occurred_at >= bindparam("since")).order_by(
    col(Visit.occurred_at), col(Visit.id))
_NEWEST_VISITS = _PATIENT_VISITS.order_by(col(Visit.occurred_at).desc(), col(Visit.id).desc())


def recent_visits(session: Session, *, patient_id: int, since: datetime) -> list[Visit]:
    """A patient's visits from ``since`` on, in time order: what the advice reads (see ADVICE_WINDOW)."""
    return list(session.exec(_VISITS_SINCE, params={"patient_id": patient_id, "since": since}))


def latest_visits(session: Session, *, patient_id: int, limit: int | None) -> list[Visit]:
    """A patient's newest visits, newest first (the patient page shows a few; the visits page shows all)."""
    statement = _NEWEST_VISITS if limit is None else _NEWEST_VISITS.limit(limit)
    return list(session.exec(statement, params={"patient_id": patient_id}))


def previous_visit(session: Session, *, patient_id: int, before: datetime) -> Visit | None:
    """The patient's latest visit at or before a moment (the one a new visit is compared with for alerts)."""
    return session.exec(_NEWEST_VISITS.where(Visit.occurred_at <= bindparam("before")).limit(1),
                        params={"patient_id": patient_id, "before": before}).first()


def get_visit(session: Session, *, patient_id: int, visit_id: int) -> Visit | None:
    return session.exec(select(Visit).where(Visit.id == visit_id, Visit.patient_id == patient_id)).first()


def report_of(visit: Visit) -> SessionReport:
    return SessionReport(
        at=visit.occurred_at, source="visit", pain_before=visit.pain_before, pain_worst=visit.pain_worst,
        pain_after=visit.pain_after, pain_next_morning=visit.pain_next_morning, soreness=visit.soreness,
        effusion=visit.effusion, stumbles=visit.stumbles, falls=visit.falls, minutes=visit.minutes,
        red_flags=tuple(name for name in RED_FLAGS if getattr(visit, name)),
    )


def create_visit(session: Session, *, patient: Patient, protocol: Protocol, form: VisitForm, user_id: int,
                 now: datetime) -> Visit:
    visit = Visit(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,  # type: ignore[arg-type]
                  protocol_version=protocol.latest_version, phase_index=protocol.current_phase,
                  created_at=now, updated_at=now, created_by_id=user_id, **form.model_dump())
    session.add(visit)
    session.flush()
    note_session(session, patient_id=visit.patient_id, at=visit.occurred_at)
    return visit



def update_visit(session: Session, *, visit: Visit, form: VisitForm, seen_version: int, user_id: int,
                 now: datetime) -> dict[str, list[Any]]:
    """Apply an edit, keeping old and new values; raises StaleEdit when someone saved meanwhile."""
    if visit.version != seen_version:
        raise StaleEdit
    changes = apply_changes(visit, form.model_dump())
    if changes:
        claim_version(session, visit, column="version", seen=seen_version)
        visit.updated_at = now
        session.add(visit)
        session.add(EditRecord(entity="visit", entity_id=visit.id, patient_id=visit.patient_id,  # type: ignore[arg-type]
                               user_id=user_id, at=now, changes=json.dumps(changes)))
        session.flush()
        if "occurred_at" in changes:  # only the visit's time can move the patient's last session
            refresh_last_session(session, patient_id=visit.patient_id)
    return changes


def delete_visit(session: Session, *, visit: Visit, reason: str, user_id: int, now: datetime) -> None:
    """Soft delete: the visit leaves lists, charts and advice but stays in the record with the reason."""
    visit.deleted_at, visit.deleted_by_id, visit.delete_reason = now, user_id, reason
    session.add(visit)
    session.add(EditRecord(entity="visit", entity_id=visit.id, patient_id=visit.patient_id, user_id=user_id,  # type: ignore[arg-type]
                           at=now, changes=json.dumps({"deleted": [None, reason]})))
    session.flush()
    refresh_last_session(session, patient_id=visit.patient_id)


def visit_history(session: Session, *, visit_id: int) -> list[tuple[EditRecord, str]]:
    from rehab.models import User

    rows = session.exec(
        select(EditRecord, User.name).outerjoin(User, User.id == EditRecord.user_id)
        .where(EditRecord.entity == "visit", EditRecord.entity_id == visit_id)
        .order_by(col(EditRecord.at).desc())
    )
    return [(record, name or "Unknown") for record, name in rows]


# --------------------------------------------------------------------------------------------------- advice


@dataclass(frozen=True)
class AdviceContext:
    """Everything the advice was computed from, so the page can show it and the decision can record it."""

    advice: Advice
    content: ProtocolContent
    version: ProtocolVersion
    prescription_index: int
    latest_visit_id: int | None


# The protocol's last phase move, last move forward and last accepted "advance", in one round trip.
_PROTOCOL_MOVES = select(
    select(func.max(PhaseChange.at)).where(PhaseChange.protocol_id == bindparam("protocol_id"))
    .scalar_subquery().label("moved"),
    select(func.max(PhaseChange.at)).where(PhaseChange.protocol_id == bindparam("protocol_id"),
                                           col(PhaseChange.to_phase) > col(PhaseChange.from_phase))
    .scalar_subquery().label("forward"),
    select(func.max(AdviceDecision.at)).where(AdviceDecision.protocol_id == bindparam("protocol_id"),
                                              AdviceDecision.advice == "advance", AdviceDecision.decision == "accepted")
    .scalar_subquery().label("accepted"),
)


@dataclass(frozen=True)
class ProtocolMoves:
    moved: datetime | None  # the last phase move, either way
    forward: datetime | None  # the last move to a later phase
    accepted_advance: datetime | None  # the last accepted "advance"


def protocol_moves(session: Session, *, protocol_id: int) -> ProtocolMoves:
    moved, forward, accepted = session.execute(_PROTOCOL_MOVES, {"protocol_id": protocol_id}).one()
    return ProtocolMoves(moved, forward, accepted)


def dose_started_at(moves: ProtocolMoves, *, version: ProtocolVersion) -> datetime:
    """When the dose in force began: its version, or the last phase move if later. Visit times are entered to
    the minute, so the start is floored to its minute: a visit recorded right after accepting a change counts."""
    started = max(version.created_at, moves.moved) if moves.moved else version.created_at
    return started.replace(second=0, microsecond=0)


def last_advance(moves: ProtocolMoves) -> datetime | None:
    """The last accepted level up (an accepted "advance", or a move to a later phase)."""
    times = [time for time in (moves.accepted_advance, moves.forward) if time is not None]
    return max(times) if times else None


def advice_for(session: Session, *, protocol: Protocol, visits: list[Visit], now: datetime,
               speed_unit: str = "kmh", extra_sessions: list[SessionReport] | None = None) -> AdviceContext:
    """The advice for a patient now, from their recent visits (and home logs, when given)."""
    version = protocol_records.get_version(session, protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[arg-type]
    assert version is not None
    content = protocol_records.load_content(version)
    moves = protocol_moves(session, protocol_id=protocol.id)  # type: ignore[arg-type]
    phase = content.phases[protocol.current_phase]
    recent = [visit for visit in visits
              if visit.protocol_id == protocol.id and now - visit.occurred_at <= ADVICE_WINDOW]
    reports = sorted([report_of(visit) for visit in recent] + (extra_sessions or []), key=lambda r: r.at)
    latest_exercise = recent[-1].exercise if recent else None
    index = next((i for i, rx in enumerate(phase.prescriptions) if rx.exercise == latest_exercise), 0)
    advice = advise(phases=content.phases, phase_index=protocol.current_phase, prescription_index=index,
                    sessions=reports, dose_since=dose_started_at(moves, version=version),
                    last_advance_at=last_advance(moves), now=now,
                    speed_unit=speed_unit)
    return AdviceContext(advice, content, version, index, recent[-1].id if recent else None)


def advice_signature(advice: Advice) -> str:
    """What the therapist saw, to refuse a decision on advice that has since changed."""
    return f"{advice.kind}|{advice.change.text if advice.change else ''}"


def record_decision(session: Session, *, patient: Patient, protocol: Protocol, context: AdviceContext,
                    accepted: bool, reason: str, user_id: int, now: datetime) -> AdviceDecision:
    """Keep the advice as shown and the decision; accepting applies the change (a new version or a phase move)."""
    advice = context.advice
    decision = AdviceDecision(
        patient_id=patient.id, protocol_id=protocol.id, visit_id=context.latest_visit_id,  # type: ignore[arg-type]
        protocol_version=protocol.latest_version, phase_index=protocol.current_phase, advice=advice.kind,
        rules=json.dumps([asdict(rule) for rule in advice.rules]),
        change=json.dumps(asdict(advice.change)) if advice.change else "",
        decision="accepted" if accepted else "overridden", reason=reason, user_id=user_id, at=now,
    )
    session.add(decision)
    change = advice.change
    if accepted and change is not None:
        if change.to_phase is not None:
            protocol_records.move_phase(session, protocol=protocol, step=change.to_phase - protocol.current_phase,
                                        reason=f"Accepted advice: {advice.headline}", user_id=user_id, now=now,
                                        phase_count=len(context.content.phases))
        elif change.field is not None:
            content = context.content.model_copy(deep=True)
            rx = content.phases[protocol.current_phase].prescriptions[context.prescription_index]
            setattr(rx, change.field, change.new)
            if change.field == "minutes" and rx.minutes_goal is not None and rx.minutes > rx.minutes_goal:
                rx.minutes_goal = rx.minutes
            protocol_records.save_version(session, protocol=protocol, content=content,
                                          seen_version=protocol.latest_version, user_id=user_id, now=now,
                                          overrides=[])
    session.flush()
    return decision


def decisions_of(session: Session, *, patient_id: int, limit: int = 20) -> list[AdviceDecision]:
    return list(session.exec(
        select(AdviceDecision).where(AdviceDecision.patient_id == patient_id)
        .order_by(col(AdviceDecision.at).desc()).limit(limit)
    ))


# --------------------------------------------------------------------------------------------------- alerts


def still_recordable(session: Session, *, protocol_id: int, version: int, phase_index: int) -> bool:
    """Checked once the visit's write transaction holds the lock: the patient is not archived and the protocol
    is still active at the version and phase the visit is recorded against. On PostgreSQL the protocol row is
    share-locked until commit, so it cannot change before the visit lands; SQLite's write lock does the same."""
    return session.execute(
        select(Protocol.id).join(Patient, Patient.id == Protocol.patient_id)  # type: ignore[arg-type]
        .where(Protocol.id == protocol_id, Protocol.status == "active", Protocol.latest_version == version,
               Protocol.current_phase == phase_index, col(Patient.archived_at).is_(None))
        .with_for_update(read=True, of=Protocol)  # type: ignore[arg-type]
    ).first() is not None


def raise_alerts(session: Session, *, patient: Patient, visit: Visit, previous: Visit | None, ceiling: int,
                 now: datetime) -> list[Alert]:
    """Alerts for the therapists' dashboard from a newly recorded visit."""
    alerts = [Alert(clinic_id=patient.clinic_id, patient_id=patient.id, kind=kind, message=message,  # type: ignore[arg-type]
                    visit_id=visit.id, created_at=now)
              for kind, message in alerts_for(report_of(visit), report_of(previous) if previous else None,
                                              ceiling=ceiling)]
    session.add_all(alerts)
    return alerts


_OPEN_ALERTS = (select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id)  # type: ignore[arg-type]
                .where(Alert.clinic_id == bindparam("clinic_id"), col(Alert.acknowledged_at).is_(None)))
_OPEN_ALERTS_OF_CLINIC = _OPEN_ALERTS.order_by(col(Alert.created_at).desc()).limit(100)
_OPEN_ALERTS_OF_PATIENT = (_OPEN_ALERTS.where(Alert.patient_id == bindparam("patient_id"))
                           .order_by(col(Alert.created_at).desc()).limit(100))


def open_alerts(session: Session, *, clinic_id: int, patient_id: int | None = None) -> list[tuple[Alert, Patient]]:
    if patient_id is None:
        return list(session.exec(_OPEN_ALERTS_OF_CLINIC, params={"clinic_id": clinic_id}))
    return list(session.exec(_OPEN_ALERTS_OF_PATIENT, params={"clinic_id": clinic_id, "patient_id": patient_id}))


def acknowledge(session: Session, *, alert: Alert, user_id: int, now: datetime) -> None:
    alert.acknowledged_at, alert.acknowledged_by_id = now, user_id
    session.add(alert)
