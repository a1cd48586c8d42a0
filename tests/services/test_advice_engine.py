"""The progression advice engine without an app: every rule of ``advise`` and its boundaries, one row a case.

Times are relative to a fixed ``NOW``; phases come from the knee OA template (phase 1 Learn: 5 -> 10 minutes at
1.2 km/h, no speed or incline goal; phase 2 Load: 10 -> 15 minutes, 1.4 -> 1.8 km/h, 0 -> 5 %; phase 3 Build,
the last, with a re-test) or from it with one dose changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehab.services.advice.alerts import alerts_for
from rehab.services.advice.dose_steps import next_level, previous_level
from rehab.services.advice.engine import advise
from rehab.services.advice.situation import Morning, open_hold, within_pain_rules
from rehab.services.advice.types import SessionReport
from rehab.services.catalogue import templates
from rehab.services.protocol_content import Phase, Prescription, content_from_template

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
KNEE_OA = content_from_template(templates()["knee_oa"]).phases
PFP = content_from_template(templates()["pfp"]).phases


def at(*, days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def visit(days: float = 0, hours: float = 0, pain: int = 2, **fields) -> SessionReport:  # type: ignore[no-untyped-def]
    """A clinic visit: effusion is measured (none unless given)."""
    return SessionReport(at=at(days=days, hours=hours), pain_worst=pain, **{"effusion": "0", **fields})


def home(days: float = 0, hours: float = 0, pain: int = 2, **fields) -> SessionReport:  # type: ignore[no-untyped-def]
    """A home-log session: no effusion grade."""
    return SessionReport(at=at(days=days, hours=hours), pain_worst=pain, source="home", **fields)


def with_dose(phases: list[Phase], index: int, **fields) -> list[Phase]:  # type: ignore[no-untyped-def]
    """The phases with the first prescription of one phase changed (validated like a saved version)."""
    changed = list(phases)
    phase = phases[index]
    rx = Prescription.model_validate({**phase.prescriptions[0].model_dump(), **fields})
    changed[index] = phase.model_copy(update={"prescriptions": [rx, *phase.prescriptions[1:]]})
    return changed


def with_phase(phases: list[Phase], index: int, **fields) -> list[Phase]:  # type: ignore[no-untyped-def]
    changed = list(phases)
    changed[index] = phases[index].model_copy(update=fields)
    return changed


GOOD_PAIR = [visit(days=3), visit(days=1)]
A_MONTH_AGO = at(days=30)
LEARN_AT_GOAL = with_dose(KNEE_OA, 0, minutes=10)
LOAD_AT_MINUTES_GOAL = with_dose(KNEE_OA, 1, minutes=15)
LOAD_AT_SPEED_GOAL = with_dose(KNEE_OA, 1, minutes=15, speed_kmh=1.8)
LOAD_AT_ALL_GOALS = with_dose(KNEE_OA, 1, minutes=15, speed_kmh=1.8, incline_pct=5)
BUILD_AT_ALL_GOALS = with_dose(KNEE_OA, 2, minutes=30, incline_pct=10)
STUMBLES_ALLOWED = with_phase(KNEE_OA, 0, no_stumbles=False)
WITHIN = ("within_rules",)
ADVANCE = ("within_rules", "one_variable")


def case(name, sessions, kind, codes, change=None, *, phases=KNEE_OA, phase_index=0,  # type: ignore[no-untyped-def]
         dose_since=A_MONTH_AGO, last_advance_at=None, to_phase=None, rest_days=0, notes=()):
    return pytest.param(phases, phase_index, sessions, dose_since, last_advance_at, kind, codes, change, to_phase,
                        rest_days, notes, id=name)


CASES = [
    # Nothing to judge yet.
    case("no sessions", [], "repeat", ("no_sessions",)),
    # Red flags and falls stop everything, whatever else the session says.
    case("red flag calf", [*GOOD_PAIR, visit(red_flags=("flag_calf",))], "stop_refer", ("red_flag",)),
    case("red flag chest", [*GOOD_PAIR, visit(red_flags=("flag_chest",))], "stop_refer", ("red_flag",)),
    case("red flag infection", [*GOOD_PAIR, visit(red_flags=("flag_infection",))], "stop_refer", ("red_flag",)),
    case("red flag locking", [*GOOD_PAIR, home(red_flags=("flag_locking",))], "stop_refer", ("red_flag",)),
    case("red flag wins over a fall and swelling, and every finding shows",
         [visit(red_flags=("flag_calf",), falls=1, effusion="3+")], "stop_refer", ("red_flag", "fall", "effusion")),
    case("sudden sharp rise in pain is a red flag", [*GOOD_PAIR, home(red_flags=("flag_sudden_pain",))],
         "stop_refer", ("red_flag",)),
    case("a fall", [*GOOD_PAIR, home(falls=1)], "stop_refer", ("fall",)),
    # Effusion (stroke test): 2+ holds, twice in a row refers, 1+ alone may progress, 1+ after a hold holds again.
    case("effusion 2+ holds", [*GOOD_PAIR, visit(effusion="2+")], "hold", ("effusion",)),
    case("effusion 3+ holds", [visit(effusion="3+")], "hold", ("effusion",)),
    case("effusion 2+ at two visits in a row refers", [visit(days=3, effusion="2+"), visit(effusion="2+")],
         "stop_refer", ("effusion_persists", "effusion")),
    case("a home log between two 2+ visits does not break the run",
         [visit(days=4, effusion="2+"), home(days=2), visit(effusion="3+")], "stop_refer",
         ("effusion_persists", "effusion")),
    case("2+ after a trace visit holds, not refers",
         [visit(days=6, effusion="2+"), visit(days=3, effusion="trace"), visit(effusion="2+")], "hold", ("effusion",)),
    case("effusion 1+ alone does not hold", [visit(days=3, effusion="1+"), visit(hours=1, effusion="1+")],
         "advance", ADVANCE, "minutes 5 → 7"),
    case("1+ within 14 days after a 2+ hold holds again", [visit(days=5, effusion="2+"), visit(effusion="1+")],
         "hold", ("effusion_after_hold",)),
    case("1+ 15 days after a 2+ hold no longer holds",
         [visit(days=15, effusion="2+"), visit(days=3, effusion="trace"), visit(effusion="1+")],
         "advance", ADVANCE, "minutes 5 → 7"),
    case("a 1+ visit held after a hold does not count toward advancing",
         [visit(days=12, effusion="2+"), visit(days=4, effusion="1+"), visit(days=1, effusion="trace")],
         "repeat", WITHIN),
    case("a 1+ visit held after a hold starts the 48-hour gap",
         [visit(days=12, effusion="2+"), visit(hours=47, effusion="1+"), visit(hours=24, effusion="trace"),
          visit(hours=1, effusion="0")], "repeat", ("within_rules", "hold_gap")),
    # Soreness rules (Adams 2012).
    case("warm-up soreness that stayed: 2 days off, one level down", [*GOOD_PAIR, visit(soreness="warmup_stayed")],
         "regress", ("soreness_stayed",), "minutes 10 → 8", phase_index=1, rest_days=2),
    case("late soreness: 1 day off, repeat", [*GOOD_PAIR, visit(soreness="late")], "repeat", ("soreness_late",),
         rest_days=1),
    case("warm-up soreness that went away: repeat", [*GOOD_PAIR, visit(soreness="warmup_gone")], "repeat",
         ("soreness_gone",)),
    case("late soreness and not settled: both rules, in order",
         [visit(days=3), visit(days=1, pain_before=1), visit(soreness="late", pain_next_morning=3)], "repeat",
         ("soreness_late", "not_settled"), rest_days=1),
    # Pain ceiling: at the ceiling is acceptable to repeat (expert opinion), one above regresses.
    case("pain exactly at the ceiling of 5: repeat, not advance", [visit(days=3, pain=5), visit(pain=5)], "repeat",
         ("at_ceiling",)),
    case("an earlier session at the ceiling does not count toward advancing",
         [visit(days=3, pain=5), visit(pain=4)], "repeat", WITHIN),
    case("pain 6 above the ceiling of 5 regresses", [*GOOD_PAIR, visit(pain=6)], "regress", ("pain_above_ceiling",),
         "minutes 5 → 3"),
    case("PFP pain 3 at its ceiling of 3: repeat", [visit(days=3, pain=3), visit(pain=3)], "repeat",
         ("at_ceiling",), phases=PFP),
    case("PFP pain 2 below its ceiling of 3 counts", [visit(days=3, pain=2), visit(pain=2)], "advance", ADVANCE,
         "minutes 10 → 12", phases=PFP),
    case("PFP pain 4 above its ceiling of 3 regresses", [*GOOD_PAIR, visit(pain=4)], "regress",
         ("pain_above_ceiling",), "minutes 10 → 8", phases=PFP),
    # Settled by the next morning: a visit reports the morning after the session before it.
    case("pain next morning above the baseline of the session it follows: repeat",
         [visit(days=3), visit(days=1, pain_before=2), visit(pain_next_morning=3)], "repeat", ("not_settled",)),
    case("pain next morning back to the baseline counts",
         [visit(days=5, pain_before=2), visit(days=3, pain_before=2, pain_next_morning=2),
          visit(pain_before=2, pain_next_morning=2)], "advance", ADVANCE, "minutes 5 → 7"),
    # Stumbles.
    case("a stumble where the phase asks for none: repeat", [*GOOD_PAIR, visit(stumbles=1)], "repeat",
         ("stumble",)),
    case("a stumble where the phase allows it counts", [visit(days=3, stumbles=1), visit(stumbles=2)], "advance",
         ADVANCE, "minutes 5 → 7", phases=STUMBLES_ALLOWED),
    # The streak of sessions within the pain rules at this dose.
    case("1 of 2 sessions within the rules: repeat", [visit()], "repeat", WITHIN),
    case("2 of 2 sessions: advance the minutes", GOOD_PAIR, "advance", ADVANCE, "minutes 5 → 7"),
    case("a streak broken by an earlier bad session counts only what came after",
         [visit(days=6), visit(days=5), visit(days=3, soreness="warmup_gone"), visit(days=1)], "repeat", WITHIN),
    case("sessions before the dose began do not count", [visit(days=5), visit(days=3), visit(days=1)], "repeat",
         WITHIN, dose_since=at(days=2)),
    case("home-log sessions count like visits", [home(days=3), home(days=1)], "advance", ADVANCE, "minutes 5 → 7"),
    # One variable at a time: minutes (capped at the goal), then speed, then incline, then the next phase.
    case("minutes capped at the goal", GOOD_PAIR, "advance", ADVANCE, "minutes 9 → 10",
         phases=with_dose(KNEE_OA, 0, minutes=9)),
    case("minutes first while speed and incline are below their goals", GOOD_PAIR, "advance", ADVANCE,
         "minutes 10 → 12", phase_index=1),
    case("minutes at goal: speed +0.2 km/h", GOOD_PAIR, "advance", ADVANCE,
         "speed 1.4 km/h (0.9 mph) → 1.6 km/h (1 mph)", phases=LOAD_AT_MINUTES_GOAL, phase_index=1),
    case("minutes and speed at goal: incline +2.5 %", GOOD_PAIR, "advance", ADVANCE, "incline 0 → 2.5 %",
         phases=LOAD_AT_SPEED_GOAL, phase_index=1),
    case("every goal reached: the next phase's first raise comes before the move", GOOD_PAIR, "advance", ADVANCE,
         "speed 1.2 km/h (0.7 mph) → 1.4 km/h (0.9 mph), before the move to phase 2", phases=LEARN_AT_GOAL),
    case("one raise left: the move makes it", GOOD_PAIR, "advance", ADVANCE, "move to phase 2 (Load)",
         phases=with_dose(LEARN_AT_GOAL, 0, speed_kmh=1.4), to_phase=1),
    case("moving on from a phase with a re-test carries the re-test note", GOOD_PAIR, "advance", ADVANCE,
         "move to phase 3 (Build)", phases=with_phase(LOAD_AT_ALL_GOALS, 1, retest=True), phase_index=1,
         to_phase=2, notes=("Re-test the outcome measures before moving on.",)),
    case("last phase at every goal: goals reached", GOOD_PAIR, "repeat", ("within_rules", "goals_reached"),
         phases=BUILD_AT_ALL_GOALS, phase_index=2),
    # Time limits: 48 hours after a hold, one level a week.
    case("a hold 47 hours ago blocks advancing",
         [visit(hours=47, effusion="2+"), visit(hours=24), visit(hours=1)], "repeat", ("within_rules", "hold_gap")),
    case("a hold 49 hours ago does not block",
         [visit(hours=49, effusion="2+"), visit(hours=24), visit(hours=1)], "advance", ADVANCE, "minutes 5 → 7"),
    case("last advance 6 days ago blocks", GOOD_PAIR, "repeat", ("within_rules", "one_level_a_week"),
         last_advance_at=at(days=6)),
    case("last advance 7 days ago does not block", GOOD_PAIR, "advance", ADVANCE, "minutes 5 → 7",
         last_advance_at=at(days=7)),
    # Pain must not rise week to week.
    case("mean pain up 1 point on last week: repeat",
         [visit(days=10, pain=2), visit(days=8, pain=2), visit(days=3, pain=3), visit(days=1, pain=3)], "repeat",
         ("pain_rising",)),
    case("mean pain up 0.5 on last week does not block",
         [visit(days=10, pain=2), visit(days=8, pain=2), visit(days=3, pain=2), visit(days=1, pain=3)], "advance",
         ADVANCE, "minutes 5 → 7"),
    # One level down.
    case("regress at 2 minutes in phase 2 goes back to phase 1", [visit(pain=6)], "regress",
         ("pain_above_ceiling",), "back to phase 1 (Learn)", phases=with_dose(KNEE_OA, 1, minutes=2), phase_index=1,
         to_phase=0),
    case("regress from 3 minutes keeps 1 minute", [visit(pain=6)], "regress", ("pain_above_ceiling",),
         "minutes 3 → 1", phases=with_dose(KNEE_OA, 1, minutes=3), phase_index=1),
    case("regress at the floor of phase 1: stop and review", [visit(pain=6)], "regress", ("pain_above_ceiling",),
         "stop and review the plan: this is the lowest dose of the first phase",
         phases=with_dose(KNEE_OA, 0, minutes=2)),
]


@pytest.mark.parametrize(("phases", "phase_index", "sessions", "dose_since", "last_advance_at", "kind", "codes",
                          "change", "to_phase", "rest_days", "notes"), CASES)
def test_advice(phases, phase_index, sessions, dose_since, last_advance_at, kind, codes, change, to_phase,
                rest_days, notes):
    advice = advise(phases=phases, phase_index=phase_index, prescription_index=0, sessions=sessions,
                    dose_since=dose_since, last_advance_at=last_advance_at, now=NOW)
    assert advice.kind == kind
    assert tuple(rule.code for rule in advice.rules) == codes
    assert (advice.change.text if advice.change else None) == change
    assert (advice.change.to_phase if advice.change else None) == to_phase
    assert advice.rest_days == rest_days
    assert advice.notes == notes


def test_every_rule_that_fired_cites_a_source_and_says_why():
    advice = advise(phases=KNEE_OA, phase_index=0, prescription_index=0, sessions=[visit()], dose_since=at(days=30),
                    last_advance_at=None, now=NOW)
    assert advice.rules[0].text.startswith("1 of 2 sessions within the pain rules")
    assert "below 5/10" in advice.rules[0].text and advice.rules[0].source == "silbernagel2007"
    assert advice.headline == "Repeat this level"


def test_red_flag_advice_names_the_flag():
    advice = advise(phases=KNEE_OA, phase_index=0, prescription_index=0, sessions=[home(red_flags=("flag_calf",))],
                    dose_since=at(days=30), last_advance_at=None, now=NOW)
    assert "calf pain or swelling" in advice.rules[0].text and advice.rules[0].source == "red_flags"


def test_advance_carries_the_variable_its_old_and_new_value():
    advice = advise(phases=KNEE_OA, phase_index=0, prescription_index=0, sessions=GOOD_PAIR, dose_since=at(days=30),
                    last_advance_at=None, now=NOW)
    assert advice.change is not None
    assert (advice.change.field, advice.change.old, advice.change.new) == ("minutes", 5, 7)
    assert advice.headline == "Advance: minutes 5 → 7"


def test_the_prescription_index_picks_the_dose_and_is_clamped():
    phases = BUILD_AT_ALL_GOALS  # phase 3 has a treadmill dose and a home dose (10 -> 15 minutes)
    second = advise(phases=phases, phase_index=2, prescription_index=1, sessions=GOOD_PAIR, dose_since=at(days=30),
                    last_advance_at=None, now=NOW)
    beyond = advise(phases=phases, phase_index=2, prescription_index=9, sessions=GOOD_PAIR, dose_since=at(days=30),
                    last_advance_at=None, now=NOW)
    assert second.change is not None and second.change.text == "minutes 10 → 12"
    assert beyond.change is not None and beyond.change.text == "minutes 10 → 12"


@pytest.mark.parametrize(("fields", "unit", "text"), [
    ({"minutes": 5, "minutes_goal": 10}, "kmh", "minutes 5 → 7"),
    ({"minutes": 9.5, "minutes_goal": 10}, "kmh", "minutes 9.5 → 10"),
    ({"minutes": 10, "minutes_goal": 10, "speed_kmh": 1.7, "speed_goal_kmh": 1.8}, "kmh",
     "speed 1.7 km/h (1.1 mph) → 1.8 km/h (1.1 mph)"),
    ({"minutes": 10, "speed_kmh": 1.6, "speed_goal_kmh": 2.4}, "mph", "speed 1 mph (1.6 km/h) → 1.1 mph (1.8 km/h)"),
    ({"minutes": 10, "incline_pct": 4, "incline_goal_pct": 5}, "kmh", "incline 4 → 5 %"),
    # A speed without a goal stays put in its phase; the next phase's faster start is then one step of its own.
    ({"minutes": 10, "speed_kmh": 1.2}, "kmh", "speed 1.2 km/h (0.7 mph) → 1.4 km/h (0.9 mph), before the move to "
     "phase 2"),
    ({"minutes": 10, "speed_kmh": 1.4}, "kmh", "move to phase 2 (Load)"),
])
def test_next_level_one_variable_in_order(fields, unit, text):
    rx = Prescription.model_validate({**KNEE_OA[0].prescriptions[0].model_dump(), "minutes_goal": None, **fields})
    change = next_level(rx, phase_index=0, phases=KNEE_OA, speed_unit=unit)
    assert change is not None and change.text == text


def test_next_level_is_none_at_the_end_of_the_last_phase():
    assert next_level(BUILD_AT_ALL_GOALS[2].prescriptions[0], phase_index=2, phases=KNEE_OA) is None


@pytest.mark.parametrize(("minutes", "phase_index", "text"), [
    (10, 0, "minutes 10 → 8"), (3, 0, "minutes 3 → 1"), (2.5, 1, "back to phase 1 (Learn)"),
    (2, 2, "back to phase 2 (Load)"),
    (2, 0, "stop and review the plan: this is the lowest dose of the first phase"),
    (0.5, 0, "stop and review the plan: this is the lowest dose of the first phase"),
])
def test_previous_level(minutes, phase_index, text):
    rx = Prescription.model_validate({**KNEE_OA[0].prescriptions[0].model_dump(), "minutes": minutes})
    change = previous_level(rx, phase_index=phase_index, phases=KNEE_OA)
    assert change.text == text


@pytest.mark.parametrize(("session", "ceiling", "no_stumbles", "within"), [
    (visit(pain=4), 5, True, True),
    (visit(pain=5), 5, True, False),  # at the ceiling: acceptable to repeat, not to build on
    (visit(pain=6), 5, True, False),
    (visit(pain=2), 3, True, True),
    (visit(pain=3), 3, True, False),
    (visit(pain=4), 3, True, False),
    (visit(pain=0), 0, True, True),  # no pain at all, whatever the ceiling
    (visit(soreness="warmup_gone"), 5, True, False),
    (visit(soreness="late"), 5, True, False),
    (visit(soreness="warmup_stayed"), 5, True, False),
    (visit(effusion="trace"), 5, True, True),
    (visit(effusion="1+"), 5, True, True),
    (visit(effusion="2+"), 5, True, False),
    (visit(effusion="3+"), 5, True, False),
    (home(), 5, True, True),
    (visit(red_flags=("flag_chest",)), 5, True, False),
    (visit(falls=1), 5, True, False),
    (visit(stumbles=1), 5, True, False),
    (visit(stumbles=1), 5, False, True),
])
def test_within_pain_rules(session, ceiling, no_stumbles, within):
    assert within_pain_rules(session, ceiling=ceiling, no_stumbles=no_stumbles) is within


@pytest.mark.parametrize(("morning", "within"), [
    (Morning(2, 2), True), (Morning(3, 2), False), (Morning(4, None), True),  # no baseline: nothing to compare
])
def test_within_pain_rules_reads_the_next_morning_against_the_baseline(morning, within):
    assert within_pain_rules(visit(), ceiling=5, no_stumbles=True, morning=morning) is within


@pytest.mark.parametrize(("sessions", "held"), [
    ([visit(effusion="2+")], True),
    ([visit(effusion="3+")], True),
    ([visit(effusion="1+")], False),
    ([visit(days=14, effusion="2+"), visit(effusion="1+")], True),  # 1+ after a hold holds again
    ([visit(days=40, effusion="2+"), visit(effusion="1+")], True),  # however long ago: 1+ never lifts it
    ([visit(days=2, effusion="2+"), visit(effusion="trace")], False),  # trace or none: progress again
    ([visit(days=2, effusion="2+"), visit(effusion="0")], False),
    ([visit(days=2, effusion="2+"), home(days=1), home()], True),  # home logs grade nothing
])
def test_a_hold_stands_until_a_visit_grades_trace_or_none(sessions, held):
    assert (open_hold(sessions) is not None) is held


@pytest.mark.parametrize(("latest", "previous", "ceiling", "kinds"), [
    (home(red_flags=("flag_calf",)), None, 5, ["red_flag"]),
    (home(falls=1), None, 5, ["fall"]),
    (home(falls=2, red_flags=("flag_locking",)), None, 5, ["red_flag", "fall"]),
    (visit(pain=6), visit(days=2, pain=6), 5, ["pain_twice"]),
    (visit(pain=4), visit(days=2, pain=7), 3, ["pain_twice"]),
    (visit(pain=6), None, 5, []),  # only once at a visit: the therapist saw it
    (home(pain=6), None, 5, ["pain_high"]),  # once at home: nobody saw it
    (home(pain=5), None, 5, []),
    (home(pain=7), home(days=2, pain=6), 5, ["pain_twice"]),
    (visit(pain=6), visit(days=2, pain=2), 5, []),  # only once
    (visit(pain=6), visit(days=2, pain=5), 5, []),  # the previous was exactly at the ceiling
    (visit(pain=5), visit(days=2, pain=6), 5, []),  # the latest is exactly at the ceiling
    (visit(pain=2), visit(days=2, pain=2), 5, []),
])
def test_alerts(latest, previous, ceiling, kinds):
    assert [kind for kind, _ in alerts_for(latest, previous, ceiling=ceiling)] == kinds


def test_alert_messages_say_what_happened():
    alerts = dict(alerts_for(home(pain=7, falls=2, red_flags=("flag_calf",)), home(days=1, pain=6), ceiling=5))
    assert alerts == {"red_flag": "Red flag reported: calf pain or swelling.", "fall": "2 falls reported.",
                      "pain_twice": "Pain above the ceiling of 5/10 twice in a row (6 then 7)."}
