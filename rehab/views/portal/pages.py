"""The patient's own pages: my exercises, my progress and its chart, and "stop" after a red flag or a fall.

Every route here sits behind the portal guard; records are looked up through the patient on the session.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from typing import Any

from babel.dates import format_date, format_time
from flask import g, request
from flask_babel import get_locale
from flask_babel import gettext as _

from rehab import security
from rehab.dates import day_text
from rehab.db import get_session
from rehab.models import utcnow
from rehab.services import home_logs, patient_text
from rehab.services import visits as visit_service
from rehab.services.adherence_records import patient_adherence
from rehab.services.charts import PATIENT_LABELS, ChartPoint, ChartSize, pain_and_minutes_svg
from rehab.services.protocol_content import Phase
from rehab.views import svg_response
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.layout import page
from rehab.views.portal.questionnaires import discharged_page
from rehab.vocabulary import RED_FLAG_PATIENT


def short_date(day: date) -> str:
    """A day in the patient's language, as every page and sheet writes it ("3 Dec 2026" / "3 dic 2026")."""
    return day_text(day, get_locale().language if get_locale() else "en")


def stop_page() -> str | None:
    """While a red flag or a fall is not cleared by a therapist, the patient sees "stop", not the exercises."""
    waiting = current.uncleared()
    if not waiting:
        return None
    told = [_(RED_FLAG_PATIENT[flag]) for report in waiting for flag in report.red_flags if flag in RED_FLAG_PATIENT]
    if any(report.falls for report in waiting):
        told.append(_("I fell"))
    security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_stop")
    return page("portal/stop.html", told=list(dict.fromkeys(told)))


@bp.get("/home")
def home():  # type: ignore[no-untyped-def]
    """My exercises: this phase's backward walking in plain words, how to stay safe, what comes next. After a
    red flag or a fall, until a therapist clears it: "Stop: call the clinic". After a discharge: thank you, and the
    questionnaires still to answer."""
    if current.state().discharged is not None:
        return discharged_page()
    stopped = stop_page()
    if stopped is not None:
        return stopped
    state = current.state()
    content, index = current.phase()
    phase: Phase = content.phases[index]
    language = g.patient_language
    upcoming = None
    if index + 1 < len(content.phases):
        upcoming = patient_text.phase_text(content.phases[index + 1], template_key=content.template_key,
                                           language=language)
    week = patient_adherence(get_session(), patient_id=current.patient_id(), zone=current.zone().key,
                             now=utcnow(), weeks=1).this_week
    security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_home")
    return page("portal/home.html", first_name=state.patient.first_name, week=week,  # type: ignore[union-attr]
                phase=patient_text.phase_text(phase, template_key=content.template_key, language=language),
                phase_number=index + 1, phase_count=len(content.phases), next_phase=upcoming,
                items=patient_text.exercise_items(phase, language=language, speed_unit=state.clinic.speed_unit),  # type: ignore[union-attr]
                sessions_needed=phase.advance_after_sessions, no_stumbles=phase.no_stumbles,
                ceiling=home_logs.home_ceiling(phase), blood_thinner=state.patient.anticoagulants,  # type: ignore[union-attr]
                morning_log=home_logs.awaiting_morning(get_session(), patient_id=current.patient_id(),
                                                       today=current.today()))


def _sessions() -> list[dict[str, Any]]:
    """The patient's clinic visits and home sessions, newest first, as plain rows for the table and chart."""
    db = get_session()
    patient_id = current.patient_id()
    rows = [{"at": visit.occurred_at, "where": "clinic", "pain": visit.pain_worst, "minutes": visit.minutes,
             "pain_before": visit.pain_before, "pain_after": visit.pain_after, "timed": True}
            for visit in visit_service.visits_of(db, patient_id=patient_id)]
    rows += [{"at": home_logs.session_time(log), "where": "home", "pain": log.pain_worst, "minutes": log.minutes,
              "pain_before": None, "pain_after": None, "day": log.session_date,
              "timed": home_logs.session_time(log) == log.created_at}
             for log in home_logs.home_logs_of(db, patient_id=patient_id)]
    return sorted(rows, key=lambda row: row["at"], reverse=True)


@bp.get("/progress")
def progress():  # type: ignore[no-untyped-def]
    """My progress: the chart and the same numbers as a table."""
    rows = _sessions()
    zone = current.zone()
    for row in rows:
        row["date"] = short_date(row.get("day") or row["at"].astimezone(zone).date())
    # Two sessions on one day are two rows that say their time, as the chart draws them as two marks.
    shared = {text for text, count in Counter(row["date"] for row in rows).items() if count > 1}
    for row in rows:
        if row["date"] in shared and row["timed"]:
            row["date"] += ", " + format_time(row["at"].astimezone(zone), "HH:mm", locale=get_locale())
    security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_progress")
    return page("portal/progress.html", rows=rows, home_count=sum(row["where"] == "home" for row in rows),
                chart_sizes=chart_sizes(g.get("text_size", "normal")))


def chart_sizes(text_size: str) -> dict[str, ChartSize]:
    """The portal chart for a phone ("narrow", drawn narrow so its text stays readable once the phone shrinks it
    to the screen) and for a wider screen ("wide"); its text grows with the Large setting, as the page's does."""
    large = 1.375 if text_size == "large" else 1.0
    return {"narrow": ChartSize(400, round(540 * large ** 0.6), text_scale=1.25 * large, legend_columns=1),
            "wide": ChartSize(680, round(460 * large ** 0.6), text_scale=1.2 * large, legend_columns=2)}


def _chart_points() -> list[ChartPoint]:
    """The sessions oldest first; a home session the patient dated without a time sits at noon of its day in the
    clinic's zone (so it is drawn on the day the patient gave, whatever the zone)."""
    zone = current.zone()
    points = []
    for row in reversed(_sessions()):
        at = row["at"]
        if row.get("day") and at.astimezone(zone).date() != row["day"]:
            at = datetime.combine(row["day"], time(12), tzinfo=zone)
        points.append(ChartPoint(at, row["pain_before"], row["pain"], row["pain_after"], row["minutes"]))
    return points


@bp.get("/chart.svg")
def chart():  # type: ignore[no-untyped-def]
    """The patient's own pain and minutes chart (the table under it has the same numbers in large text)."""
    sizes = chart_sizes(g.get("text_size", "normal"))
    size = sizes.get(request.args.get("layout", ""), sizes["narrow"])
    # Drawn in the patient's language: the patient's plain labels, translated, and dates in their words.
    svg = pain_and_minutes_svg(
        _chart_points(), zone=str(current.zone()), title=_("My pain and minutes"), width=size.width,
        height=size.height, labels=PATIENT_LABELS.translated(_), text_scale=size.text_scale,
        legend_columns=size.legend_columns,
        day_label=lambda moment: format_date(moment, "d MMM", locale=get_locale()),
        moment_label=lambda moment: f"{short_date(moment.date())} {format_time(moment, 'HH:mm', locale=get_locale())}")
    return svg_response(svg)
