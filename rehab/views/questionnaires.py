"""The therapist's side of questionnaires: send one with one click, record a licensed total, and the scores
section of the patient page (first against latest, with the important change and improved / no change /
worse)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import Patient, utcnow
from rehab.services import protocol_records, questionnaire_records
from rehab.services.questionnaires import AnswerError, Instrument, instruments
from rehab.views import refuse
from rehab.views.patients import get_patient_or_404

bp = Blueprint("questionnaires", __name__, url_prefix="/patients/<int:patient_id>/questionnaires")


def _chosen(kind: str) -> Instrument | None:
    """The instrument the form names, if it is of the kind this action takes."""
    instrument = instruments().get(request.form.get("instrument", ""))
    return instrument if instrument is not None and instrument.kind == kind else None


def _back(patient: Patient) -> ResponseReturnValue:
    return redirect(once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="questionnaires")))


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
    """Record a licensed measure's total (the clinic holds the licence and the paper form)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("questionnaire.total", patient_id=patient.id)
    back = _back(patient)  # before the commit, so that a repeat of this form links there too
    instrument = _chosen("licensed_total")
    errors: list[str] = []
    if instrument is None:
        errors.append("Choose the measure.")
    try:
        value = float(request.form.get("total", "").replace(",", "."))
    except ValueError:
        value = None
        errors.append("Type the total as a number.")
    try:
        taken = date.fromisoformat(request.form.get("taken_on", ""))
    except ValueError:
        taken = None
        errors.append("Give the date the form was filled in.")
    if taken is not None and taken > datetime.now(UTC).date():
        errors.append("The date cannot be in the future.")
    if not errors:
        assert instrument is not None and value is not None and taken is not None
        protocol = protocol_records.active_protocol(db, patient_id=patient.id)
        try:
            response = questionnaire_records.record_total(
                db, patient_id=patient.id, clinic_id=g.clinic.id, protocol_id=protocol.id if protocol else None,
                instrument=instrument.key, total=value,
                taken_at=datetime(taken.year, taken.month, taken.day, 12, tzinfo=UTC), user_id=g.user.id)
        except AnswerError as error:
            errors.append(str(error))
        else:
            security.record("questionnaire.total", patient_id=patient.id, object_type="questionnaire",
                            object_id=response.id)
            flash(f"{instrument.text().short_name} total {value:g} recorded.", "success")
            return _back(patient)
    for message in errors:
        flash(f"Total not recorded: {message}", "error")
    refuse(back)
