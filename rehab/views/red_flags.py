"""Clearing a patient's red flags and falls: what was done, with a note. Until "cleared to go on" is recorded the
advice says "stop and refer" and the patient's portal says "stop"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import Patient, utcnow
from rehab.services import protocol_records
from rehab.services.advice.decisions import (
    MAX_NOTE,
    MIN_NOTE,
    ClearanceError,
    clearance_signature,
    clearances_of,
    record_clearance,
    reported,
)
from rehab.services.advice.inputs import AdviceInputs, gather
from rehab.views import refuse
from rehab.views.patients import get_patient_or_404
from rehab.vocabulary import CLEARANCE_ACTION_LABELS

bp = Blueprint("red_flags", __name__, url_prefix="/patients/<int:patient_id>/red-flags")


def _inputs(patient: Patient) -> AdviceInputs:
    protocol = protocol_records.active_protocol(get_session(), patient_id=patient.id)
    if protocol is None:
        abort(404)
    return gather(get_session(), patient=patient, protocol=protocol, now=utcnow())


def _page(patient: Patient, inputs: AdviceInputs, values: Any, errors: dict[str, str], *, changed: bool = False,
          status: int = 200) -> ResponseReturnValue:
    return render_template(
        "red_flags/clear.html", patient=patient, uncleared=[reported(report) for report in inputs.uncleared],
        signature=clearance_signature(inputs), actions=CLEARANCE_ACTION_LABELS, values=values, errors=errors,
        changed=changed, min_note=MIN_NOTE, max_note=MAX_NOTE,
        earlier=clearances_of(get_session(), patient_id=patient.id, limit=10)), status


@bp.route("", methods=["GET", "POST"])
def clear(patient_id: int) -> ResponseReturnValue:
    """Record what was done about the red flags and falls not yet cleared."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    inputs = _inputs(patient)
    if request.method == "GET":
        security.record_read("red_flag.view", patient_id=patient.id, object_type="patient", object_id=patient.id)
        return _page(patient, inputs, {}, {})
    once.claim("red_flag.clear", patient_id=patient.id)  # before the checks below: a repeat is "Already saved"
    target = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="advice"))
    if not inputs.uncleared:
        flash("Nothing to clear: no red flag or fall is waiting.", "success")
        refuse(redirect(target))
    if request.form.get("signature") != clearance_signature(inputs):
        refuse(_page(patient, inputs, request.form, {}, changed=True, status=409))
    action = request.form.get("action", "")
    try:
        clearance = record_clearance(db, patient=patient, inputs=inputs, action=action, user_id=g.user.id,
                                     note=request.form.get("note", ""), now=utcnow())
    except ClearanceError as error:
        refuse(_page(patient, inputs, request.form, {error.field: str(error)}, status=422))
    security.record("red_flag.clear", patient_id=patient.id, object_type="red_flag_clearance", object_id=clearance.id)
    if action == "cleared":
        flash("Cleared to go on. The advice and the patient's portal show the exercises again.", "success")
    else:
        flash(f"Recorded: {CLEARANCE_ACTION_LABELS[action].lower()}. The stop stands until you record "
              "“cleared to go on”.", "success")
    return redirect(target)
