"""What therapists did with the advice: accepted or overridden decisions and their history, and red flags cleared
with a note (undoing a decision: ``undo``).

Services add and flush; the view commits once. Nothing here is ever deleted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from rehab.models import AdviceDecision, Alert, Patient, Protocol, RedFlagClearance, User
from rehab.services import protocol_records
from rehab.services.advice.dose_steps import apply_change
from rehab.services.advice.inputs import AdviceContext, AdviceInputs
from rehab.services.advice.types import ADVICE_TITLES, SessionReport
from rehab.services.protocol_content import Prescription, ProtocolContent
from rehab.services.safety import PatientFacts, check_protocol
from rehab.services.shapes import too_long_message
from rehab.vocabulary import CLEARANCE_ACTION_LABELS, DECISION_LABELS, RED_FLAG_LABELS, STOPPING_ALERTS, Decision

MIN_NOTE = 10  # a note says what was done: "called, no calf pain now" is about the shortest that does
MAX_NOTE = 2000
MAX_REASON = 500  # an override's reason (the column's limit): longer is refused, never cut


@dataclass(frozen=True)
class AdviceShown:
    """The advice as a decision form showed it: its outcome, the protocol version and phase it was for, and the
    newest visit and home log it had read. The form states these back and the decision compares them with the
    advice recomputed now, so nobody accepts advice that has since changed.

    Plain fields rather than one opaque signature: whoever reads the form, or a refused request, sees what the
    therapist saw, and the refusal says what changed. A new or removed visit or home log, a new protocol
    version, a phase move or a different outcome refuses the decision; an edit to an existing visit that leaves
    the outcome as it was does not (the decision is about the outcome, recorded with the rules as they are)."""

    kind: str
    change: str  # the change's words, "" without one
    protocol_version: int
    phase: int  # the phase's number, as pages show it
    newest_visit: int | None
    newest_home_log: int | None

    @classmethod
    def of(cls, context: AdviceContext) -> AdviceShown:
        advice, inputs = context.advice, context.inputs
        return cls(advice.kind, advice.change.text if advice.change else "", inputs.version.number,
                   inputs.phase_index + 1, inputs.newest_visit_id, inputs.newest_home_log_id)

    def fields(self) -> dict[str, str]:
        """The form's hidden fields."""
        return {"advice": self.kind, "change": self.change, "protocol_version": str(self.protocol_version),
                "phase": str(self.phase), "newest_visit": _id_text(self.newest_visit),
                "newest_home_log": _id_text(self.newest_home_log)}

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> AdviceShown | None:
        """What a posted form states, or None when it states nothing usable."""
        try:
            return cls(form["advice"], form.get("change", ""), int(form["protocol_version"]), int(form["phase"]),
                       _id_of(form.get("newest_visit", "")), _id_of(form.get("newest_home_log", "")))
        except (KeyError, ValueError):
            return None


def _id_text(record_id: int | None) -> str:
    return "" if record_id is None else str(record_id)


def _id_of(text: str) -> int | None:
    return int(text) if text else None


def what_changed(stated: AdviceShown | None, now: AdviceShown, *, headline: str) -> str | None:
    """Why a decision on the advice the form states is refused, in the therapist's words; None when nothing the
    advice rests on has changed. ``headline`` is the advice now."""
    if stated is None:
        return "The advice changed since you opened the page. Review it again."
    if (stated.kind, stated.change) != (now.kind, now.change):
        return f"The advice changed since you opened the page: it now says “{headline}”. Review it again."
    if (stated.protocol_version, stated.phase) != (now.protocol_version, now.phase):
        return (f"The advice changed since you opened the page: the protocol is now at version "
                f"{now.protocol_version}, phase {now.phase}. Review it again.")
    if stated.newest_visit != now.newest_visit:
        return "The advice changed since you opened the page: a visit was recorded or removed. Review it again."
    if stated.newest_home_log != now.newest_home_log:
        return ("The advice changed since you opened the page: the patient logged a home session. "
                "Review it again.")
    return None


class UnsafeAccept(ValueError):
    """Accepting would save a dose that trips a builder safety warning nobody gave a reason for."""


def reasons_carried(session: Session, context: AdviceContext, content: ProtocolContent, facts: PatientFacts
                    ) -> list[protocol_records.Override]:
    """The safety reasons an accepted dose keeps: each warning the new dose trips carries the reason given for it
    (as the builder carries them), so the record still says why the dose is allowed and a later undo or edit
    finds it. A reason stands while its warning rests on the same facts (its fingerprint), so one given in an
    earlier version counts too (versions saved by accepting advice once kept none). A warning with no reason
    anywhere (a precaution recorded since, say) is not the advice's to pass: raises UnsafeAccept, and the
    therapist decides in the builder."""
    warnings = check_protocol(content, facts, start_phase=-1)
    standing = protocol_records.standing_reasons(context.version)
    if any(warning.fingerprint not in standing for warning in warnings):
        for version, _ in reversed(protocol_records.history(session, protocol_id=context.version.protocol_id)):
            standing.update(protocol_records.standing_reasons(version))  # oldest first: the newest reason wins
    missing = [warning for warning in warnings if warning.fingerprint not in standing]
    if missing:
        raise UnsafeAccept(f"Accepting would raise a safety warning with no reason given: {missing[0].message} "
                           "Nothing was changed; change the dose in the protocol builder, where you can give one.")
    return [protocol_records.Override.of(warning, *standing[warning.fingerprint]) for warning in warnings]


