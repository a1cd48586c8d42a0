"""Whether a decision on the advice still stands, and undoing one: by the person who made it, on the day.

A decision stands (the card shows it instead of asking again) while nothing it rested on has changed: no visit
or home log recorded, edited or removed since, the protocol still where the decision left it and, for one that
changed nothing, the advice still the one it answered. Only a decision that stands can be undone, and only
when undoing is safe: never while a red flag or fall waits, never past a safety warning whose reason no longer
holds. Undoing an accept puts the protocol back exactly (the dose as a new version, with its reasons and when
that dose began; the phase); the advice then reads the undone change as never made (``inputs``).

Services add and flush; the view commits once.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from rehab.models import AdviceDecision, HandoutPrint, PhaseChange, Protocol, ProtocolVersion
from rehab.services import protocol_records
from rehab.services.advice.decisions import DecisionEntry
from rehab.services.advice.inputs import AdviceContext
from rehab.services.edits import rows_changed
from rehab.services.protocol_records import Override
from rehab.services.safety import PatientFacts, check_protocol
from rehab.vocabulary import Decision


class UndoRefused(ValueError):
    """The decision cannot be undone; the message says why, in the therapist's words."""


def stands(entry: DecisionEntry, *, protocol: Protocol, context: AdviceContext) -> bool:
    """Whether the decision still answers the advice now: nothing it rested on changed since it was made."""
    inputs = context.inputs
    if entry.undone_at is not None or entry.protocol_id != protocol.id:
        return False
    if (protocol.latest_version, protocol.current_phase) != (entry.left_version, entry.left_phase_index):
        return False
    if (inputs.newest_visit_id, inputs.newest_home_log_id) != entry.based_on:
        return False  # a visit or home log recorded or removed since (earlier decisions kept no such record)
    if any(report.entered > entry.at for report in inputs.sessions):
        return False  # a session corrected since
    if not entry.applied:  # it changed nothing, so the advice now must still be the one it answered
        return context.advice.headline == entry.advice_text
    return True


