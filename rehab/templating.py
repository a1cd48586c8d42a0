"""Jinja filters shared by pages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g

from rehab import vocabulary
from rehab.forms import field_limits
from rehab.services.assessments import AssessmentInput
from rehab.services.catalogue import evidence_label
from rehab.services.charts import SCREEN_CHARTS
from rehab.services.dose import dose_sentence, dose_summary, speed_text
from rehab.services.home_logs import HomeLogInput
from rehab.services.patients import PatientInput
from rehab.services.surgery import surgery_text
from rehab.services.visits import VisitInput, note_text


def init_app(app: Flask) -> None:
    app.add_template_filter(clinic_time)
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
    # Each input shape's field limits (maxlength, min, max), read from the shape: written once.
    app.jinja_env.globals["limits"] = {"patient": field_limits(PatientInput), "visit": field_limits(VisitInput),
                                       "assessment": field_limits(AssessmentInput),
                                       "home_log": field_limits(HomeLogInput)}


def age(born: date, today: date | None = None) -> int:
    """Whole years since a birth date."""
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _clinic_zone() -> ZoneInfo:
    clinic = g.get("clinic")
    try:
        return ZoneInfo(clinic.timezone) if clinic is not None else ZoneInfo("UTC")
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def surgery_label(surgery_date: date) -> str:
    """The surgery date as every page words it: planned (and how far off) or done (and how many weeks ago),
    counted from today in the clinic's time zone."""
    return surgery_text(surgery_date, datetime.now(_clinic_zone()).date())


def clinic_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time in the current clinic's time zone."""
    if value is None:
        return ""
    clinic = g.get("clinic")
    try:
        zone = ZoneInfo(clinic.timezone) if clinic is not None else UTC
    except ZoneInfoNotFoundError:
        zone = UTC
    return value.astimezone(zone).strftime(fmt)