def record_decision(session: Session, *, patient: Patient, protocol: Protocol, context: AdviceContext,
                    accepted: bool, reason: str, user_id: int, now: datetime, facts: PatientFacts
                    ) -> AdviceDecision:
    """Keep the advice as shown and the decision; accepting applies the change (a new version, a phase move, or
    a move whose new phase starts at an eased dose). "Stop and review" and advice without a change apply
    nothing. A new version keeps the safety reasons that still stand (``reasons_carried``)."""
    advice = context.advice
    inputs = context.inputs
    decision = AdviceDecision(
        patient_id=patient.id, protocol_id=protocol.id, visit_id=context.latest_visit_id,
        protocol_version=protocol.latest_version, phase_index=protocol.current_phase, advice=advice.kind,
        rules=json.dumps([asdict(rule) for rule in advice.rules]),
        change=json.dumps(asdict(advice.change)) if advice.change else "",
        decision=Decision.ACCEPTED if accepted else Decision.OVERRIDDEN, reason=reason, user_id=user_id, at=now,
        newest_visit_id=inputs.newest_visit_id, newest_home_log_id=inputs.newest_home_log_id,
    )
    session.add(decision)
    change = advice.change
    version = None
    if accepted and change is not None and not change.review:
        if change.to_phase is not None:
            if change.entry is not None:
                content = context.content.model_copy(deep=True)
                target = content.phases[change.to_phase]
                index = next((i for i, rx in enumerate(target.prescriptions)
                              if rx.exercise == change.entry["exercise"]), 0)
                target.prescriptions[index] = Prescription.model_validate(change.entry)
                kept = reasons_carried(session, context, content, facts)
                version = protocol_records.save_version(session, protocol=protocol, content=content,
                                                        seen_version=protocol.latest_version, user_id=user_id,
                                                        now=now, overrides=kept)
            move = protocol_records.move_phase(session, protocol=protocol, from_phase=protocol.current_phase,
                                               to_phase=change.to_phase,
                                               reason=f"Accepted advice: {advice.headline}", user_id=user_id,
                                               now=now, phase_count=len(context.content.phases))
            decision.applied_move_id = move.id
        elif change.field is not None:
            content = context.content.model_copy(deep=True)
            rxs = content.phases[protocol.current_phase].prescriptions
            rxs[context.prescription_index] = apply_change(rxs[context.prescription_index], change)
            version = protocol_records.save_version(session, protocol=protocol, content=content,
                                                    seen_version=protocol.latest_version, user_id=user_id, now=now,
                                                    overrides=reasons_carried(session, context, content, facts))
    decision.applied_version = version.number if version is not None else None
    session.add(decision)
    session.flush()
    return decision


@dataclass(frozen=True)
class DecisionEntry:
    """One decision on the advice in plain values, for the advice card, the patient's history and the physician
    report: who decided, when and why, the advice it answered, what accepting changed, and its undo."""

    id: int
    protocol_id: int
    at: datetime
    by: str
    by_id: int | None
    decision: str  # vocabulary.Decision
    decision_label: str  # its words
    advice: str  # the advice's kind (types.AdviceKind)
    advice_text: str  # the advice it answered, in words: "Regress one level: minutes 5 → 3"
    rules: tuple[str, ...]  # the rules that fired, in words
    reason: str
    applied: str  # what accepting changed, in words; "" when it changed nothing
    protocol_version: int  # the version and phase (counted from 1) the advice was for
    phase: int
    left_version: int  # the version and phase index the decision left the protocol at
    left_phase_index: int
    based_on: tuple[int | None, int | None]  # the newest visit and home log the advice had read
    undone_at: datetime | None
    undone_by: str | None


_DECIDER, _UNDOER = aliased(User), aliased(User)
_HISTORY = (select(AdviceDecision, _DECIDER.name, _UNDOER.name)
            .outerjoin(_DECIDER, col(_DECIDER.id) == AdviceDecision.user_id)
            .outerjoin(_UNDOER, col(_UNDOER.id) == AdviceDecision.undone_by_id)
            .where(AdviceDecision.patient_id == bindparam("patient_id"))
            .order_by(col(AdviceDecision.at).desc(), col(AdviceDecision.id).desc()))


