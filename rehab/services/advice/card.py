"""What the advice card on the patient page shows, in plain values: the template only lays it out.

No card before the patient's first session (there is nothing to advise on). A red flag or fall waiting comes
first, whatever was decided. Then a decision that still stands: who decided, when and why, the advice it
answered, and its undo (or why there is none). Otherwise the advice, with Accept only where accepting changes
something (a dose, a phase, or the agreement to stop and review) and Override beside it; advice that changes
nothing (repeat, hold) asks for no decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rehab.models import Protocol
from rehab.services.advice.decisions import AdviceShown, DecisionEntry
from rehab.services.advice.inputs import AdviceContext
from rehab.services.advice.types import SessionReport
from rehab.services.advice.undo import stands, undo_refusal


@dataclass(frozen=True)
class AdviceCard:
    context: AdviceContext
    shown: AdviceShown  # what the decision forms state back
    waiting: list[SessionReport]  # red flags and falls no therapist has cleared: nothing to decide until then
    decided: DecisionEntry | None  # the decision standing on the card
    undo_refusal: str | None  # why the viewer cannot undo it ("" with no decision standing); None: they can
    earlier: list[DecisionEntry]  # the patient's recent decisions, newest first, for the card's history

    @property
    def decidable(self) -> bool:
        """Accept and Override are offered: nothing waits, nothing stands, and accepting changes something."""
        return not self.waiting and self.decided is None and changes_something(self.context)

    @property
    def can_undo(self) -> bool:
        return self.decided is not None and self.undo_refusal is None


def changes_something(context: AdviceContext) -> bool:
    """Whether accepting the advice now does anything: applies its change, or records the agreement to stop
    and review. Repeat, hold, and advance held back by a gate change nothing: the dose stays as it is."""
    return context.advice.change is not None


def advice_card(*, protocol: Protocol, context: AdviceContext, history: list[DecisionEntry], has_sessions: bool,
                user_id: int, now: datetime, zone: str) -> AdviceCard | None:
    """The card's state for the viewer ``user_id``; None before the patient's first visit or home session.
    ``history`` is the patient's newest decisions, newest first (``decisions.decision_history``)."""
    if not has_sessions:
        return None
    latest = next((entry for entry in history if entry.protocol_id == protocol.id), None)
    waiting = context.inputs.uncleared
    # Only the newest decision can stand: a later one was made because the earlier no longer stood, and its
    # undo puts back the state in which the earlier did not stand either.
    decided = latest if latest is not None and not waiting and stands(latest, protocol=protocol,
                                                                       context=context) else None
    refusal = "" if decided is None else undo_refusal(decided, protocol=protocol, context=context, latest=True,
                                                      user_id=user_id, now=now, zone=zone)
    return AdviceCard(context, AdviceShown.of(context), waiting, decided, refusal, history)


def standing_decision(*, protocol: Protocol, context: AdviceContext, history: list[DecisionEntry]
                      ) -> DecisionEntry | None:
    """The decision that already answers the advice now, if any (a decision on it again is refused)."""
    latest = next((entry for entry in history if entry.protocol_id == protocol.id), None)
    return latest if latest is not None and stands(latest, protocol=protocol, context=context) else None
