"""Recording visits, the advice that follows, alerts, the progress chart and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from rehab import once, security, templating
from rehab.db import get_session
from rehab.forms import local_to_utc, parse_form
from rehab.models import Alert, Patient, Protocol, Visit, utcnow
from rehab.request_guard import bounded_id
from rehab.services import assessments, catalogue, protocol_records
from rehab.services import visits as visit_service
from rehab.services.advice.card import changes_something, standing_decision
from rehab.services.advice.decisions import (
    MAX_REASON,
    AdviceShown,
    UnsafeAccept,
    decision_history,
    record_decision,
    what_changed,
)
from rehab.services.advice.inputs import advice_for
from rehab.services.advice.undo import UndoRefused, sheets_with_undone_dose, undo_decision
from rehab.services.charts import SCREEN_CHARTS, pain_and_minutes_svg
from rehab.services.edits import StaleEdit
from rehab.services.home_logs import home_log_table
from rehab.services.locks import serialise
from rehab.services.patient_page import chart_points
from rehab.services.protocol_content import kmh_to_mph, mph_to_kmh, number, visit_ceiling
from rehab.services.visits import VisitInput
from rehab.views import flash_at, refuse, stated_reason, svg_response
from rehab.views.dashboard import dashboard_return
from rehab.views.patients import get_patient_or_404
from rehab.vocabulary import EFFUSION_LABELS, RED_FLAG_LABELS, SORENESS_LABELS, STOPPING_ALERTS, SUPPORT_LABELS

bp = Blueprint("visits", __name__, url_prefix="/patients/<int:patient_id>")
ADVICE_LOCK = 74_203  # the advisory lock of decisions and undos, with the patient: one at a time per patient

def _local_input(moment: datetime) -> str:
    """An aware time as a ``datetime-local`` value in the clinic's time zone."""
    return moment.astimezone(ZoneInfo(g.clinic.timezone)).strftime("%Y-%m-%dT%H:%M")


def _speed_for_display(kmh: float | None) -> str:
    if kmh is None:
        return ""
    return number(round(kmh_to_mph(kmh), 2)) if g.clinic.speed_unit == "mph" else number(kmh)


def _parse_visit(form: Any, *, protocol: Protocol | None) -> tuple[VisitInput | None, dict[str, str]]:
    data = {key: form.get(key, "") for key in VisitInput.model_fields if key not in ("occurred_at", "speed_kmh")}
    extra: dict[str, Any] = {}
    occurred = local_to_utc(form.get("occurred_at", ""), g.clinic.timezone)
    errors: dict[str, str] = {}
    if occurred is None:
        errors["occurred_at"] = "Enter the date and time of the visit."
    else:
        extra["occurred_at"] = occurred
    speed = form.get("speed", "").strip().replace(",", ".")
    if speed:
        try:
            value = float(speed)
            data["speed_kmh"] = str(round(mph_to_kmh(value), 2) if g.clinic.speed_unit == "mph" else value)
        except ValueError:
            errors["speed"] = "Enter a speed as a number, or leave it empty."
    shape, shape_errors = parse_form(VisitInput, {**data, **{k: form[k] for k in VisitInput.CHECKBOXES if k in form}},
                                     checkboxes=VisitInput.CHECKBOXES, extra=extra or {"occurred_at": None})
    for field, message in shape_errors.items():
        if field == "occurred_at" and "occurred_at" in errors:
            continue
        errors["speed" if field == "speed_kmh" else field] = message
    if shape is not None and protocol is not None:
        too_early = visit_service.before_protocol_start(protocol, shape.occurred_at, zone=g.clinic.timezone)
        if too_early:
            errors["occurred_at"] = too_early
    return (shape if not errors else None), errors


def _form_context(patient: Patient, values: dict[str, Any], errors: dict[str, str], *, protocol: Protocol | None,
                  **extra: Any) -> dict[str, Any]:
    started = visit_service.protocol_started_at(protocol) if protocol is not None else None
    exercise_choices = {key: exercise.text().name for key, exercise in catalogue.exercises().items()}
    return {"patient": patient, "values": values, "errors": errors, "exercises": exercise_choices,
            "supports": SUPPORT_LABELS, "soreness": SORENESS_LABELS, "effusion": EFFUSION_LABELS,
            "red_flags": RED_FLAG_LABELS,
            "speed_unit": "mph" if g.clinic.speed_unit == "mph" else "km/h",
            "protocol_started": _local_input(started) if started is not None else "", "protocol_started_at": started,
            **extra}


@bp.get("/visits")
def index(patient_id: int) -> ResponseReturnValue:
    """Every visit and home session of the patient, newest first (also the progress chart's data as a table)."""
    patient = get_patient_or_404(patient_id)
    visits = visit_service.latest_visits(get_session(), patient_id=patient.id, limit=None)
    security.record_read("visit.list", patient_id=patient.id, object_type="patient", object_id=patient.id)
    home_logs = home_log_table(get_session(), patient_id=patient.id)
    return render_template("visits/index.html", patient=patient, visits=visits, home_logs=home_logs, active=None,
                           decisions=decision_history(get_session(), patient.id))


@bp.route("/visits/new", methods=["GET", "POST"])
def create(patient_id: int) -> ResponseReturnValue:
    """Record a visit: what the patient reported and what they did, then see the advice."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    protocol = protocol_records.active_protocol(db, patient_id=patient.id)
    if patient.archived_at is not None or protocol is None:
        return render_template("visits/cannot_record.html", patient=patient, archived=patient.archived_at), 409
    version = protocol_records.latest_version(db, protocol)
    phase = protocol_records.load_content(version).phases[protocol.current_phase]
    if request.method == "GET":
        form_id = once.page_form_id()  # Back, then Save, shows this visit as saved instead of saving it again
        rx = phase.prescriptions[0]
        values: dict[str, Any] = {
            "occurred_at": _local_input(utcnow()), "exercise": rx.exercise, "minutes": number(rx.minutes),
            "speed": _speed_for_display(rx.speed_kmh), "incline_pct": number(rx.incline_pct), "support": rx.support,
            "soreness": "none", "effusion": "0", "stumbles": "0", "falls": "0",
        }
        return render_template("visits/form.html", **_form_context(patient, values, {}, protocol=protocol, visit=None,
                                                                   form_id=form_id))
    form, errors = _parse_visit(request.form, protocol=protocol)
    if form is None:
        return render_template("visits/form.html", **_form_context(patient, request.form, errors, protocol=protocol,
                                                                   visit=None, form_id=once.posted_form_id())), 422
    now = utcnow()
    ceiling = visit_ceiling(phase, form.exercise)
    # Everything above only read (no write lock on SQLite); the claim is the first write (rehab/db.py).
    target = url_for("patients.detail", patient_id=patient.id, _anchor="advice")
    once.claim("visit.create", patient_id=patient.id, leads_to=target)
    if not visit_service.still_recordable(db, protocol_id=protocol.id, version=protocol.latest_version,
                                          phase_index=protocol.current_phase):
        refuse(render_template("visits/form.html", **_form_context(
            patient, request.form, {}, protocol=protocol, visit=None, protocol_changed=True,
            form_id=once.posted_form_id())), 409)
    # The visit it is compared with for alerts: the latest one at or before it, read under the lock too.
    previous = visit_service.previous_visit(db, patient_id=patient.id, before=form.occurred_at)
    visit = visit_service.create_visit(db, patient=patient, protocol=protocol, form=form, user_id=g.user.id, now=now)
    visit_service.raise_alerts(db, patient=patient, visit=visit, previous=previous, ceiling=ceiling, now=now,
                               just_recorded=True)
    security.record("visit.create", patient_id=patient.id, object_type="visit", object_id=visit.id)
    if visit.red_flags or visit.falls:
        flash_at("advice", "Visit saved. A red flag or fall was reported: see the advice and the alert.", "error")
    else:
        flash_at("advice", "Visit saved. The advice takes it into account.")
    return redirect(target)


def _alert_corrected(db: Session, *, patient: Patient, visit: Visit, protocol: Protocol | None) -> None:
    """Alerts from a corrected visit, under the dose of the version and phase it was recorded against."""
    version = protocol_records.get_version(db, protocol_id=visit.protocol_id, number=visit.protocol_version)
    if protocol is None or version is None:
        return
    phases = protocol_records.load_content(version).phases
    phase = phases[min(visit.phase_index, len(phases) - 1)]
    previous = visit_service.previous_visit(db, patient_id=patient.id, before=visit.occurred_at, excluding=visit.id)
    visit_service.raise_alerts(db, patient=patient, visit=visit, previous=previous,
                               ceiling=visit_ceiling(phase, visit.exercise), now=utcnow())


def _get_visit_or_404(patient: Patient, visit_id: int) -> Visit:
    visit = visit_service.get_visit(get_session(), patient_id=patient.id, visit_id=visit_id)
    if visit is None or visit.deleted_at is not None:
        abort(404)
    return visit


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int, visit_id: int) -> ResponseReturnValue:
    """Correct a visit; old values are kept, and a stale form is refused."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    visit = _get_visit_or_404(patient, visit_id)
    history = visit_service.visit_history(db, visit_id=visit.id)
    protocol = db.get(Protocol, visit.protocol_id)
    if request.method == "GET":
        values = visit.model_dump()
        values.update(occurred_at=_local_input(visit.occurred_at), speed=_speed_for_display(visit.speed_kmh),
                      minutes=number(visit.minutes), incline_pct=number(visit.incline_pct))
        return render_template("visits/form.html", **_form_context(patient, values, {}, protocol=protocol, visit=visit,
                                                                   history=history))
    once.claim("visit.update", patient_id=patient.id)
    form, errors = _parse_visit(request.form, protocol=protocol)
    stale = False
    if form is not None:
        try:
            changes = visit_service.update_visit(db, visit=visit, form=form, user_id=g.user.id, now=utcnow(),
                                                 seen_version=request.form.get("version", 0, type=bounded_id))
        except StaleEdit:
            stale = True
        else:
            if changes:  # a red flag or fall added by the correction reaches the dashboard like a new one
                _alert_corrected(db, patient=patient, visit=visit, protocol=protocol)
            security.record("visit.update", patient_id=patient.id, object_type="visit", object_id=visit.id)
            target = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="visits"))
            flash("Visit corrected; the earlier values are kept in its history." if changes else "No changes to save.",
                  "success")
            return redirect(target)
    refuse(render_template("visits/form.html", **_form_context(
        patient, request.form, errors, protocol=protocol, visit=visit, history=history, stale=stale)),
           409 if stale else 422)


@bp.post("/visits/<int:visit_id>/delete")
def delete(patient_id: int, visit_id: int) -> ResponseReturnValue:
    """Remove a visit entered by mistake. It stays in the record with the reason."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("visit.delete", patient_id=patient.id)  # before the visit is looked up: a repeat finds it deleted
    visit = _get_visit_or_404(patient, visit_id)
    reason = stated_reason(redirect(url_for("visits.edit", patient_id=patient.id, visit_id=visit.id)), limit=300)
    if len(reason) < 3:
        flash("Give a reason to delete the visit (for example: entered for the wrong patient).", "error")
        refuse(redirect(url_for("visits.edit", patient_id=patient.id, visit_id=visit.id)))
    visit_service.delete_visit(db, visit=visit, reason=reason, user_id=g.user.id, now=utcnow())
    security.record("visit.delete", patient_id=patient.id, object_type="visit", object_id=visit.id)
    target = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="visits"))
    flash("Visit deleted. It is kept in the record with your reason.", "success")
    return redirect(target)


def _advice_back(patient: Patient) -> ResponseReturnValue:
    return redirect(once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="advice")))


@bp.post("/advice")
def decide(patient_id: int) -> ResponseReturnValue:
    """Accept the advice (applying its change) or override it with a reason. Refused, saying why, when a stop
    waits, when the advice changed since the page showed it, when a decision already answers it (a colleague's
    page from before), or when accepting would change nothing."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("advice.decide", patient_id=patient.id)
    protocol = protocol_records.active_protocol(db, patient_id=patient.id)
    if protocol is None:
        abort(404)
    serialise(db, ADVICE_LOCK, patient.id)  # two decisions at once: the second sees the first
    back = _advice_back(patient)
    now = utcnow()
    context = advice_for(db, patient=patient, protocol=protocol, now=now, speed_unit=g.clinic.speed_unit)
    if context.inputs.uncleared:  # first: whatever the form says, nothing is decided while a stop waits
        flash("A red flag or fall is not yet cleared: record what was done first.", "error")
        refuse(redirect(url_for("red_flags.clear", patient_id=patient.id)))
    history = decision_history(db, patient.id, limit=1)
    standing = standing_decision(protocol=protocol, context=context, history=history)
    if standing is not None:
        flash_at("advice", f"{standing.by} already decided on this advice at {templating.moment(standing.at)}: "
                 f"{standing.decision_label.lower()}. Nothing was changed.", "error")
        refuse(back)
    changed = what_changed(AdviceShown.from_form(request.form), AdviceShown.of(context),
                           headline=context.advice.headline)
    if changed is not None:
        flash_at("advice", changed, "error")
        refuse(back)
    accepted = request.form.get("decision") == "accept"
    if not changes_something(context):
        flash_at("advice", "Nothing to decide: this advice keeps the dose as it is.", "error")
        refuse(back)
    reason = stated_reason(back, limit=MAX_REASON, place="advice")
    if not accepted and len(reason) < 3:
        flash_at("advice", "Give a reason to override the advice.", "error")
        refuse(back)
    facts = assessments.patient_facts(patient, assessments.latest_screen(db, patient_id=patient.id),
                                      today=now.date())
    try:
        record_decision(db, patient=patient, protocol=protocol, context=context, accepted=accepted,
                        reason=reason, user_id=g.user.id, now=now, facts=facts)
    except UnsafeAccept as unsafe:
        flash_at("advice", str(unsafe), "error")
        refuse(back)
    except StaleEdit:  # the protocol moved or changed between this page's reads and its write
        flash_at("advice", "The advice changed since you opened the page (a visit or a change was saved). "
                 "Review it again.", "error")
        refuse(back)  # the decision and any version it saved go too
    security.record("advice.accept" if accepted else "advice.override", patient_id=patient.id,
                    object_type="protocol", object_id=protocol.id)
    applied = f" Applied: {context.advice.change.text}." if accepted and context.advice.change else ""
    flash_at("advice", f"Advice {'accepted' if accepted else 'overridden'}.{applied}")
    return back


@bp.post("/advice/<int:decision_id>/undo")
def undo(patient_id: int, decision_id: int) -> ResponseReturnValue:
    """Undo a decision on the advice: by whoever made it, the same day, while nothing has happened since."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("advice.undo", patient_id=patient.id)
    serialise(db, ADVICE_LOCK, patient.id)
    back = _advice_back(patient)
    history = decision_history(db, patient.id)
    entry = next((item for item in history if item.id == decision_id), None)
    protocol = protocol_records.active_protocol(db, patient_id=patient.id)
    if entry is None:
        abort(404)
    if protocol is None:
        flash_at("advice", "The protocol this decision was on has ended: there is nothing to undo.", "error")
        refuse(back)
    now = utcnow()
    context = advice_for(db, patient=patient, protocol=protocol, now=now, speed_unit=g.clinic.speed_unit)
    latest = next((item for item in history if item.protocol_id == protocol.id), None)
    facts = assessments.patient_facts(patient, assessments.latest_screen(db, patient_id=patient.id),
                                      today=now.date())
    try:
        done = undo_decision(db, entry=entry, protocol=protocol, context=context, latest=latest is entry,
                             facts=facts, user_id=g.user.id, now=now, zone=g.clinic.timezone)
    except UndoRefused as refusal:
        flash_at("advice", f"Not undone. {refusal}", "error")
        refuse(back)
    except StaleEdit:
        flash_at("advice", "Not undone: the protocol changed meanwhile. Review the advice again.", "error")
        refuse(back)
    security.record("advice.undo", patient_id=patient.id, object_type="advice_decision", object_id=entry.id)
    flash_at("advice", done)
    printed = sheets_with_undone_dose(db, entry=entry)
    if printed:  # paper does not follow the undo: the patient may walk home with the dose just taken back
        flash_at("advice", f"A home sheet printed at {templating.clock(printed[0])} shows the dose that was undone. "
                 "Print a new sheet and ask the patient to throw the old one away.", "error")
    return back


@bp.post("/alerts/<int:alert_id>/ack")
def acknowledge(patient_id: int, alert_id: int) -> ResponseReturnValue:
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("alert.acknowledge", patient_id=patient.id)
    alert = db.get(Alert, alert_id)
    if alert is None or alert.patient_id != patient.id:
        abort(404)
    target = once.leads_to(dashboard_return(request.form.get("back"))
                           or url_for("patients.detail", patient_id=patient.id))
    if alert.acknowledged_at is not None:  # a page from before someone else acknowledged it
        flash(f"This alert was already acknowledged at {templating.moment(alert.acknowledged_at)}; nothing was "
              "changed.", "info")
        refuse(redirect(target))
    if alert.kind in STOPPING_ALERTS and protocol_records.active_protocol(db, patient_id=patient.id):
        # A red flag is acknowledged by saying what was done about it, with a note, never by one click.
        refuse(redirect(url_for("red_flags.clear", patient_id=patient.id)))
    visit_service.acknowledge(db, alert=alert, user_id=g.user.id, now=utcnow())
    security.record("alert.acknowledge", patient_id=patient.id, object_type="alert", object_id=alert.id)
    flash("Alert acknowledged.", "success")
    return redirect(target)


@bp.get("/chart.svg")
def chart(patient_id: int) -> ResponseReturnValue:
    """The pain and minutes chart as an SVG image (the page shows the same data as a table too)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    patient_visits = visit_service.visits_of(db, patient_id=patient.id)
    moves = [change.at for protocol in protocol_records.protocols_of(db, patient_id=patient.id)
             for change, _ in protocol_records.phase_changes(db, protocol_id=protocol.id)
             if change.undone_at is None]  # an undone move never happened for the patient
    size = SCREEN_CHARTS.get(request.args.get("layout", ""), SCREEN_CHARTS["wide"])
    svg = pain_and_minutes_svg(chart_points(patient_visits), phase_changes=moves, zone=g.clinic.timezone,
                               width=size.width, height=size.height, text_scale=size.text_scale,
                               legend_columns=size.legend_columns)
    return svg_response(svg)


@bp.get("/visits.csv")
def export(patient_id: int) -> ResponseReturnValue:
    """Every visit of the patient as CSV (deleted ones excluded), safe to open in a spreadsheet."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    columns = ["occurred_at", "pain_before", "pain_worst", "pain_after", "pain_next_morning", "soreness", "effusion",
               "exercise", "minutes", "speed_kmh", "incline_pct", "support", "stumbles", "falls", *RED_FLAG_LABELS,
               "backward_walk_3m_s", "tug_s", "gait_speed_ms", "six_minute_walk_m", "knee_flexion_deg",
               "knee_extension_deg", "protocol_version", "phase_index", "note"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for visit in visit_service.visits_of(db, patient_id=patient.id):
        row = [getattr(visit, name) for name in columns]
        row[0] = visit.occurred_at.astimezone(ZoneInfo(g.clinic.timezone)).isoformat(timespec="minutes")
        row[columns.index("phase_index")] = visit.phase_index + 1
        writer.writerow([_spreadsheet_safe(value) for value in row])
    security.record_read("visit.export", patient_id=patient.id, object_type="patient", object_id=patient.id)
    filename = f"visits-{patient.chart_number or patient.id}-{utcnow():%Y-%m-%d}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_safe_filename(filename)}"'})


def _spreadsheet_safe(value: Any) -> Any:
    """Text starting with = + - @ would run as a formula in a spreadsheet (CSV injection): quote it."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _safe_filename(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
