"""Safety checks while building a protocol: every rule, its boundaries, the screen and the precautions alone
and together, the post-operative start phase, and reasons that stand until the facts change."""

from __future__ import annotations

from datetime import date

import pytest

from rehab.dates import day_text
from rehab.forms.protocol import override_reasons
from rehab.services.catalogue import templates
from rehab.services.protocol_content import Phase, Prescription, ProtocolContent, content_from_template
from rehab.services.safety import (
    PatientFacts,
    add_months,
    check_protocol,
    is_high_fall_risk,
    start_phase_for,
    weeks_since_surgery,
)

TODAY = date(2026, 11, 25)
LOW = {"backward_walk_3m_s": 3.0, "tug_s": 9.0}  # a low-risk screen
HIGH = {"backward_walk_3m_s": 5.0}


def protocol(**rx_fields):  # type: ignore[no-untyped-def]
    values = {"exercise": "treadmill_rails", "setting": "clinic", "minutes": 10, "sessions_per_week": 3,
              "speed_kmh": 1.2, "incline_pct": 0, "support": "both_rails", "pain_ceiling": 5}
    values.update(rx_fields)
    if values["exercise"] not in ("treadmill_rails", "incline_treadmill"):
        values["speed_kmh"] = None
    return ProtocolContent(title="t", phases=[Phase(name="p", weeks=2, prescriptions=[Prescription(**values)])])


def rules(content, start_phase=0, **facts):  # type: ignore[no-untyped-def]
    return sorted(warning.rule for warning in check_protocol(content, PatientFacts(today=TODAY, **facts),
                                                             start_phase=start_phase))


@pytest.mark.parametrize(("backward_walk", "tug", "gait", "high"), [
    (None, None, None, False), (4.4, None, None, False), (4.5, None, None, True), (4.6, None, None, True),
    (None, 11.9, None, False), (None, 12.0, None, True), (3.0, 12.5, None, True), (4.49, 11.99, None, False),
    (None, None, 0.76, False), (None, None, 0.75, True), (3.0, 9.0, 0.5, True),
])
def test_fall_risk_boundaries(backward_walk, tug, gait, high):
    facts = PatientFacts(today=TODAY, backward_walk_3m_s=backward_walk, tug_s=tug, gait_speed_ms=gait)
    assert is_high_fall_risk(facts) is high


# Where the patient walks backward, and whether the screen and precaution rules care: only outside the clinic
# without holding rails (a light touch is not holding on).
UNSUPERVISED_OFF_RAILS = [
    ("overground_partner", "home_alone", "none"),
    ("overground_partner", "home_partner", "partner"),  # a helper at home is not supervision
    ("forward_walk_segments", "home_partner", "partner"),
    ("band_resisted", "home_partner", "partner"),
    ("treadmill_rails", "home_alone", "light_touch"),
    ("treadmill_rails", "home_alone", "none"),
]
SUPERVISED_OR_ON_RAILS = [
    ("overground_partner", "clinic", "partner"),
    ("treadmill_rails", "home_alone", "both_rails"),  # a treadmill holding the rails is allowed
    ("treadmill_rails", "home_partner", "one_rail"),
    ("parallel_bars", "home_alone", "both_rails"),
    ("incline_treadmill", "clinic", "light_touch"),
]


@pytest.mark.parametrize(("exercise", "setting", "support"), UNSUPERVISED_OFF_RAILS)
@pytest.mark.parametrize(("screen", "expected"), [
    ({}, ["not_screened"]),  # not screened warns like a high-risk screen
    ({"gait_speed_ms": 1.1}, ["not_screened"]),  # gait speed alone is not a fall-risk screen
    (HIGH, ["fall_risk"]),
    ({"tug_s": 12.0}, ["fall_risk"]),
    ({"backward_walk_3m_s": 3.0, "gait_speed_ms": 0.6}, ["fall_risk"]),
    (LOW, []),
])
def test_the_screen_unsupervised_off_the_rails(exercise, setting, support, screen, expected):
    assert rules(protocol(exercise=exercise, setting=setting, support=support), **screen) == expected


@pytest.mark.parametrize(("exercise", "setting", "support"), SUPERVISED_OR_ON_RAILS)
@pytest.mark.parametrize("screen", [{}, HIGH, LOW])
def test_the_screen_does_not_warn_about_supervised_or_rails_walking(exercise, setting, support, screen):
    assert rules(protocol(exercise=exercise, setting=setting, support=support), **screen) == []


@pytest.mark.parametrize("precaution", ["vestibular_disorder", "peripheral_neuropathy", "cognitive_impairment"])
@pytest.mark.parametrize(("exercise", "setting", "support", "warned"),
                         [(*case, True) for case in UNSUPERVISED_OFF_RAILS] +
                         [(*case, False) for case in SUPERVISED_OR_ON_RAILS])
def test_balance_precautions_ask_for_supervised_or_rails_only_walking(precaution, exercise, setting, support,
                                                                      warned):
    content = protocol(exercise=exercise, setting=setting, support=support)
    assert rules(content, **LOW, **{precaution: True}) == ([precaution] if warned else [])