def _day(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def undo_refusal(entry: DecisionEntry, *, protocol: Protocol, context: AdviceContext, latest: bool,
                 user_id: int, now: datetime, zone: str) -> str | None:
    """Why the decision cannot be undone now, or None when it can (the card shows the one, or the button).
    ``latest``: it is the newest decision on the patient's active protocol. The undo itself also checks the
    dose it puts back against the safety warnings (``undo_decision``)."""
    if entry.undone_at is not None:
        return f"This decision was already undone by {entry.undone_by}."
    if entry.by_id != user_id:
        return f"Only {entry.by}, who made this decision, can undo it."
    if _day(entry.at, zone) != _day(now, zone):
        return (f"A decision can be undone only on the day it was made ({_day(entry.at, zone)}). To change the "
                "dose now, edit the protocol.")
    if context.inputs.uncleared:
        return "A red flag or fall is waiting: record what was done about it first. The decision stays."
    if not latest or entry.protocol_id != protocol.id:
        return "Only the latest decision on the active protocol can be undone."
    if (protocol.latest_version, protocol.current_phase) != (entry.left_version, entry.left_phase_index):
        return (f"The protocol was changed since the decision (it is now at version {protocol.latest_version}, "
                f"phase {protocol.current_phase + 1}). The decision stays; change the dose in the protocol builder.")
    if not stands(entry, protocol=protocol, context=context):
        return ("A visit or home session was recorded or corrected since the decision, so the advice now rests "
                "on it. The decision stays.")
    return None


def _restored(session: Session, entry: DecisionEntry, *, protocol: Protocol) -> ProtocolVersion | None:
    """The version whose dose an accepted change replaced, when accepting saved a version."""
    if entry.left_version == entry.protocol_version:
        return None
    return protocol_records.get_version(session, protocol_id=protocol.id, number=entry.protocol_version)


def _unsafe_restore(before: ProtocolVersion, *, facts: PatientFacts) -> str | None:
    """Putting the dose back must not pass a safety warning without a reason standing for it (the facts, a
    new fall-risk screen say, may have changed since that dose's reasons were given)."""
    standing = protocol_records.standing_reasons(before)
    missing = [warning for warning in check_protocol(protocol_records.load_content(before), facts, start_phase=-1)
               if warning.fingerprint not in standing]
    if missing:
        return (f"Putting the dose back raises a safety warning with no reason given: {missing[0].message} "
                "Change the dose in the protocol builder, where you can give one.")
    return None


def undo_decision(session: Session, *, entry: DecisionEntry, protocol: Protocol, context: AdviceContext,
                  latest: bool, facts: PatientFacts, user_id: int, now: datetime, zone: str) -> str:
    """Undo the decision and say, in words, what was put back. Raises UndoRefused with the reason, or StaleEdit
    when someone changed the protocol or undid it between this request's reads and its writes."""
    refusal = undo_refusal(entry, protocol=protocol, context=context, latest=latest, user_id=user_id, now=now,
                           zone=zone)
    before = _restored(session, entry, protocol=protocol)
    if refusal is None and before is not None:
        refusal = _unsafe_restore(before, facts=facts)
    if refusal is not None:
        raise UndoRefused(refusal)
    claimed = session.execute(
        update(AdviceDecision).where(col(AdviceDecision.id) == entry.id, col(AdviceDecision.undone_at).is_(None))
        .values(undone_at=now, undone_by_id=user_id).execution_options(synchronize_session=False))
    if rows_changed(claimed) != 1:
        raise UndoRefused("This decision was already undone.")
    put_back: list[str] = []
    if before is not None:
        version = protocol_records.save_version(
            session, protocol=protocol, content=protocol_records.load_content(before),
            seen_version=protocol.latest_version, user_id=user_id, now=now,
            overrides=[Override(**item) for item in json.loads(before.safety_overrides)])
        if version is not None:
            version.dose_since = before.dose_since or before.created_at  # the dose began then, not now
            session.add(version)
            session.execute(update(AdviceDecision).where(col(AdviceDecision.id) == entry.id)
                            .values(undo_version=version.number).execution_options(synchronize_session=False))
            put_back.append(f"the dose of version {before.number} (now version {version.number})")
    if entry.left_phase_index != entry.phase - 1:
        _move_back(session, protocol=protocol, decision_id=entry.id, from_phase=entry.left_phase_index,
                   to_phase=entry.phase - 1, now=now)
        put_back.append(f"phase {entry.phase}")
    session.flush()
    kind = "Accept" if entry.decision == Decision.ACCEPTED else "Override"
    if put_back:
        return f"{kind} undone: back to {' and '.join(put_back)}. Decide on the advice again."
    return f"{kind} undone. Decide on the advice again."


def _move_back(session: Session, *, protocol: Protocol, decision_id: int, from_phase: int, to_phase: int,
               now: datetime) -> None:
    """Put the protocol back in the phase the accepted move left, marking that move undone (no new move: the
    advice reads it as never made). Conditional, as every phase move: a move meanwhile raises PhaseMoved."""
    protocol_records.set_phase(session, protocol=protocol, from_phase=from_phase, to_phase=to_phase)
    decision = session.get(AdviceDecision, decision_id)
    assert decision is not None and decision.applied_move_id is not None
    session.execute(update(PhaseChange).where(col(PhaseChange.id) == decision.applied_move_id)
                    .values(undone_at=now).execution_options(synchronize_session=False))


def sheets_with_undone_dose(session: Session, *, entry: DecisionEntry) -> list[datetime]:
    """When home sheets were printed with the dose an undone accept had set (newest first): the patient may
    hold one, and the paper does not change with the undo, so the therapist is told to print a new one."""
    if not entry.applied:
        return []  # the decision changed nothing a sheet shows
    return list(session.exec(
        select(HandoutPrint.printed_at).where(
            HandoutPrint.protocol_id == entry.protocol_id, HandoutPrint.protocol_version == entry.left_version,
            HandoutPrint.phase_index == entry.left_phase_index, col(HandoutPrint.printed_at) >= entry.at)
        .order_by(col(HandoutPrint.printed_at).desc())))