def decision_history(session: Session, patient_id: int, *, limit: int | None = None) -> list[DecisionEntry]:
    """The patient's decisions on the advice, newest first, undone ones included and marked (one query)."""
    statement = _HISTORY.limit(limit) if limit else _HISTORY
    return [_entry(row, by, undone_by) for row, by, undone_by in session.execute(statement, {"patient_id": patient_id})]


def _entry(row: AdviceDecision, by: str | None, undone_by: str | None) -> DecisionEntry:
    change = json.loads(row.change) if row.change else None
    text = change["text"] if change else ""
    title = ADVICE_TITLES.get(row.advice, row.advice)
    applied = text if row.decision == Decision.ACCEPTED and (row.applied_version or row.applied_move_id) else ""
    moved_to = change.get("to_phase") if change and row.applied_move_id else None
    return DecisionEntry(
        row.id, row.protocol_id, row.at, by or "Unknown", row.user_id, row.decision,
        DECISION_LABELS.get(row.decision, row.decision), row.advice, f"{title}: {text}" if text else title,
        tuple(rule["text"] for rule in json.loads(row.rules)), row.reason, applied, row.protocol_version,
        row.phase_index + 1, row.applied_version or row.protocol_version,
        moved_to if moved_to is not None else row.phase_index, (row.newest_visit_id, row.newest_home_log_id),
        row.undone_at, (undone_by or "Unknown") if row.undone_at else None)


# -------------------------------------------------------------------------------------------- red flags


def reported(report: SessionReport) -> str:
    """One uncleared session in words: "home session of 2026-11-24: calf pain or swelling; 1 fall"."""
    parts = [RED_FLAG_LABELS.get(flag, flag) for flag in report.red_flags]
    if report.falls:
        parts.append(f"{report.falls} fall{'s' if report.falls > 1 else ''}")
    return f"{report.label}: {'; '.join(parts)}"


def clearance_signature(inputs: AdviceInputs) -> str:
    """What the clearing form showed, so a red flag that arrives meanwhile is not cleared unseen: each waiting
    session as source@when@recorded. Unlike the decision's ``AdviceShown`` this stays one string: the form
    clears exactly the sessions it listed, and the time each was recorded also catches a listed session edited
    to add a flag (the record's id would not)."""
    return "|".join(f"{report.source}@{report.at.isoformat()}@{report.entered.isoformat()}"
                    for report in inputs.uncleared)


class ClearanceError(ValueError):
    """The form is incomplete; the message says what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def record_clearance(session: Session, *, patient: Patient, inputs: AdviceInputs, action: str, note: str,
                     user_id: int, now: datetime) -> RedFlagClearance:
    """Keep what was done about the uncleared red flags and falls. "Cleared to go on" acknowledges their open
    alerts (the clearance is the acknowledgement, with its note); after "called" or "referred" the alerts stay
    open on the dashboard, so a patient waiting on a referral is not forgotten. Raises ClearanceError for a
    missing action or note."""
    if action not in CLEARANCE_ACTION_LABELS:
        raise ClearanceError("action", "Choose what was done.")
    note = note.strip()
    if len(note) < MIN_NOTE:
        raise ClearanceError("note", f"Write what was done and found, in at least {MIN_NOTE} characters.")
    if len(note) > MAX_NOTE:
        raise ClearanceError("note", too_long_message(len(note), MAX_NOTE))
    clearance = RedFlagClearance(patient_id=patient.id, clinic_id=patient.clinic_id, action=action,
                                 note=note, user_id=user_id, at=now,
                                 covers=json.dumps([reported(report) for report in inputs.uncleared]))
    session.add(clearance)
    if action == "cleared":
        session.execute(update(Alert).where(col(Alert.patient_id) == patient.id, col(Alert.kind).in_(STOPPING_ALERTS),
                                            col(Alert.acknowledged_at).is_(None))
                        .values(acknowledged_at=now, acknowledged_by_id=user_id)
                        .execution_options(synchronize_session=False))
    session.flush()
    return clearance


@dataclass(frozen=True)
class ClearanceEntry:
    at: datetime
    action: str  # its words, from CLEARANCE_ACTION_LABELS
    cleared: bool
    note: str
    covers: list[str]
    by: str


def clearances_of(session: Session, *, patient_id: int, limit: int | None = 20) -> list[ClearanceEntry]:
    """The patient's clearances, newest first, for the patient page and the physician report."""
    statement = (select(RedFlagClearance, User.name).outerjoin(User, User.id == RedFlagClearance.user_id)  # type: ignore[arg-type]
                 .where(RedFlagClearance.patient_id == patient_id)
                 .order_by(col(RedFlagClearance.at).desc(), col(RedFlagClearance.id).desc()))
    rows = session.exec(statement.limit(limit) if limit else statement)
    return [ClearanceEntry(row.at, CLEARANCE_ACTION_LABELS.get(row.action, row.action), row.action == "cleared",
                           row.note, json.loads(row.covers), name or "Unknown") for row, name in rows]
