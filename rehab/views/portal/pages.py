"""The patient's own pages: my exercises, my progress and its chart, and "stop" after a red flag or a fall.

Every route here sits behind the portal guard; records are looked up through the patient on the session.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date, format_skeleton
from flask import Response, g
from flask_babel import get_locale
from flask_babel import gettext as _

from rehab import security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.services import home_logs, patient_text
from rehab.services import visits as visit_service
from rehab.services.adherence_records import patient_adherence
from rehab.services.charts import PATIENT_LABELS, ChartPoint, pain_and_minutes_svg, style_hashes
from rehab.services.protocol_content import Phase
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.layout import page
from rehab.vocabulary import RED_FLAG_PATIENT


def short_date(day: date) -> str:
    """A short date with the weekday in the patient's language ("Tue, Nov 25" / "mar, 25 nov")."""
    return format_skeleton("MMMEd", day, locale=get_locale())


def stop_page() -> str | None:
    """While a red flag or a fall is not cleared by a therapist, the patient sees "stop", not the exercises."""
    waiting = current.advice_inputs(utcnow()).uncleared
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
    red flag or a fall, until a therapist clears it: "Stop: call the clinic"."""
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
                ceiling=home_logs.home_ceiling(phase), blood_thinner=state.patient.anticoagulants)  # type: ignore[union-attr]


def _sessions() -> list[dict[str, Any]]:
    """The patient's clinic visits and home sessions, newest first, as plain rows for the table and chart."""
    db = get_session()
    patient_id = current.patient_id()
    rows = [{"at": visit.occurred_at, "where": "clinic", "pain": visit.pain_worst, "minutes": visit.minutes,
             "pain_before": visit.pain_before, "pain_after": visit.pain_after}
            for visit in visit_service.visits_of(db, patient_id=patient_id)]
    rows += [{"at": home_logs.session_time(log), "where": "home", "pain": log.pain_worst, "minutes": log.minutes,
              "pain_before": None, "pain_after": None, "day": log.session_date}
             for log in home_logs.home_logs_of(db, patient_id=patient_id)]
    return sorted(rows, key=lambda row: row["at"], reverse=True)


@bp.get("/progress")
def progress():  # type: ignore[no-untyped-def]
    """My progress: the chart and the same numbers as a table."""
    rows = _sessions()
    zone = current.zone()
    for row in rows:
        row["date"] = short_date(row.get("day") or row["at"].astimezone(zone).date())
    security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_progress")
    return page("portal/progress.html", rows=rows, home_count=sum(row["where"] == "home" for row in rows))


@bp.get("/chart.svg")
def chart():  # type: ignore[no-untyped-def]
    """The patient's own pain and minutes chart, sized so its labels do not collide on a phone (the table under
    it has the same numbers in large text)."""
    points = [ChartPoint(row["at"], row["pain_before"], row["pain"], row["pain_after"], row["minutes"])
              for row in reversed(_sessions())]
    # Drawn in the patient's language: the shorter patient labels, translated, and the day in their words.
    svg = pain_and_minutes_svg(points, zone=str(current.zone()), title=_("My pain and minutes"), width=520,
                               height=480, labels=PATIENT_LABELS.translated(_),
                               day_label=lambda moment: format_date(moment, "dd MMM", locale=get_locale()))
    response = Response(svg, mimetype="image/svg+xml")
    # As the therapist's chart: pygal's own <style> blocks are allowed by hash, nothing else inline.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src {' '.join(style_hashes(svg))}; frame-ancestors 'none'")
    return response
