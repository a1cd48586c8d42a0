"""Protocol content rules without an app: templates, change summaries, dose sentences, the builder draft."""

from __future__ import annotations

import pytest

from rehab.forms.protocol import apply_action, content_from_draft, draft_from_content
from rehab.services.catalogue import exercises, illustration_svg, references, templates
from rehab.services.dose import dose_sentence, dose_summary
from rehab.services.protocol_content import (
    Prescription,
    content_from_template,
    keep_unchanged_speeds,
    summarize_changes,
)


def knee_oa():  # type: ignore[no-untyped-def]
    return content_from_template(templates()["knee_oa"])


@pytest.mark.parametrize("key", ["knee_oa", "post_tka", "post_aclr", "pfp"])
def test_every_template_instantiates_with_valid_doses_and_known_sources(key):
    template = templates()[key]
    content = content_from_template(template)
    assert content.template_key == key and len(content.phases) == 3
    assert all(phase.prescriptions for phase in content.phases)
    assert set(template.sources) <= set(references())
    spanish = content_from_template(template, language="es")
    assert spanish.phases[0].name != content.phases[0].name  # phase names are translated


@pytest.mark.parametrize(("key", "evidence"), [("knee_oa", "rct"), ("post_tka", "expert"), ("post_aclr", "expert"),
                                               ("pfp", "expert")])
def test_templates_without_trials_say_expert_opinion(key, evidence):
    assert templates()[key].evidence == evidence


def test_pfp_template_uses_the_lower_pain_ceiling():
    content = content_from_template(templates()["pfp"])
    assert {rx.pain_ceiling for phase in content.phases for rx in phase.prescriptions} == {3}


def test_knee_oa_template_follows_the_reference_doses():
    phases = knee_oa().phases
    first = phases[0].prescriptions[0]
    assert (first.exercise, first.minutes, first.minutes_goal, first.sessions_per_week, first.incline_pct,
            first.support) == ("treadmill_rails", 5, 10, 3, 0, "both_rails")
    assert phases[2].retest is True


def test_every_exercise_has_both_languages_an_illustration_and_sources():
    for key, exercise in exercises().items():
        assert {"en", "es"} <= set(exercise.texts), key
        assert exercise.text("en").steps and exercise.text("es").steps
        assert set(exercise.references) <= set(references())
        svg = illustration_svg(key)
        assert svg.lstrip().startswith("<svg") and "<script" not in svg


def test_deadmill_is_labelled_expert_opinion():
    assert exercises()["deadmill_push"].evidence == "expert"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: setattr(c.phases[0].prescriptions[0], "minutes", 6), ["Phase 1: minutes 5 → 6"]),
    (lambda c: (setattr(c.phases[1].prescriptions[0], "minutes", 12),
                setattr(c.phases[1].prescriptions[0], "incline_pct", 5)),
     ["Phase 2: minutes 10 → 12; incline 0 → 5 %"]),
    (lambda c: setattr(c.phases[0].prescriptions[0], "speed_kmh", 1.4), ["Phase 1: speed 1.2 km/h → 1.4 km/h"]),
    (lambda c: setattr(c.phases[0].prescriptions[0], "support", "one_rail"),
     ["Phase 1: support both rails → one rail"]),
    (lambda c: setattr(c.phases[0], "weeks", 3), ["Phase 1: weeks 2 → 3"]),
    (lambda c: c.phases.pop(), ["Phase 3: removed (Build)"]),
    (lambda c: setattr(c, "title", "Knee OA, left"), ["Title: Knee osteoarthritis → Knee OA, left"]),
    (lambda c: None, []),
])
def test_change_summary_names_each_change(change, expected):
    old, new = knee_oa(), knee_oa()
    change(new)
    assert summarize_changes(old, new) == expected


def test_change_summary_names_the_exercise_when_a_phase_has_several():
    old, new = knee_oa(), knee_oa()
    new.phases[2].prescriptions[1].minutes = 12
    assert summarize_changes(old, new) == ["Phase 3: backward walking with a partner: minutes 10 → 12"]


def test_change_summary_shows_speed_in_the_clinic_unit():
    old, new = knee_oa(), knee_oa()
    new.phases[0].prescriptions[0].speed_kmh = 1.6
    assert summarize_changes(old, new, speed_unit="mph") == ["Phase 1: speed 0.75 mph → 0.99 mph"]


def test_resaving_unchanged_mph_speeds_records_no_change():
    old = knee_oa()
    draft = draft_from_content(old, speed_unit="mph")
    new, errors = content_from_draft(draft, speed_unit="mph")
    assert errors == {}
    assert summarize_changes(old, keep_unchanged_speeds(old, new, speed_unit="mph"), speed_unit="mph") == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("minutes", "-5", "between 0.5 and 120"), ("minutes", "0.4", "between 0.5 and 120"),
    ("minutes", "121", "between 0.5 and 120"), ("minutes", "ten", "between 0.5 and 120"),
    ("speed", "0.05", "between 0.1 and 8 km/h"), ("speed", "8.1", "between 0.1 and 8 km/h"),
    ("incline_pct", "-1", "between 0 and 20"), ("incline_pct", "20.5", "between 0 and 20"),
    ("sessions_per_week", "0", "1 to 14"), ("sessions_per_week", "15", "1 to 14"),
    ("pain_ceiling", "11", "from 0 to 10"), ("pain_ceiling", "-1", "from 0 to 10"),
    ("exercise", "moonwalk", "Choose an exercise"), ("support", "rope", "Choose one of the options"),
])
def test_dose_out_of_range_is_refused_with_its_limits(field, value, message):
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    draft["phases"][0]["rx"][0][field] = value
    content, errors = content_from_draft(draft, speed_unit="kmh")
    assert content is None
    assert message in errors[f"phases-0-rx-0-{field}"]


