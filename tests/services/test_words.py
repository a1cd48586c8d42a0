"""Dates in one readable format per language, and a record's stored fields and values in words (the change
history never shows a field name or a stored code)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rehab.dates import day_text, moment_text, time_text
from rehab.models.patients import PatientBase
from rehab.models.portal import HomeLogBase
from rehab.models.visits import VisitBase
from rehab.services.record_words import FIELD_LABELS, changes_in_words, field_label, value_text
from rehab.translation import gettext, has_translation
from rehab.vocabulary import SORENESS_LABELS

EVENING_IN_CHICAGO = datetime(2026, 12, 4, 2, 42, tzinfo=UTC)  # 3 Dec, 20:42 in Chicago


@pytest.mark.parametrize(("language", "expected"), [("en", "3 Dec 2026"), ("es", "3 dic 2026")])
def test_a_day_reads_with_its_month_in_letters(language, expected):
    assert day_text(date(2026, 12, 3), language) == expected
    assert day_text("2026-12-03", language) == expected  # as a kept sheet snapshot holds it


def test_a_time_is_the_clinics_day_and_clock():
    assert day_text(EVENING_IN_CHICAGO, "en", "America/Chicago") == "3 Dec 2026"
    assert day_text(EVENING_IN_CHICAGO, "en", "UTC") == "4 Dec 2026"
    assert time_text(EVENING_IN_CHICAGO, "en", "America/Chicago") == "20:42"
    assert moment_text(EVENING_IN_CHICAGO, "es", "America/Chicago") == "3 dic 2026, 20:42"
    # SQLite returns stored times without a zone: they are UTC, never the server's local time.
    assert moment_text(EVENING_IN_CHICAGO.replace(tzinfo=None), "en", "America/Chicago") == "3 Dec 2026, 20:42"
    assert day_text(None) == moment_text(None) == ""


@pytest.mark.parametrize(("entity", "base"), [("patient", PatientBase), ("visit", VisitBase),
                                              ("home_log", HomeLogBase)])
def test_every_field_of_a_record_with_a_history_has_a_name_in_both_languages(entity, base):
    """A field added to one of these tables without a name here would reach the history as a code."""
    assert set(base.model_fields) - set(FIELD_LABELS[entity]) == set()
    if entity == "patient":  # the assigned therapist is kept by name, as "therapist" (services/patients.py)
        assert "therapist" in FIELD_LABELS[entity]
    missing = [label for label in FIELD_LABELS[entity].values() if not has_translation("es", label)]
    assert missing == []


def test_a_soreness_correction_reads_in_words():
    """The finding: the history showed "soreness: warmup_gone → late"."""
    [change] = changes_in_words("visit", {"soreness": ["warmup_gone", "late"]})
    assert (change.label, change.old, change.new) == (
        "Soreness", "Sore during warm-up, went away", "Sore more than an hour after, or the next day")
    [spanish] = changes_in_words("visit", {"soreness": ["warmup_gone", "late"]}, "es")
    assert spanish.label == gettext("es", "Soreness") != "Soreness"
    assert spanish.old == gettext("es", SORENESS_LABELS["warmup_gone"]) != change.old


def test_each_kind_of_value_reads_as_a_person_writes_it():
    changes = changes_in_words("patient", {
        "condition": ["knee_oa", "post_tka"], "affected_knee": ["left", "both"], "uses_walker": [False, True],
        "surgery_date": [None, "2026-11-02"], "chart_number": ["", "A-7"],
        "archived_at": [None, "2026-12-04T02:42:00+00:00"],
    }, zone="America/Chicago")
    assert [(c.label, c.old, c.new) for c in changes] == [
        ("Condition", "Knee osteoarthritis", "After total knee arthroplasty"),
        ("Affected knee", "Left", "Both"),
        ("Uses a rollator or walker", "No", "Yes"),
        ("Surgery date", "—", "2 Nov 2026"),
        ("Chart number", "—", "A-7"),
        ("Archived", "—", "3 Dec 2026, 20:42"),
    ]
    assert value_text("exercise", "treadmill_rails") == "Backward walking on a treadmill"
    assert value_text("effusion", "0") == "0 (none)" and value_text("minutes", 6.0) == "6"
    assert field_label("visit", "flag_calf") == "Calf pain or swelling"
    assert field_label("home_log", "flag_calf", "es")[:1].isupper()
    assert field_label("visit", "some_new_field") == "Some new field"  # never the code itself
    [assigned] = changes_in_words("patient", {"therapist": [None, "Ana Ruiz"]}, "es")
    assert (assigned.label, assigned.old, assigned.new) == ("Terapeuta", "Sin asignar", "Ana Ruiz")
