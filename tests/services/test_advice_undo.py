"""Whether a decision on the advice still stands, and who may undo it when: plain values, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rehab.models import Protocol
from rehab.services.advice.card import changes_something
from rehab.services.advice.decisions import DecisionEntry
from rehab.services.advice.inputs import AdviceContext, AdviceInputs
from rehab.services.advice.types import Advice, DoseChange, Rule, SessionReport
from rehab.services.advice.undo import stands, undo_refusal

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
ZONE = "America/New_York"
RULE = Rule("pain_above_ceiling", "Worst pain 7/10 is above the ceiling of 5/10.", "silbernagel2007")
REGRESS = Advice("regress", (RULE,), DoseChange("minutes 5 → 3", field="minutes", old=5, new=3))
VISIT = SessionReport(at=AT - timedelta(hours=2), pain_worst=7, recorded_at=AT - timedelta(hours=1))
OVERRIDE = DecisionEntry(
    id=1, protocol_id=7, at=AT, by="Pat Therapist", by_id=3, decision="overridden", decision_label="Overridden",
    advice="regress", advice_text="Regress one level: minutes 5 → 3", rules=(RULE.text,),
    reason="Travelling next week", applied="", protocol_version=2, phase=1, left_version=2, left_phase_index=0,
    based_on=(40, None), undone_at=None, undone_by=None)


def protocol(version: int = 2, phase: int = 0) -> Protocol:
    return Protocol(id=7, patient_id=1, clinic_id=1, title="Knee plan", latest_version=version, current_phase=phase)


def context(advice: Advice = REGRESS, *, sessions: tuple[SessionReport, ...] = (VISIT,), newest_visit: int = 40,
            newest_log: int | None = None, cleared_until: datetime | None = None) -> AdviceContext:
    inputs = AdviceInputs(content=None, version=None, sessions=sessions, phase_index=0,  # type: ignore[arg-type]  # unread here
                          prescription_index=0, latest_visit_id=newest_visit, newest_visit_id=newest_visit,
                          newest_home_log_id=newest_log, dose_since=AT - timedelta(days=7), last_advance_at=None,
                          last_raise=None, cleared_until=cleared_until, surgery_date=None)
    return AdviceContext(advice, inputs)


def test_a_decision_stands_while_nothing_it_rested_on_changed():
    assert stands(OVERRIDE, protocol=protocol(), context=context())


@pytest.mark.parametrize("why", ["visit", "home log", "corrected", "version", "phase", "advice", "undone", "protocol"])
def test_a_decision_no_longer_stands_once_anything_it_rested_on_changed(why):
    entry, now, prot = OVERRIDE, context(), protocol()
    if why == "visit":
        now = context(newest_visit=41)
    elif why == "home log":
        now = context(newest_log=5)
    elif why == "corrected":  # the same visit, written again after the decision
        now = context(sessions=(replace(VISIT, recorded_at=AT + timedelta(minutes=5)),))
    elif why == "version":
        prot = protocol(version=3)
    elif why == "phase":
        prot = protocol(phase=1)
    elif why == "advice":  # an override answers one advice: another one asks again
        now = context(Advice("hold", (RULE,)))
    elif why == "undone":
        entry = replace(OVERRIDE, undone_at=AT + timedelta(minutes=1), undone_by="Pat Therapist")
    elif why == "protocol":
        entry = replace(OVERRIDE, protocol_id=8)
    assert not stands(entry, protocol=prot, context=now)


def test_an_accept_that_changed_the_dose_stands_on_the_protocol_it_left():
    accepted = replace(OVERRIDE, decision="accepted", decision_label="Accepted", applied="minutes 5 → 3", reason="",
                       left_version=3)
    after = context(Advice("repeat", (RULE,)))  # the advice after the change: not the one it answered
    assert stands(accepted, protocol=protocol(version=3), context=after)
    assert not stands(accepted, protocol=protocol(version=2), context=after)


def refusal(entry: DecisionEntry = OVERRIDE, *, user_id: int = 3, now: datetime = AT + timedelta(hours=1),
            latest: bool = True, now_context: AdviceContext | None = None) -> str | None:
    return undo_refusal(entry, protocol=protocol(), context=now_context or context(), latest=latest,
                        user_id=user_id, now=now, zone=ZONE)


def test_the_one_who_decided_may_undo_it_on_the_day():
    assert refusal() is None
    assert refusal(now=AT + timedelta(hours=13, minutes=59)) is None  # 23:59 in New York


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"user_id": 4}, "Only Pat Therapist, who made this decision, can undo it."),
    ({"now": AT + timedelta(hours=14)},  # 00:00 the next day in New York, though 19:00 in UTC the same day
     "A decision can be undone only on the day it was made (2026-12-01). To change the dose now, edit the protocol."),
    ({"latest": False}, "Only the latest decision on the active protocol can be undone."),
    ({"now_context": context(sessions=(VISIT, replace(VISIT, red_flags=("calf",))))},
     "A red flag or fall is waiting: record what was done about it first. The decision stays."),
    ({"now_context": context(newest_visit=41)},
     "A visit or home session was recorded or corrected since the decision, so the advice now rests on it. "
     "The decision stays."),
    ({"entry": replace(OVERRIDE, undone_at=AT, undone_by="Sam Colleague")},
     "This decision was already undone by Sam Colleague."),
])
def test_an_undo_is_refused_with_its_reason(kwargs, says):
    assert refusal(**kwargs) == says


def test_the_protocol_changed_since_is_named():
    changed = undo_refusal(OVERRIDE, protocol=protocol(version=4, phase=1), context=context(), latest=True,
                           user_id=3, now=AT, zone=ZONE)
    assert changed == ("The protocol was changed since the decision (it is now at version 4, phase 2). The decision "
                       "stays; change the dose in the protocol builder.")


def test_accepting_changes_something_only_with_a_change():
    assert changes_something(context())
    assert changes_something(context(Advice("regress", (RULE,), DoseChange("stop and review", review=True))))
    assert not changes_something(context(Advice("repeat", (RULE,))))
    assert not changes_something(context(Advice("hold", (RULE,), rest_days=2)))