def test_precautions_and_screen_combine_one_warning_each():
    content = protocol(exercise="overground_partner", setting="home_partner", support="partner")
    assert rules(content, vestibular_disorder=True, cognitive_impairment=True, peripheral_neuropathy=True,
                 uses_walker=True, anticoagulants=True, surgery_date=date(2026, 10, 1), **HIGH) == [
        "cognitive_impairment", "fall_risk", "peripheral_neuropathy", "recent_surgery", "vestibular_disorder",
        "walker"]
    assert rules(content, vestibular_disorder=True) == ["not_screened", "vestibular_disorder"]


def test_anticoagulants_alone_add_no_builder_warning():
    """They add a falls warning to the patient's sheet instead (tests/test_clinic_only.py)."""
    content = protocol(exercise="overground_partner", setting="home_partner", support="partner")
    assert rules(content, anticoagulants=True, **LOW) == []


@pytest.mark.parametrize(("exercise", "setting", "support", "warned"), [
    ("treadmill_rails", "clinic", "both_rails", False),  # holding rails: no walker warning
    ("parallel_bars", "clinic", "both_rails", False),
    ("deadmill_push", "clinic", "one_rail", False),
    ("treadmill_rails", "clinic", "light_touch", True),
    ("treadmill_rails", "clinic", "none", True),
    ("overground_partner", "clinic", "partner", True),  # even in the clinic: no backward walking with a rollator
    ("band_resisted", "clinic", "partner", True),
])
def test_the_walker_warning_fires_only_for_walking_without_rails(exercise, setting, support, warned):
    content = protocol(exercise=exercise, setting=setting, support=support)
    assert ("walker" in rules(content, uses_walker=True, **LOW)) is warned
    assert "walker" not in rules(content, uses_walker=False, **LOW)


@pytest.mark.parametrize("condition", ["post_tka", "post_aclr", "knee_oa", "other"])
@pytest.mark.parametrize(("surgery", "setting", "warned"), [
    (date(2026, 5, 26), "home_partner", True),  # one day short of 6 months
    (date(2026, 5, 25), "home_partner", False),  # exactly 6 months ago
    (date(2026, 9, 1), "clinic", False),  # supervised work is fine
    (date(2026, 9, 1), "home_alone", True),
    (None, "home_alone", False),
    (date(2027, 1, 12), "home_alone", False),  # planned: the knee is not operated on yet (prehabilitation)
])
def test_recent_surgery_uses_the_surgery_date_whatever_the_condition(condition, surgery, setting, warned):
    content = protocol(setting=setting)
    assert ("recent_surgery" in rules(content, condition=condition, surgery_date=surgery)) is warned


@pytest.mark.parametrize(("ceiling", "warned"), [(5, False), (6, True), (3, False), (10, True)])
def test_pain_ceiling_above_five(ceiling, warned):
    assert ("pain_ceiling" in rules(protocol(pain_ceiling=ceiling))) is warned


def test_warnings_say_where_and_cite_a_source():
    warning = check_protocol(protocol(pain_ceiling=7), PatientFacts(today=TODAY))[0]
    assert warning.where == "Phase 1, backward walking on a treadmill"
    assert warning.source == "silbernagel2007" and "above 5" in warning.message
    high = check_protocol(protocol(exercise="overground_partner", setting="home_alone", support="none"),
                          PatientFacts(today=TODAY, backward_walk_3m_s=5.2, tug_s=13))[0]
    assert "3-metre backward walk 5.2 s (4.5 s or more); Timed Up and Go 13 s (12 s or more)" in high.message


def test_the_knee_oa_template_needs_a_screen_before_partner_walking_at_home():
    content = content_from_template(templates()["knee_oa"])
    assert rules(content) == ["not_screened"]  # phase 3: overground at home with a partner
    assert rules(content, **LOW) == []


# ------------------------------------------------------------------------------- the post-operative start phase

TKA = content_from_template(templates()["post_tka"]).phases  # bars from week 2, treadmill 6, endurance 12
ACLR = content_from_template(templates()["post_aclr"]).phases  # band from week 6, treadmill 8, power: not timed


@pytest.mark.parametrize(("phases", "days", "start"), [
    (TKA, 13 * 7, 2),  # 13 weeks after knee replacement: "from week 12", not "weeks 2 to 6"
    (TKA, 4 * 7, 0), (TKA, 6 * 7 - 1, 0), (TKA, 6 * 7, 1), (TKA, 12 * 7 - 1, 1), (TKA, 12 * 7, 2),
    (TKA, 400, 2), (TKA, 3, 0),  # too early for any phase: phase 1, and the builder warns
    (ACLR, 5 * 7, 0), (ACLR, 8 * 7, 1), (ACLR, 30 * 7, 1),  # the untimed late phase is the therapist's call
])
def test_a_new_protocol_starts_in_the_phase_the_weeks_since_surgery_allow(phases, days, start):
    surgery = date.fromordinal(TODAY.toordinal() - days)
    assert start_phase_for(list(phases), surgery_date=surgery, today=TODAY) == start


