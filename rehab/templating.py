"""Jinja filters shared by pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from flask import Flask, g
from flask_babel import get_locale

from rehab import vocabulary
from rehab.dates import day_text, moment_text, time_text, zone_of
from rehab.forms import field_limits
from rehab.services.assessments import AssessmentInput
from rehab.services.catalogue import evidence_label
from rehab.services.charts import SCORE_CHARTS, SCREEN_CHARTS
from rehab.services.dose import dose_sentence, dose_summary, speed_text
from rehab.services.home_logs import HomeLogInput
from rehab.services.patients import PatientInput
from rehab.services.questionnaire_records import score_reading, unvalidated_languages
from rehab.services.record_words import ChangeInWords, changes_in_words, value_text
from rehab.services.safety import RULE_TITLES
from rehab.services.surgery import surgery_text
from rehab.services.visits import VisitInput, note_text


def init_app(app: Flask) -> None:
    # Every date a person reads, in one format per language (rehab/dates.py): a day, a day and time, a time.
    app.add_template_filter(day)
    app.add_template_filter(moment)
    app.add_template_filter(clock)
    app.add_template_global(edit_in_words)
    app.add_template_global(value_in_words)
    app.jinja_env.globals["safety_rule_titles"] = RULE_TITLES
    app.add_template_filter(age)
    app.add_template_filter(json.loads, "fromjson")
    app.add_template_global(dose_sentence)
    app.add_template_global(dose_summary)
    app.add_template_global(speed_text)
    app.add_template_global(surgery_label)
    app.add_template_global(note_text)  # a note's opening and, when long, the whole of it a click away
    app.add_template_global(evidence_label)  # every source says what it really is, wherever it is cited
    # Every page words a stored value the same way (alert kinds, conditions...): the one vocabulary module.
    app.jinja_env.globals["vocabulary"] = vocabulary
    app.jinja_env.globals["chart_sizes"] = SCREEN_CHARTS  # the chart's widths, and the screens each is for
    app.jinja_env.globals["score_chart_sizes"] = SCORE_CHARTS
    app.jinja_env.globals["score_reading"] = score_reading  # a questionnaire's first against latest, in words
    app.jinja_env.globals["unvalidated_languages"] = unvalidated_languages
    # Each input shape's field limits (maxlength, min, max), read from the shape: written once.
    app.jinja_env.globals["limits"] = {"patient": field_limits(PatientInput), "visit": field_limits(VisitInput),
                                       "assessment": field_limits(AssessmentInput),
                                       "home_log": field_limits(HomeLogInput)}


def age(born: date, today: date | None = None) -> int:
    """Whole years since a birth date."""
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def surgery_label(surgery_date: date) -> str:
    """The surgery date as every page words it: planned (and how far off) or done (and how many weeks ago),
    counted from today in the clinic's time zone."""
    return surgery_text(surgery_date, datetime.now(clinic_zone()).date())


def page_language() -> str:
    """The language the page is rendered in: the patient's on the portal and sheets (``force_locale``),
    English on therapist pages."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def clinic_zone() -> tzinfo:
    """The current clinic's time zone (UTC when there is none, as on the sign-in page)."""
    clinic = g.get("clinic")
    return zone_of(clinic.timezone if clinic is not None else None)


def day(value: date | datetime | str | None) -> str:
    """A day in the page's language; a stored time is the clinic's day: "3 Dec 2026"."""
    return day_text(value, page_language(), clinic_zone())


def moment(value: datetime | None) -> str:
    """A stored time in the clinic's zone, in the page's language: "3 Dec 2026, 10:42"."""
    return moment_text(value, page_language(), clinic_zone())


def clock(value: datetime | None) -> str:
    """Only the clock time in the clinic's zone (today's visits on the dashboard): "10:42"."""
    return time_text(value, page_language(), clinic_zone())


def edit_in_words(entity: str, changes: Mapping[str, list[Any]] | str) -> list[ChangeInWords]:
    """One edit of the change history (its {field: [old, new]}, or that as kept JSON) in the page's words."""
    pairs = json.loads(changes) if isinstance(changes, str) else changes
    return changes_in_words(entity, pairs, page_language(), clinic_zone())


def value_in_words(name: str, value: Any) -> str:
    """A stored field's value as a reader sees it (a list's label, a day in words, Yes or No)."""
    return value_text(name, value, page_language(), clinic_zone())