@pytest.mark.parametrize(("field", "value"), [("minutes", "0.5"), ("minutes", "120"), ("speed", "0.1"),
                                              ("speed", "8"), ("incline_pct", "20"), ("sessions_per_week", "14"),
                                              ("pain_ceiling", "0"), ("pain_ceiling", "10"), ("speed", "")])
def test_dose_at_the_limits_is_accepted(field, value):
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    draft["phases"][0]["rx"][0][field] = value
    if field == "minutes":
        draft["phases"][0]["rx"][0]["minutes_goal"] = ""
    content, errors = content_from_draft(draft, speed_unit="kmh")
    assert errors == {} and content is not None


def test_an_empty_phase_is_refused():
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    draft["phases"][1]["rx"] = []
    content, errors = content_from_draft(draft, speed_unit="kmh")
    assert content is None and "no exercise" in errors["phases-1-rx"]


def test_no_phases_is_refused():
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    draft["phases"] = []
    assert "at least one phase" in content_from_draft(draft, speed_unit="kmh")[1]["phases"]


def test_builder_actions_keep_typed_values():
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    draft["phases"][0]["rx"][0]["minutes"] = "7"  # typed, not yet saved
    draft, focus = apply_action(draft, "add_phase", speed_unit="kmh")
    assert len(draft["phases"]) == 4 and focus == "phases-3-name"
    draft, _ = apply_action(draft, "up_phase-3", speed_unit="kmh")
    assert draft["phases"][2]["name"] == "Phase 4" and draft["phases"][3]["name"] == "Build"
    draft, _ = apply_action(draft, "add_rx-0", speed_unit="kmh")
    draft, _ = apply_action(draft, "remove_rx-0-1", speed_unit="kmh")
    draft, _ = apply_action(draft, "remove_phase-2", speed_unit="kmh")
    assert [phase["name"] for phase in draft["phases"]] == ["Learn", "Load", "Build"]
    assert draft["phases"][0]["rx"][0]["minutes"] == "7"


def test_nonsense_actions_change_nothing():
    draft = draft_from_content(knee_oa(), speed_unit="kmh")
    before = repr(draft)
    for action in ("remove_phase-9", "up_phase-0", "down_phase-2", "remove_rx-0-5", "explode", "add_rx-x"):
        draft, _ = apply_action(draft, action, speed_unit="kmh")
    assert repr(draft) == before


def rx(**fields):  # type: ignore[no-untyped-def]
    values = {"exercise": "treadmill_rails", "setting": "clinic", "minutes": 10, "sessions_per_week": 3,
              "speed_kmh": 1.2, "incline_pct": 0, "support": "both_rails", "pain_ceiling": 5}
    values.update(fields)
    return Prescription(**values)


@pytest.mark.parametrize(("prescription", "language", "unit", "sentence"), [
    (rx(), "en", "kmh", "Walk backward on the treadmill for 10 minutes, 3 times a week, at 1.2 km/h (0.7 mph), "
                        "holding both rails."),
    (rx(), "en", "mph", "Walk backward on the treadmill for 10 minutes, 3 times a week, at 0.7 mph (1.2 km/h), "
                        "holding both rails."),
    (rx(minutes=1, sessions_per_week=1, incline_pct=5, support="light_touch"), "en", "kmh",
     "Walk backward on the treadmill for 1 minute, once a week, at 1.2 km/h (0.7 mph), with the slope set to 5 %, "
     "with a light touch on the rails."),
    (rx(exercise="forward_walk_segments", minutes=5, segments=5, walk_minutes=10, speed_kmh=None, support="partner"),
     "en", "kmh", "During a 10-minute walk, walk backward 5 times for 1 minute each time, 3 times a week, "
                  "with a partner beside you."),
    (rx(exercise="band_resisted", sets=3, reps=10, speed_kmh=None, support="partner"), "en", "kmh",
     "Walk backward against the band: 3 sets of 10 steps, 3 times a week, with a partner beside you."),
    (rx(exercise="parallel_bars", speed_kmh=None), "en", "kmh",
     "Walk backward in the parallel bars for 10 minutes, 3 times a week, holding both bars."),
    (rx(), "es", "kmh", "Camine hacia atrás en la caminadora durante 10 minutos, 3 veces por semana, "
                        "a 1.2 km/h (0.7 mph), sujetando las dos barras."),
])
def test_dose_sentence(prescription, language, unit, sentence):
    assert dose_sentence(prescription, language=language, speed_unit=unit) == sentence


def test_dose_summary_for_therapists():
    assert dose_summary(rx(minutes_goal=15)) == \
        "10 min → 15 min · 3×/week · 1.2 km/h (0.7 mph) · 0 % incline · both rails · pain ≤ 5/10"