def test_without_a_surgery_date_or_timing_the_protocol_starts_in_phase_one():
    assert start_phase_for(list(TKA), surgery_date=None, today=TODAY) == 0
    oa = content_from_template(templates()["knee_oa"]).phases
    assert start_phase_for(list(oa), surgery_date=date(2026, 1, 1), today=TODAY) == 0


@pytest.mark.parametrize(("days", "start", "expected"), [
    (13 * 7, 2, []), (13 * 7, 0, []), (4 * 7, 0, []),  # an earlier phase is the therapist's call
    (4 * 7, 1, ["postop_too_early"]),  # week 4 in "from week 6"
    (10, 0, ["postop_too_early"]),  # week 1 in "from week 2"
    (None, 0, ["no_surgery_date"]),
])
def test_the_builder_warns_about_a_start_before_its_week(days, start, expected):
    content = content_from_template(templates()["post_tka"])
    surgery = None if days is None else date.fromordinal(TODAY.toordinal() - days)
    found = [rule for rule in rules(content, start_phase=start, surgery_date=surgery, **LOW)
             if rule in ("postop_too_early", "no_surgery_date")]
    assert found == expected


def test_weeks_since_surgery_counts_whole_weeks():
    assert [weeks_since_surgery(date(2026, 11, 1), day) for day in (date(2026, 11, 7), date(2026, 11, 8))] == [0, 1]


# ------------------------------------------------------------------------- a reason stands until the facts change

PARTNER_AT_HOME = {"exercise": "overground_partner", "setting": "home_partner", "support": "partner"}


def _given(content, **facts):  # type: ignore[no-untyped-def]
    """Warnings for a first save, with a reason given for each: what the next version finds standing."""
    warnings = check_protocol(content, PatientFacts(today=TODAY, **facts))
    return {warning.fingerprint: ("Partner trained at the clinic", 1) for warning in warnings}


@pytest.mark.parametrize(("first", "then", "stands"), [
    ({"facts": {"uses_walker": True, **LOW}}, {"facts": {"uses_walker": True, **LOW}, "rx": {"minutes": 12}}, True),
    ({"facts": {}}, {"facts": {}, "rx": {"minutes": 12, "pain_ceiling": 4}}, True),  # dose change, same facts
    ({"facts": HIGH}, {"facts": HIGH}, True),
    ({"facts": HIGH}, {"facts": {"backward_walk_3m_s": 5.5}}, False),  # a new screen result
    ({"facts": {}}, {"facts": HIGH}, False),  # screened since: high risk is a new warning
    ({"facts": {"vestibular_disorder": True, **LOW}}, {"facts": {"vestibular_disorder": True, **LOW},
                                                       "rx": {"setting": "home_alone", "support": "none"}}, False),
    ({"facts": {"surgery_date": date(2026, 9, 1), **LOW}}, {"facts": {"surgery_date": date(2026, 9, 8), **LOW}},
     False),  # the surgery date was corrected
])
def test_a_given_reason_stays_valid_until_the_facts_change(first, then, stands):
    before = protocol(**PARTNER_AT_HOME)
    standing = _given(before, **first["facts"])
    assert standing
    after = protocol(**{**PARTNER_AT_HOME, **then.get("rx", {})})
    warnings = check_protocol(after, PatientFacts(today=TODAY, **then["facts"]))
    reasons, errors = override_reasons({}, warnings, standing)
    assert (not errors) is stands
    if stands:
        assert set(reasons.values()) == {"Partner trained at the clinic"}


def test_a_standing_reason_covers_only_its_own_warning():
    """A reason for the walker warning does not cover a fall-risk warning that appears later."""
    content = protocol(**PARTNER_AT_HOME)
    standing = _given(content, uses_walker=True, **LOW)
    warnings = check_protocol(content, PatientFacts(today=TODAY, uses_walker=True, **HIGH))
    reasons, errors = override_reasons({}, warnings, standing)
    assert [warning.rule for warning in warnings] == ["walker", "fall_risk"]
    assert list(errors) == ["override-1-reason"] and len(reasons) == 1


@pytest.mark.parametrize(("start", "months", "expected"), [
    (date(2026, 5, 25), 6, date(2026, 11, 25)), (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)), (date(2026, 12, 15), 1, date(2027, 1, 15)),
])
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


def test_a_post_operative_start_before_a_planned_surgery_says_it_is_planned():
    content = content_from_template(templates()["post_tka"])
    planned = date.fromordinal(TODAY.toordinal() + 21)
    [warning] = [w for w in check_protocol(content, PatientFacts(today=TODAY, surgery_date=planned, **LOW))
                 if w.rule == "postop_too_early"]
    assert f"surgery is planned for {day_text(planned)} (in 3 weeks): this is prehabilitation" in warning.message
    assert "week -" not in warning.message
    assert start_phase_for(list(content.phases), surgery_date=planned, today=TODAY) == 0
