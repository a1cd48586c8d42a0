"""The patient's own pages: my exercises, my progress, and the home sessions they log.

Every route here sits behind the portal guard (``rehab.views.portal``); ``g.portal`` holds the checked link,
patient, clinic and active protocol. Records are always looked up through the patient on the session, so
another patient's ids are simply not found.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from flask import Response, abort, flash, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from rehab import once, security
from rehab.db import get_session
from rehab.models import HomeLog, utcnow
from rehab.request_guard import bounded_id
from rehab.services import home_logs, home_plan, patient_text, protocol_records
from rehab.services import visits as visit_service
from rehab.services.advice.inputs import AdviceInputs, gather
from rehab.services.charts import PATIENT_LABELS, ChartPoint, pain_and_minutes_svg, style_hashes
from rehab.services.edits import StaleEdit
from rehab.services.portal_links import LinkState
from rehab.services.protocol_content import Phase
from rehab.views.portal import audit_event, bp, page
from rehab.vocabulary import RED_FLAG_PATIENT, SORENESS_PATIENT


def _state() -> LinkState:
    return g.portal


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(_state().clinic.timezone)  # type: ignore[union-attr]
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _patient_id() -> int:
    return _state().patient.id  # type: ignore[union-attr, return-value]


def _phase() -> tuple[Any, int]:
    """The active protocol's content and its current phase index."""
    protocol = _state().protocol
    assert protocol is not None  # the guard refuses a link whose protocol ended
    version = protocol_records.get_version(get_session(), protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[arg-type]
    return protocol_records.load_content(version), protocol.current_phase  # type: ignore[arg-type]


def short_date(day: date) -> str:
    """A short date with the weekday in the patient's language ("Tue, Nov 25" / "mar, 25 nov")."""
    return format_skeleton("MMMEd", day, locale=get_locale())


def _advice_inputs(now: datetime) -> AdviceInputs:
    """The same sessions the therapist's advice reads (see services/advice/inputs.py)."""
    state = _state()
    return gather(get_session(), patient=state.patient, protocol=state.protocol, now=now)  # type: ignore[arg-type]


def stop_page() -> str | None:
    """While a red flag or a fall is not cleared by a therapist, the patient sees "stop", not the exercises."""
    waiting = _advice_inputs(utcnow()).uncleared
    if not waiting:
        return None
    told = [_(RED_FLAG_PATIENT[flag]) for report in waiting for flag in report.red_flags if flag in RED_FLAG_PATIENT]
    if any(report.falls for report in waiting):
        told.append(_("I fell"))
    security.record_read("portal.view", patient_id=_patient_id(), object_type="portal_stop")
    return page("portal/stop.html", told=list(dict.fromkeys(told)))


@bp.get("/home")
def home():  # type: ignore[no-untyped-def]
    """My exercises: this phase's backward walking in plain words, how to stay safe, what comes next. After a
    red flag or a fall, until a therapist clears it: "Stop: call the clinic"."""
    stopped = stop_page()
    if stopped is not None:
        return stopped
    state = _state()
    content, index = _phase()
    phase: Phase = content.phases[index]
    language = g.patient_language
    upcoming = None
    if index + 1 < len(content.phases):
        upcoming = patient_text.phase_text(content.phases[index + 1], template_key=content.template_key,
                                           language=language)
    security.record_read("portal.view", patient_id=_patient_id(), object_type="portal_home")
    return page("portal/home.html", first_name=state.patient.first_name,  # type: ignore[union-attr]
                phase=patient_text.phase_text(phase, template_key=content.template_key, language=language),
                phase_number=index + 1, phase_count=len(content.phases), next_phase=upcoming,
                items=patient_text.exercise_items(phase, language=language, speed_unit=state.clinic.speed_unit),  # type: ignore[union-attr]
                sessions_needed=phase.advance_after_sessions, no_stumbles=phase.no_stumbles,
                ceiling=home_logs.home_ceiling(phase), blood_thinner=state.patient.anticoagulants)  # type: ignore[union-attr]


def _sessions() -> list[dict[str, Any]]:
    """The patient's clinic visits and home sessions, newest first, as plain rows for the table and chart."""
    db = get_session()
    rows = [{"at": visit.occurred_at, "where": "clinic", "pain": visit.pain_worst, "minutes": visit.minutes,
             "pain_before": visit.pain_before, "pain_after": visit.pain_after}
            for visit in visit_service.visits_of(db, patient_id=_patient_id())]
    rows += [{"at": home_logs.session_time(log), "where": "home", "pain": log.pain_worst, "minutes": log.minutes,
              "pain_before": None, "pain_after": None, "day": log.session_date}
             for log in home_logs.home_logs_of(db, patient_id=_patient_id())]
    return sorted(rows, key=lambda row: row["at"], reverse=True)


@bp.get("/progress")
def progress():  # type: ignore[no-untyped-def]
    """My progress: the chart and the same numbers as a table."""
    rows = _sessions()
    for row in rows:
        row["date"] = short_date(row.get("day") or row["at"].astimezone(_zone()).date())
    security.record_read("portal.view", patient_id=_patient_id(), object_type="portal_progress")
    return page("portal/progress.html", rows=rows, home_count=sum(row["where"] == "home" for row in rows))


@bp.get("/chart.svg")
def chart():  # type: ignore[no-untyped-def]
    """The patient's own pain and minutes chart, sized so its labels do not collide on a phone (the table under
    it has the same numbers in large text)."""
    points = [ChartPoint(row["at"], row["pain_before"], row["pain"], row["pain_after"], row["minutes"])
              for row in reversed(_sessions())]
    # Drawn in the patient's language: the shorter patient labels, translated, and the day in their words.
    svg = pain_and_minutes_svg(points, zone=str(_zone()), title=_("My pain and minutes"), width=520, height=480,
                               labels=PATIENT_LABELS.translated(_),
                               day_label=lambda moment: format_date(moment, "dd MMM", locale=get_locale()))
    response = Response(svg, mimetype="image/svg+xml")
    # As the therapist's chart: pygal's own <style> blocks are allowed by hash, nothing else inline.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src {' '.join(style_hashes(svg))}; frame-ancestors 'none'")
    return response


# ---------------------------------------------------------------------------------------------------- home log


def _today() -> Any:
    return datetime.now(_zone()).date()


def _form_page(values: Any, errors: dict[str, str], *, entry: HomeLog | None = None, status: int = 200,
               stale: bool = False):  # type: ignore[no-untyped-def]
    recent = [log for log in home_logs.home_logs_of(get_session(), patient_id=_patient_id(), limit=5)
              if home_logs.can_correct(log, utcnow())] if entry is None else []
    return page("portal/log.html", values=values, errors={name: _(text) for name, text in errors.items()},
                entry=entry, form_id=once.posted_form_id() if entry is None else "", soreness=SORENESS_PATIENT,
                flags=RED_FLAG_PATIENT, today=_today(), stale=stale, recent=recent,
                earliest=(_today() - timedelta(days=home_logs.LOG_DAYS_BACK)).isoformat(),
                format_date=format_date, locale=get_locale()), status


@bp.route("/log", methods=["GET", "POST"])
def log():  # type: ignore[no-untyped-def]
    """Log a home session. A red flag or a fall stops the exercises and alerts the therapist at once."""
    if request.method == "GET":
        once.page_form_id()  # in the address: Back then Send shows the saved session, and alerts only once
        return _form_page({"session_date": _today().isoformat()}, {})
    form, errors = home_logs.validate_home_log(home_logs.home_log_data(request.form), today=_today())
    if form is None:
        return _form_page(request.form, errors, status=422)
    db = get_session()
    state = _state()
    once.claim("portal.log.create")
    content, index = _phase()
    now = utcnow()
    earlier = list(_advice_inputs(now).sessions)
    entry = home_logs.create_home_log(db, patient=state.patient, protocol=state.protocol, form=form,  # type: ignore[arg-type]
                                      link_id=state.link.id, now=now)  # type: ignore[union-attr]
    home_logs.raise_home_alerts(
        db, log=entry, ceiling=home_logs.home_ceiling(content.phases[index]), now=now,
        previous=home_logs.previous_report(earlier, before=home_logs.session_time(entry)))
    unprescribed = home_plan.clinic_only_alert(entry, phase=content.phases[index], phase_number=index + 1, now=now)
    if unprescribed is not None:
        db.add(unprescribed)
    audit_event("portal.log.create", patient_id=entry.patient_id, object_type="home_log", object_id=entry.id)
    target = once.leads_to(url_for("portal.entry", log_id=entry.id))
    db.commit()
    flash(_("Thank you. Your session is saved."), "success")
    return redirect(target)


def _own_entry(log_id: int) -> HomeLog:
    entry = home_logs.get_home_log(get_session(), patient_id=_patient_id(), log_id=log_id)
    if entry is None:
        security.record_denial("portal.log.not_found", patient_id=_patient_id(), object_type="home_log",
                               object_id=log_id)
        abort(404)
    return entry


@bp.get("/log/<int:log_id>")
def entry(log_id: int):  # type: ignore[no-untyped-def]
    """One saved entry; with a red flag or a fall, the "stop and call the clinic" box comes first."""
    saved = _own_entry(log_id)
    return page("portal/entry.html", entry=saved, soreness=SORENESS_PATIENT, flags=RED_FLAG_PATIENT,
                date_text=format_date(saved.session_date, "long", locale=get_locale()),
                can_correct=home_logs.can_correct(saved, utcnow()))


@bp.route("/log/<int:log_id>/edit", methods=["GET", "POST"])
def edit(log_id: int):  # type: ignore[no-untyped-def]
    """Correct an own entry within 24 hours; the earlier answers are kept for the therapist."""
    saved = _own_entry(log_id)
    if not home_logs.can_correct(saved, utcnow()):
        return page("portal/message.html", kind="too_late"), 403
    if request.method == "GET":
        return _form_page(_values_of(saved), {}, entry=saved)
    form, errors = home_logs.validate_home_log(home_logs.home_log_data(request.form), today=_today())
    if form is None:
        return _form_page(request.form, errors, entry=saved, status=422)
    db = get_session()
    once.claim("portal.log.update")
    once.leads_to(url_for("portal.entry", log_id=saved.id))
    now = utcnow()
    try:
        changes = home_logs.correct_home_log(db, log=saved, form=form, now=now,
                                             seen_version=request.form.get("version", 0, type=bounded_id))
    except StaleEdit:
        db.rollback()
        return _form_page(_values_of(_own_entry(log_id)), {}, entry=_own_entry(log_id), status=409, stale=True)
    except home_logs.TooLate:
        return page("portal/message.html", kind="too_late"), 403
    if changes:
        content, index = _phase()
        earlier = [report for report in _advice_inputs(now).sessions
                   if report.at != home_logs.session_time(saved)]
        home_logs.raise_home_alerts(
            db, log=saved, ceiling=home_logs.home_ceiling(content.phases[index]), now=now,
            previous=home_logs.previous_report(earlier, before=home_logs.session_time(saved)))
        audit_event("portal.log.update", patient_id=saved.patient_id, object_type="home_log", object_id=saved.id)
        db.commit()
    flash(_("Your changes are saved.") if changes else _("Nothing was changed."), "success")
    return redirect(url_for("portal.entry", log_id=saved.id))


def _values_of(saved: HomeLog) -> dict[str, Any]:
    values: dict[str, Any] = saved.model_dump()
    values.update(session_date=saved.session_date.isoformat(), minutes=f"{saved.minutes:g}",
                  stumbled="yes" if saved.stumbled else "no", fell="yes" if saved.fell else "no")
    return values
