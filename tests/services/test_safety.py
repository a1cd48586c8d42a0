"""Safety checks while building a protocol: every rule and its boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from rehab.services.catalogue import templates
from rehab.services.protocols import Phase, Prescription, ProtocolContent, content_from_template
from rehab.services.safety import PatientFacts, add_months, check_protocol, is_high_fall_risk

TODAY = date(2026, 11, 25)


def protocol(**rx_fields):  # type: ignore[no-untyped-def]
    values = {"exercise": "treadmill_rails", "setting": "clinic", "minutes": 10, "sessions_per_week": 3,
              "speed_kmh": 1.2, "incline_pct": 0, "support": "both_rails", "pain_ceiling": 5}
    values.update(rx_fields)
    return ProtocolContent(title="t", phases=[Phase(name="p", weeks=2, prescriptions=[Prescription(**values)])])


def rules(content, **facts):  # type: ignore[no-untyped-def]
    return [warning.rule for warning in check_protocol(content, PatientFacts(today=TODAY, **facts))]


@pytest.mark.parametrize(("backward_walk", "tug", "high"), [
    (None, None, False), (4.4, None, False), (4.5, None, True), (4.6, None, True),
    (None, 11.9, False), (None, 12.0, True), (3.0, 12.5, True), (4.49, 11.99, False),
])
def test_fall_risk_boundaries(backward_walk, tug, high):
    assert is_high_fall_risk(PatientFacts(today=TODAY, backward_walk_3m_s=backward_walk, tug_s=tug)) is high


@pytest.mark.parametrize(("setting", "exercise", "backward_walk", "warned"), [
    ("home_alone", "overground_partner", 4.5, True),
    ("home_alone", "overground_partner", 4.4, False),
    ("home_partner", "overground_partner", 5.0, False),  # a spotter at home is allowed
    ("clinic", "overground_partner", 5.0, False),
    ("home_alone", "treadmill_rails", 5.0, False),  # treadmill with rails is allowed at high risk
    ("home_alone", "forward_walk_segments", 4.5, True),
])
def test_high_fall_risk_and_unsupervised_overground_walking(setting, exercise, backward_walk, warned):
    content = protocol(setting=setting, exercise=exercise, speed_kmh=None, support="none")
    assert ("fall_risk" in rules(content, backward_walk_3m_s=backward_walk)) is warned


def test_walker_user_is_warned_about_any_backward_walking():
    assert rules(protocol(), uses_walker=True) == ["walker"]
    assert rules(protocol(), uses_walker=False) == []


@pytest.mark.parametrize(("surgery", "setting", "warned"), [
    (date(2026, 5, 26), "home_partner", True),  # one day short of 6 months
    (date(2026, 5, 25), "home_partner", False),  # exactly 6 months ago
    (date(2026, 9, 1), "clinic", False),  # supervised work is fine
    (date(2026, 9, 1), "home_alone", True),
    (None, "home_alone", False),
])
def test_recent_joint_replacement_and_unsupervised_work(surgery, setting, warned):
    content = protocol(setting=setting)
    assert ("recent_replacement" in rules(content, condition="post_tka", surgery_date=surgery)) is warned


def test_recent_replacement_applies_only_to_joint_replacement():
    assert rules(protocol(setting="home_alone"), condition="post_aclr", surgery_date=date(2026, 10, 1)) == []


@pytest.mark.parametrize(("ceiling", "warned"), [(5, False), (6, True), (3, False), (10, True)])
def test_pain_ceiling_above_five(ceiling, warned):
    assert ("pain_ceiling" in rules(protocol(pain_ceiling=ceiling))) is warned


def test_warnings_say_where_and_cite_a_source():
    warning = check_protocol(protocol(pain_ceiling=7), PatientFacts(today=TODAY))[0]
    assert warning.where == "Phase 1, backward walking on a treadmill"
    assert warning.source == "silbernagel2007" and "above 5" in warning.message


def test_the_knee_oa_template_is_clean_for_a_low_risk_patient():
    assert check_protocol(content_from_template(templates()["knee_oa"]), PatientFacts(today=TODAY)) == []


@pytest.mark.parametrize(("start", "months", "expected"), [
    (date(2026, 5, 25), 6, date(2026, 11, 25)), (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)), (date(2026, 12, 15), 1, date(2027, 1, 15)),
])
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected
