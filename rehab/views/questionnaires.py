"""The therapist's side of questionnaires: send one with one click, record a licensed total, and the scores
section of the patient page (first against latest, with the important change and improved / no change /
worse)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import Patient, utcnow
from rehab.services import protocol_records, questionnaire_records
from rehab.services.charts import SCORE_CHARTS, scores_svg
from rehab.services.questionnaires import AnswerError, Instrument, check_total, instruments
from rehab.views import refuse, svg_response
from rehab.views.patients import detail_page, get_patient_or_404

bp = Blueprint("questionnaires", __name__, url_prefix="/patients/<int:patient_id>/questionnaires")


def _chosen(kind: str) -> Instrument | None:
    """The instrument the form names, if it is of the kind this action takes."""
    instrument = instruments().get(request.form.get("instrument", ""))
    return instrument if instrument is not None and instrument.kind == kind else None


def _back(patient: Patient) -> ResponseReturnValue:
    return redirect(once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="questionnaires")))


@bp.get("/scores.svg")
def scores_chart(patient_id: int) -> ResponseReturnValue:
    """One questionnaire's scores over time, with its important change and the reading in the title (the table
    on the patient page has the same numbers)."""
    patient = get_patient_or_404(patient_id)
    responses = questionnaire_records.responses_of(get_session(), patient_id=patient.id)
    summaries = questionnaire_records.summarize(responses)
    summary = next((item for item in summaries if item.instrument.key == request.args.get("instrument", "lefs")), None)
    if summary is None:
        abort(404)
    size = SCORE_CHARTS.get(request.args.get("layout", ""), SCORE_CHARTS["wide"])
    return svg_response(scores_svg(questionnaire_records.score_series(summary), zone=g.clinic.timezone,
                                   width=size.width, height=size.height, text_scale=size.text_scale,
                                   legend_columns=size.legend_columns))


@bp.post("/send")
def send(patient_id: int) -> ResponseReturnValue:
    """Send a questionnaire to the patient's portal page (one already waiting is not sent twice)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("questionnaire.send", patient_id=patient.id)
    back = _back(patient)  # before the commit, so that a repeat of this form links there too
    instrument = _chosen("items")
    if instrument is None:
        flash("Choose a questionnaire to send.", "error")
        refuse(back)
    protocol = protocol_records.active_protocol(db, patient_id=patient.id)
    if patient.archived_at is not None or protocol is None:
        flash("Start a protocol first: the patient answers through the link, which needs an active protocol.",
              "error")
        refuse(back)
    response, new = questionnaire_records.send(db, patient_id=patient.id, clinic_id=g.clinic.id,
                                               protocol_id=protocol.id, instrument=instrument.key, now=utcnow(),
                                               user_id=g.user.id)
    if new:
        security.record("questionnaire.send", patient_id=patient.id, object_type="questionnaire",
                        object_id=response.id)
        flash(f"{instrument.text().short_name} sent: it waits on the patient's page under “My questionnaires”.",
              "success")
    else:
        flash(f"{instrument.text().short_name} is already waiting for the patient; it was not sent twice.", "info")
        refuse(back)  # nothing sent: this form can be sent again later
    return back


@bp.post("/total")
def total(patient_id: int) -> ResponseReturnValue:
    """Record a licensed measure's total (the clinic holds the licence and the paper form). A bad entry is put
    back on the patient page as typed, its message beside its field, and nothing is saved."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("questionnaire.total", patient_id=patient.id)
    back = _back(patient)  # before the commit, so that a repeat of this form links there too
    instrument = _chosen("licensed_total")
    errors: dict[str, str] = {}
    if instrument is None:
        errors["instrument"] = "Choose the measure."
    try:
        value: float | None = float(request.form.get("total", "").strip().replace(",", "."))
    except ValueError:
        value = None
        errors["total"] = "Type the total as a number, e.g. 42."
    if value is not None and instrument is not None:
        try:
            check_total(instrument, value)
        except AnswerError as error:
            errors["total"] = str(error)
    try:
        taken: date | None = date.fromisoformat(request.form.get("taken_on", ""))
    except ValueError:
        taken = None
        errors["taken_on"] = "Give the date the form was filled in."
    if taken is not None and taken > datetime.now(UTC).date():
        errors["taken_on"] = "The date cannot be in the future."
    if errors or instrument is None or value is None or taken is None:
        refuse(detail_page(patient, total_errors=errors, total_values=request.form), 422)
    protocol = protocol_records.active_protocol(db, patient_id=patient.id)
    response = questionnaire_records.record_total(
        db, patient_id=patient.id, clinic_id=g.clinic.id, protocol_id=protocol.id if protocol else None,
        instrument=instrument.key, total=value, taken_at=datetime(taken.year, taken.month, taken.day, 12, tzinfo=UTC),
        user_id=g.user.id)
    security.record("questionnaire.total", patient_id=patient.id, object_type="questionnaire", object_id=response.id)
    flash(f"{instrument.text().short_name} total {value:g} recorded.", "success")
    return back
