"""The guided session's timed plan, and the interval pattern it plays: worked examples, minutes into seconds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rehab.forms.protocol import content_from_draft, draft_from_content
from rehab.services.advice.dose_steps import apply_change
from rehab.services.advice.types import DoseChange
from rehab.services.catalogue import templates
from rehab.services.dose import dose_sentence, dose_summary
from rehab.services.protocol_content import Prescription, backward_capacity, content_from_template
from rehab.services.session_plan import minutes_done, prescription_plan, session_plan


def rx(**fields):  # type: ignore[no-untyped-def]
    values = {"exercise": "forward_walk_segments", "setting": "home_partner", "minutes": 5, "sessions_per_week": 3,
              "incline_pct": 0, "support": "partner", "pain_ceiling": 3}
    values.update(fields)
    return Prescription(**values)


def kinds(plan):  # type: ignore[no-untyped-def]
    return [(segment.kind, segment.seconds) for segment in plan]


def test_a_ten_minute_walk_with_one_minute_backward_in_every_two():
    plan = prescription_plan(rx(interval_backward_minutes=1, interval_every_minutes=2, walk_minutes=10))
    assert kinds(plan) == [("backward", 60), ("forward", 60)] * 5
    whole = session_plan([rx(interval_backward_minutes=1, interval_every_minutes=2, walk_minutes=10)])
    assert (whole.total_seconds, whole.backward_seconds) == (600, 300)


def test_the_walk_is_as_long_as_the_pattern_needs_when_not_given():
    dose = rx(interval_backward_minutes=1, interval_every_minutes=2)
    assert dose.pattern_walk_minutes() == 10
    assert session_plan([dose]).total_seconds == 600


def test_rest_between_the_backward_parts_when_prescribed():
    plan = prescription_plan(rx(minutes=3, interval_backward_minutes=1, interval_every_minutes=3,
                                interval_between="rest"))
    assert kinds(plan) == [("backward", 60), ("rest", 120)] * 3


def test_continuous_backward_walking_is_one_part():
    assert kinds(prescription_plan(rx(exercise="overground_partner", minutes=10))) == [("backward", 600)]


def test_odd_remainder_a_last_shorter_backward_part_keeps_its_time_between():
    # 5 minutes backward at 2 in every 3: 2 + 2 + 1 backward, the walk as long as that needs (8 minutes).
    dose = rx(minutes=5, interval_backward_minutes=2, interval_every_minutes=3)
    assert dose.pattern_walk_minutes() == 8
    assert kinds(prescription_plan(dose)) == [("backward", 120), ("forward", 60), ("backward", 120),
                                              ("forward", 60), ("backward", 60), ("forward", 60)]


def test_odd_remainder_a_walk_that_ends_inside_a_block():
    # A 9-minute walk at 2 in every 4 holds 2 + 2 + 1 backward: the last block is cut by the walk's end.
    assert backward_capacity(9, 2, 4) == 5
    assert kinds(prescription_plan(rx(minutes=5, walk_minutes=9, interval_backward_minutes=2,
                                      interval_every_minutes=4))) == \
        [("backward", 120), ("forward", 120), ("backward", 120), ("forward", 120), ("backward", 60)]


def test_fewer_backward_minutes_than_the_walk_holds_end_walking_forward():
    plan = prescription_plan(rx(minutes=3, walk_minutes=10, interval_backward_minutes=1, interval_every_minutes=2))
    assert kinds(plan) == [("backward", 60), ("forward", 60), ("backward", 60), ("forward", 60),
                           ("backward", 60), ("forward", 300)]


def test_half_minutes_become_seconds():
    plan = prescription_plan(rx(minutes=1.5, interval_backward_minutes=0.5, interval_every_minutes=1.5,
                                warmup_minutes=2.5, cooldown_minutes=1))
    assert kinds(plan) == [("warmup", 150)] + [("backward", 30), ("forward", 60)] * 3 + [("cooldown", 60)]


def test_backward_parts_inside_a_walk_are_spread_evenly():
    # The PFP template's home dose: 5 parts of 1 minute in a 10-minute walk.
    home = content_from_template(templates()["pfp"]).phases[-1].prescriptions[-1]
    assert kinds(prescription_plan(home)) == [("backward", 60), ("forward", 60)] * 5


def test_sets_of_steps_have_no_clock_and_timed_sets_rest_a_minute():
    assert prescription_plan(rx(exercise="band_resisted", sets=3, reps=10)) is None
    assert kinds(prescription_plan(rx(exercise="overground_partner", minutes=4, sets=2))) == \
        [("backward", 120), ("rest", 60), ("backward", 120)]
    assert session_plan([rx(exercise="band_resisted", sets=3, reps=10)]).segments == ()


def test_minutes_done_to_the_half_minute():
    assert [minutes_done(s) for s in (0, 10, 44, 45, 300, 321)] == [0.0, 0.5, 0.5, 1.0, 5.0, 5.5]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"interval_backward_minutes": "3", "interval_every_minutes": "2"}, "interval_every_minutes",
     "The backward part (3 min) must be shorter than the block it sits in (2 min)"),
    ({"interval_backward_minutes": "1", "interval_every_minutes": "12", "walk_minutes": "10"},
     "interval_every_minutes", "The block (12 min) is longer than the walk (10 min)."),
    ({"interval_backward_minutes": "1", "interval_every_minutes": "2", "walk_minutes": "8", "minutes": "5"},
     "interval_every_minutes", "a 8-minute walk holds 4 min backward, less than the 5 min prescribed"),
    ({"interval_backward_minutes": "1"}, "interval_every_minutes", "Enter the block the backward minutes sit in"),
    ({"interval_every_minutes": "2"}, "interval_every_minutes", "Enter the backward minutes of each block too"),
    ({"interval_backward_minutes": "1", "interval_every_minutes": "2", "segments": "5", "walk_minutes": "10"},
     "interval_every_minutes", "not both"),
    ({"interval_backward_minutes": "0.2", "interval_every_minutes": "2"}, "interval_backward_minutes",
     "between 0.5 and 60"),
    ({"warmup_minutes": "45"}, "warmup_minutes", "0.5 to 30 minutes"),
    ({"interval_between": "swim"}, "interval_between", "Choose one of the options"),
])
def test_the_builder_refuses_a_pattern_that_cannot_be_walked(fields, field, message):
    draft = draft_from_content(content_from_template(templates()["pfp"]), speed_unit="kmh")
    home = draft["phases"][-1]["rx"][-1]
    home.update(segments="", minutes="5", walk_minutes="")
    home.update(fields)
    content, errors = content_from_draft(draft, speed_unit="kmh")
    assert content is None
    assert message in errors[f"phases-{len(draft['phases']) - 1}-rx-1-{field}"]


def test_the_builder_saves_a_pattern_and_shows_it_again():
    draft = draft_from_content(content_from_template(templates()["pfp"]), speed_unit="kmh")
    home = draft["phases"][-1]["rx"][-1]
    home.update(segments="", minutes="5", walk_minutes="10", interval_backward_minutes="1",
                interval_every_minutes="2", interval_between="rest", warmup_minutes="2")
    content, errors = content_from_draft(draft, speed_unit="kmh")
    assert errors == {} and content is not None
    saved = content.phases[-1].prescriptions[-1]
    assert (saved.interval_backward_minutes, saved.interval_every_minutes, saved.interval_between) == (1, 2, "rest")
    assert draft_from_content(content, speed_unit="kmh")["phases"][-1]["rx"][-1]["interval_every_minutes"] == "2"


def test_a_version_saved_before_the_pattern_still_reads():
    old = {"exercise": "overground_partner", "setting": "home_partner", "minutes": 5, "sessions_per_week": 3,
           "support": "partner", "pain_ceiling": 3}
    dose = Prescription.model_validate(old)
    assert not dose.has_pattern and dose.interval_between == "forward"


def test_a_pattern_missing_its_half_is_refused_by_the_shape_too():
    with pytest.raises(ValidationError):
        rx(interval_backward_minutes=1)


def test_the_pattern_in_words_for_patients_and_therapists():
    dose = rx(interval_backward_minutes=1, interval_every_minutes=2, walk_minutes=10, warmup_minutes=2)
    assert dose_sentence(dose) == (
        "Walk backward on flat ground for 1 minute in every 2 minutes, walking forward in between: 5 minutes "
        "backward in a 10-minute walk, with 2 minutes of easy walking first to warm up, 3 times a week, "
        "with a partner beside you.")
    assert dose_sentence(dose, language="es") == (
        "Camine hacia atrás en suelo plano durante 1 minuto de cada 2 minutos, caminando hacia adelante entre "
        "medio: 5 minutos hacia atrás en una caminata de 10 minutos, con 2 minutos de caminata suave antes para "
        "calentar, 3 veces por semana, con un acompañante a su lado.")
    assert dose_summary(dose).startswith(
        "2 min warm-up · 1 min backward in every 2 (walk forward in between) · 5 min in a 10-min walk · 3×/week")


def test_the_advice_raising_minutes_past_the_walk_lets_the_walk_grow_with_the_pattern():
    dose = rx(minutes=5, walk_minutes=10, interval_backward_minutes=1, interval_every_minutes=2)
    raised = apply_change(dose, DoseChange("minutes 5 → 7", "minutes", 5, 7))
    assert (raised.minutes, raised.walk_minutes, raised.pattern_walk_minutes()) == (7, None, 14)
    kept = apply_change(rx(minutes=3, walk_minutes=10, interval_backward_minutes=1, interval_every_minutes=2),
                        DoseChange("minutes 3 → 5", "minutes", 3, 5))
    assert kept.walk_minutes == 10
