"""The advice over a patient's history: red flags and falls anywhere until cleared, a swelling hold until a visit
re-checks it, next-morning pain against the right baseline, the most severe rule winning, every pair of rules,
one variable at a time both ways, and the surgery-date gate. Visits and home logs in either order.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from rehab.services.advice.dose_steps import apply_change, dose_jumps, next_level, previous_level, raises
from rehab.services.advice.engine import advise
from rehab.services.advice.types import SEVERITY, DoseChange, SessionReport
from rehab.services.catalogue import templates
from rehab.services.protocol_content import Phase, Prescription, content_from_template

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
KNEE_OA = content_from_template(templates()["knee_oa"]).phases
PFP = content_from_template(templates()["pfp"]).phases
TKA = content_from_template(templates()["post_tka"]).phases
ACLR = content_from_template(templates()["post_aclr"]).phases


def at(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def visit(days: float = 0, hours: float = 0, pain: int = 2, recorded: datetime | None = None,
          **fields) -> SessionReport:  # type: ignore[no-untyped-def]
    return SessionReport(at=at(days, hours), pain_worst=pain, recorded_at=recorded, **{"effusion": "0", **fields})


def home(days: float = 0, hours: float = 0, pain: int = 2, recorded: datetime | None = None,
         **fields) -> SessionReport:  # type: ignore[no-untyped-def]
    return SessionReport(at=at(days, hours), pain_worst=pain, source="home", recorded_at=recorded, **fields)


def with_dose(phases: list[Phase], index: int, **fields) -> list[Phase]:  # type: ignore[no-untyped-def]
    changed = list(phases)
    rx = Prescription.model_validate({**phases[index].prescriptions[0].model_dump(), **fields})
    changed[index] = phases[index].model_copy(update={"prescriptions": [rx, *phases[index].prescriptions[1:]]})
    return changed


A_MONTH_AGO = at(30)


def run(sessions, *, phases=KNEE_OA, phase_index=0, cleared_until=None, surgery_date=None,  # type: ignore[no-untyped-def]
        last_raise=None, dose_since=A_MONTH_AGO, last_advance_at=None):
    return advise(phases=phases, phase_index=phase_index, prescription_index=0, sessions=sessions,
                  dose_since=dose_since, last_advance_at=last_advance_at, now=NOW, cleared_until=cleared_until,
                  surgery_date=surgery_date, last_raise=last_raise)


def codes(advice) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return tuple(rule.code for rule in advice.rules)


# ------------------------------------------------------------------ red flags and falls, in any order, until cleared

CALF = ("flag_calf",)
HISTORY = [
    pytest.param([home(hours=24, red_flags=CALF), visit(hours=1)], None, "stop_refer", id="calf pain 24 h before a "
                 "good visit still stops"),
    pytest.param([home(hours=26, falls=1), visit(days=3), visit(hours=1)], None, "stop_refer",
                 id="a fall 26 h before two good visits still stops"),
    pytest.param([visit(days=3), visit(days=1), home(days=2, red_flags=CALF, recorded=at(hours=1))], None,
                 "stop_refer", id="a red flag logged at home dated before the last visit stops"),
    pytest.param([visit(days=20, red_flags=("flag_chest",)), visit(days=3), visit(days=1)], None, "stop_refer",
                 id="an old red flag in the window stops"),
    pytest.param([home(days=5, red_flags=("flag_sudden_pain",)), visit(days=3), visit(days=1)], None, "stop_refer",
                 id="sudden sharp rise in pain stops"),
    pytest.param([home(days=5, red_flags=CALF, recorded=at(days=5)), visit(days=3), visit(days=1)], at(days=4),
                 "advance", id="cleared after it was recorded: goes on"),
    pytest.param([visit(days=3), visit(days=1), home(days=5, red_flags=CALF, recorded=at(hours=2))], at(days=1),
                 "stop_refer", id="a back-dated red flag recorded after the clearing still stops"),
    pytest.param([home(days=5, falls=1, recorded=at(days=5)), visit(days=3), home(days=1, red_flags=CALF)],
                 at(days=4), "stop_refer", id="a new red flag after a clearing stops again"),
    pytest.param([home(days=5, falls=2, recorded=at(days=5)), visit(days=3), visit(days=1)], at(days=5),
                 "advance", id="a clearing at the very moment of recording covers it"),
]


@pytest.mark.parametrize(("sessions", "cleared_until", "kind"), HISTORY)
def test_red_flags_and_falls_anywhere_until_cleared(sessions, cleared_until, kind):
    advice = run(sessions, cleared_until=cleared_until)
    assert advice.kind == kind
    if kind == "stop_refer":
        assert advice.change is None and advice.rest_days == 0


@pytest.mark.parametrize("order", [0, 1])
def test_date_order_of_the_input_does_not_matter(order):
    sessions = [home(hours=24, red_flags=CALF), visit(days=3), visit(hours=1)]
    advice = run(sessions if order else list(reversed(sessions)))
    assert advice.kind == "stop_refer" and "calf pain or swelling (home session of 24 Nov 2026)" in advice.rules[0].text


# ------------------------------------------------------------------ swelling: a hold stands until a visit re-checks

SWELLING = [
    pytest.param([visit(days=4, effusion="2+"), home(days=2), home(days=1)], "hold", ("effusion",),
                 id="two good home logs after a 2+ do not lift the hold"),
    pytest.param([visit(days=20, effusion="2+"), visit(days=10, effusion="1+"), home(days=3), home(days=1)], "hold",
                 ("effusion_after_hold",), id="a 1+ that never cleared still holds after 14 days"),
    pytest.param([visit(days=6, effusion="2+"), home(days=5), visit(days=3, effusion="trace"), visit(days=1)],
                 "advance", ("within_rules", "one_variable"), id="trace at a visit lifts the hold"),
    pytest.param([visit(days=6, effusion="2+"), visit(days=4, effusion="1+"), visit(days=3, effusion="0"),
                  home(days=1)], "advance", ("within_rules", "one_variable"), id="none at a visit lifts it too"),
    pytest.param([home(days=1), visit(days=4, effusion="2+"), home(days=2)], "hold", ("effusion",),
                 id="given in any order"),
]


@pytest.mark.parametrize(("sessions", "kind", "expected"), SWELLING)
def test_a_swelling_hold_is_lifted_only_by_a_clinic_grade(sessions, kind, expected):
    advice = run(sessions)
    assert (advice.kind, codes(advice)) == (kind, expected)


def test_the_hold_says_how_many_sessions_went_unchecked():
    advice = run([visit(days=4, effusion="2+"), home(days=2), home(days=1)])
    assert "2 sessions since, not re-checked" in advice.rules[0].text


# ------------------------------------------------------------------ next-morning pain against the session's baseline

MORNINGS = [
    pytest.param([visit(days=4, pain_before=2), home(days=1, pain_next_morning=5)], "repeat", ("not_settled",),
                 id="a home log's next morning counts against the last clinic baseline"),
    pytest.param([visit(days=4, pain_before=2), home(days=2), home(days=1, pain_next_morning=2)], "advance",
                 ("within_rules", "one_variable"), id="a settled home morning counts"),
    pytest.param([visit(days=2, pain_before=1), visit(pain_before=4, pain_next_morning=3)], "repeat",
                 ("not_settled",), id="a visit's next morning is about the session before it, not its own rest pain"),
    pytest.param([home(days=3), home(days=1, pain_next_morning=6)], "advance", ("within_rules", "one_variable"),
                 id="with no baseline at all the morning is not judged"),
    pytest.param([visit(days=6, pain_before=2), home(days=4, pain_next_morning=5), home(days=2), home(days=1)],
                 "repeat", ("not_settled",), id="the latest known morning decides even with later sessions"),
    pytest.param([visit(days=6, pain_before=2), home(days=4, pain_next_morning=5), home(days=2),
                  visit(pain_next_morning=2)], "advance", ("within_rules", "one_variable"),
                 id="a later settled morning supersedes it; the streak starts after the unsettled session"),
    pytest.param([visit(days=6, pain_before=2), home(days=4), home(days=2, pain_next_morning=5),
                  visit(pain_next_morning=2)], "repeat", ("not_settled",),
                 id="when both report one morning, the worse counts"),
]


@pytest.mark.parametrize(("sessions", "kind", "expected"), MORNINGS)
def test_next_morning_pain_from_any_session(sessions, kind, expected):
    advice = run(sessions)
    assert (advice.kind, codes(advice)) == (kind, expected)


def test_an_unsettled_morning_before_the_dose_began_does_not_block():
    advice = run([visit(days=6, pain_before=2), home(days=4, pain_next_morning=5), home(days=2), home(days=1)],
                 dose_since=at(days=3))
    assert advice.kind == "advance"


# ------------------------------------------------------------------ the most severe rule wins, every pair

# One trigger per rule on the latest session (after two good sessions); triggers on one field do not pair.
TRIGGERS: dict[str, tuple[dict, str, str]] = {
    "red_flag": ({"red_flags": CALF}, "stop_refer", "red_flags"),
    "fall": ({"falls": 1}, "stop_refer", "falls"),
    "soreness_stayed": ({"soreness": "warmup_stayed"}, "regress", "soreness"),
    "pain_above_ceiling": ({"pain": 8}, "regress", "pain"),
    "effusion": ({"effusion": "2+"}, "hold", "effusion"),
    "soreness_late": ({"soreness": "late"}, "repeat", "soreness"),
    "soreness_gone": ({"soreness": "warmup_gone"}, "repeat", "soreness"),
    "at_ceiling": ({"pain": 5}, "repeat", "pain"),
    "stumble": ({"stumbles": 1}, "repeat", "stumbles"),
}
REST = {"soreness_stayed": 2, "soreness_late": 1}
PAIRS = [(a, b) for a, b in itertools.combinations(TRIGGERS, 2) if TRIGGERS[a][2] != TRIGGERS[b][2]]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_every_pair_of_rules_the_most_severe_wins(first, second):
    fields = {**TRIGGERS[first][0], **TRIGGERS[second][0]}
    advice = run([visit(days=3), visit(days=1), visit(**fields)], phase_index=1)
    kinds = {TRIGGERS[first][1], TRIGGERS[second][1]}
    assert advice.kind == max(kinds, key=SEVERITY.__getitem__)
    assert {first, second} <= set(codes(advice))
    # The winner's rules come first.
    assert SEVERITY[advice.kind] == max(SEVERITY[TRIGGERS[code][1]] for code in codes(advice)[:1] if code in TRIGGERS)
    expected_rest = 0 if advice.kind == "stop_refer" else max(REST.get(first, 0), REST.get(second, 0))
    assert advice.rest_days == expected_rest
    assert (advice.change is not None) is (advice.kind == "regress")


@pytest.mark.parametrize(("fields", "expected", "rest"), [
    ({"effusion": "2+", "pain": 8}, ("pain_above_ceiling", "effusion"), 0),
    ({"effusion": "2+", "soreness": "warmup_stayed"}, ("soreness_stayed", "effusion"), 2),
    ({"effusion": "3+", "soreness": "warmup_stayed", "pain": 7}, ("soreness_stayed", "pain_above_ceiling", "effusion"),
     2),
])
def test_swelling_with_too_much_pain_or_soreness_regresses_and_keeps_the_days_off(fields, expected, rest):
    advice = run([visit(days=3), visit(days=1), visit(**fields)], phase_index=1)
    assert (advice.kind, codes(advice), advice.rest_days) == ("regress", expected, rest)
    assert advice.change is not None and advice.change.text == "minutes 10 → 8"


# ------------------------------------------------------------------ one variable at a time, both ways


def steps_to_next_phase(phases: list[Phase], phase_index: int) -> list[DoseChange]:
    """Apply the advance over and over (as accepted advice would) until it moves to the next phase."""
    rx = phases[phase_index].prescriptions[0]
    taken: list[DoseChange] = []
    for _ in range(30):
        change = next_level(rx, phase_index=phase_index, phases=phases)
        assert change is not None
        taken.append(change)
        if change.to_phase is not None:
            return taken
        rx = apply_change(rx, change)
    raise AssertionError("never reached the next phase")


@pytest.mark.parametrize(("phases", "index"), [(KNEE_OA, 0), (KNEE_OA, 1), (PFP, 0), (PFP, 1), (TKA, 0), (TKA, 1),
                                              (ACLR, 0), (ACLR, 1)],
                         ids=["knee OA 1-2", "knee OA 2-3", "PFP 1-2", "PFP 2-3", "TKA 1-2", "TKA 2-3", "ACLR 1-2",
                              "ACLR 2-3"])
def test_every_step_into_the_next_phase_changes_one_thing(phases, index):
    steps = steps_to_next_phase(phases, index)
    rx = phases[index].prescriptions[0]
    for step in steps[:-1]:
        after = apply_change(rx, step)
        assert len(raises(rx, after)) == 1, step.text
        rx = after
    move = steps[-1]
    target = phases[index + 1].prescriptions[0]
    start = Prescription.model_validate(move.entry) if move.entry else target
    if start.exercise == rx.exercise:
        assert len(raises(rx, start)) <= 1, move.text
    else:
        assert raises(rx, start) == [] or [r[0] for r in raises(rx, start)] == ["speed_kmh"], move.text


def test_knee_oa_learn_to_load_raises_speed_first_and_the_move_lowers_the_support():
    texts = [step.text for step in steps_to_next_phase(KNEE_OA, 0)]
    assert texts[-2:] == ["speed 1.2 km/h (0.7 mph) → 1.4 km/h (0.9 mph), before the move to phase 2",
                          "move to phase 2 (Load)"]


def test_aclr_band_to_treadmill_starts_the_treadmill_gently():
    move = steps_to_next_phase(ACLR, 0)[-1]
    assert move.entry is not None
    start = Prescription.model_validate(move.entry)
    assert (start.exercise, start.minutes, start.minutes_goal, start.incline_pct, start.incline_goal_pct) == (
        "incline_treadmill", 5, 15, 0, 10)
    assert move.text.startswith("move to phase 2 (Treadmill and incline), starting backward walking uphill on a "
                                "treadmill at 5 min, 2 km/h")


LOAD = KNEE_OA[1].prescriptions[0]
BAND = ACLR[0].prescriptions[0]


@pytest.mark.parametrize(("rx", "phase_index", "last_raise", "text"), [
    (LOAD.model_copy(update={"speed_kmh": 1.6}), 1, DoseChange("speed", "speed_kmh", 1.4, 1.6),
     "speed 1.6 km/h (1 mph) → 1.4 km/h (0.9 mph) (undoes the last raise)"),
    (LOAD.model_copy(update={"incline_pct": 2.5}), 1, DoseChange("incline", "incline_pct", 0, 2.5),
     "incline 2.5 → 0 % (undoes the last raise)"),
    (LOAD.model_copy(update={"support": "light_touch"}), 1, DoseChange("s", "support", "one_rail", "light_touch"),
     "support light touch → one rail (undoes the last raise)"),
    (LOAD.model_copy(update={"speed_kmh": 1.8}), 1, DoseChange("speed", "speed_kmh", 1.4, 1.6),
     "minutes 10 → 8"),  # the raise was changed by hand since: fewer minutes
    (LOAD, 1, DoseChange("move", to_phase=1), "back to phase 1 (Learn) (undoes the last move)"),
    (BAND, 0, None, "sets 3 → 2"),
    (BAND.model_copy(update={"sets": 1}), 0, None, "steps a set 10 → 8"),
    (BAND.model_copy(update={"sets": 1, "reps": 2}), 0, None,
     "stop and review the plan: this is the lowest dose of the first phase"),
    (BAND.model_copy(update={"sets": 1, "reps": 2}), 1, None, "back to phase 1 (Band)"),
    (PFP[2].prescriptions[1], 2, None, "backward parts 5 → 4"),
])
def test_regress_undoes_the_last_raise_and_works_on_sets_and_steps(rx, phase_index, last_raise, text):
    phases = ACLR if rx.exercise == "band_resisted" else PFP if rx.segments else KNEE_OA
    assert previous_level(rx, phase_index=phase_index, phases=phases, last_raise=last_raise).text == text


def test_regress_through_the_engine_undoes_the_speed_last_raised():
    phases = with_dose(KNEE_OA, 1, speed_kmh=1.6)
    advice = run([visit(days=2), visit(pain=7)], phases=phases, phase_index=1,
                 last_raise=DoseChange("speed", "speed_kmh", 1.4, 1.6))
    assert advice.kind == "regress" and advice.change is not None
    assert (advice.change.field, advice.change.old, advice.change.new) == ("speed_kmh", 1.6, 1.4)


def test_fewer_parts_keep_each_part_as_long():
    rx = PFP[2].prescriptions[1]  # 5 parts of 1 minute
    smaller = apply_change(rx, previous_level(rx, phase_index=2, phases=PFP))
    assert (smaller.segments, smaller.minutes) == (4, 4)


# ------------------------------------------------------------------ the surgery-date gate

TKA_BARS_DONE = with_dose(TKA, 0, minutes=5)


@pytest.mark.parametrize(("surgery", "kind", "expected"), [
    (date(2026, 10, 24), "repeat", ("within_rules", "surgery_weeks")),  # 4 weeks: the treadmill starts at week 6
    (NOW.date() - timedelta(days=41), "repeat", ("within_rules", "surgery_weeks")),  # one day short of week 6
    (NOW.date() - timedelta(days=42), "advance", ("within_rules", "one_variable")),
    (None, "repeat", ("within_rules", "surgery_date_missing")),  # safer: no date, no post-operative phase
])
def test_no_advance_into_a_phase_the_weeks_since_surgery_do_not_allow(surgery, kind, expected):
    advice = run([visit(days=5), visit(days=3), visit(days=1)], phases=TKA_BARS_DONE, surgery_date=surgery)
    assert (advice.kind, codes(advice)) == (kind, expected)
    if kind == "advance":
        assert advice.change is not None and advice.change.to_phase == 1


def test_the_gate_says_the_week():
    advice = run([visit(days=5), visit(days=3), visit(days=1)], phases=TKA_BARS_DONE, surgery_date=date(2026, 10, 24))
    assert advice.rules[1].text == ("Phase 2 (Treadmill) starts at week 6 after surgery; the patient is in week 4 "
                                    "(surgery 24 Oct 2026): not yet.")


def test_phases_without_post_operative_weeks_are_not_gated():
    phases = with_dose(KNEE_OA, 0, minutes=10, speed_kmh=1.4)
    assert run([visit(days=3), visit(days=1)], phases=phases, surgery_date=None).kind == "advance"


# ------------------------------------------------------------------ the builder: a dose raised by hand

OA = content_from_template(templates()["knee_oa"])


def oa_with(**fields):  # type: ignore[no-untyped-def]
    return OA.model_copy(update={"phases": with_dose(OA.phases, 0, **fields)})


@pytest.mark.parametrize(("current", "week_ago", "new", "last_raise_days", "problems"), [
    ({}, {}, {"minutes": 7}, None, []),  # one level of one variable
    ({}, {}, {"minutes": 10}, None, ["minutes 5 → 10 is more than one level"]),
    ({}, {}, {"minutes": 7, "speed_kmh": 1.4}, None, ["2 things raised within a week (minutes, speed)"]),
    ({"minutes": 7}, {}, {"minutes": 9}, None, ["minutes 5 → 9 is more than one level"]),  # two hand raises a week
    ({"minutes": 7}, {"minutes": 7}, {"minutes": 9}, 3, ["the advice raised it 3 day(s) ago"]),
    ({"minutes": 7}, {"minutes": 7}, {"minutes": 9}, 8, []),
    ({"minutes": 7}, {}, {"minutes": 7, "cues": "Short steps"}, 1, []),  # nothing raised by this edit
    ({}, {}, {"minutes": 4}, 1, []),  # lowering is never warned
])
def test_hand_raised_doses_are_held_to_one_level_a_week(current, week_ago, new, last_raise_days, problems):
    last = None if last_raise_days is None else NOW - timedelta(days=last_raise_days)
    warnings = dose_jumps(oa_with(**current), oa_with(**week_ago), oa_with(**new), phase_index=0,
                          last_raise_at=last, now=NOW)
    assert len(warnings) == (1 if problems else 0)
    for problem in problems:
        assert problem in warnings[0].message and warnings[0].rule == "dose_jump"
