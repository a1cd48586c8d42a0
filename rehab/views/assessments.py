"""Fall-risk screens recorded on the patient page, before any protocol exists (the baseline) or later."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security, templating
from rehab.db import get_session
from rehab.forms import local_to_utc, parse_form
from rehab.models import Assessment, utcnow
from rehab.services import assessments as assessment_service
from rehab.services.assessments import AssessmentInput
from rehab.views import refuse, stated_reason
from rehab.views.patients import get_patient_or_404

bp = Blueprint("assessments", __name__, url_prefix="/patients/<int:patient_id>/assessments")
LABELS = {"occurred_at": "Date and time", "backward_walk_3m_s": "3-metre backward walk",
          "tug_s": "Timed Up and Go", "gait_speed_ms": "Gait speed", "note": "Note"}


def _local_input(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(g.clinic.timezone)).strftime("%Y-%m-%dT%H:%M")


def _parse(form: Any) -> tuple[AssessmentInput | None, dict[str, str]]:
    occurred = local_to_utc(form.get("occurred_at", ""), g.clinic.timezone)
    values = {name: str(form.get(name, "")).replace(",", ".") if name != "note" else form.get(name, "")
              for name in ("backward_walk_3m_s", "tug_s", "gait_speed_ms", "note")}
    parsed, errors = parse_form(AssessmentInput, values, extra={"occurred_at": occurred} if occurred else None)
    if occurred is None:
        errors = {"occurred_at": "Enter the date and time of the assessment.", **errors}
    if parsed is not None and not parsed.measured:
        return None, {"backward_walk_3m_s": "Enter at least one measure: the 3-metre backward walk, the Timed Up "
                                            "and Go or gait speed."}
    return (parsed if not errors else None), errors


@bp.route("/new", methods=["GET", "POST"])
def create(patient_id: int) -> ResponseReturnValue:
    """Record a fall-risk screen; the protocol builder's safety check reads the newest one."""
    patient = get_patient_or_404(patient_id)
    if patient.archived_at is not None:
        flash("This patient is archived. Bring them back to the active list before recording an assessment.", "error")
        refuse(redirect(url_for("patients.detail", patient_id=patient.id)))
    if request.method == "GET":
        form_id = once.page_form_id()  # in the address: Back, then Save, shows this screen as saved
        return render_template("patients/assessment.html", patient=patient, errors={}, labels=LABELS,
                               values={"occurred_at": _local_input(utcnow())}, form_id=form_id)
    form, errors = _parse(request.form)
    if form is None:
        refuse(render_template("patients/assessment.html", patient=patient, errors=errors, labels=LABELS,
                               values=request.form, form_id=once.posted_form_id()), 422)
    db = get_session()
    once.claim("assessment.create", patient_id=patient.id)
    assessment = assessment_service.record_assessment(db, patient=patient, form=form, user_id=g.user.id, now=utcnow())
    security.record("assessment.create", patient_id=patient.id, object_type="assessment", object_id=assessment.id)
    target = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="screen"))
    flash("Fall-risk screen saved. The protocol builder's safety check now reads it.", "success")
    return redirect(target)


@bp.post("/<int:assessment_id>/remove")
def remove(patient_id: int, assessment_id: int) -> ResponseReturnValue:
    """Take back an assessment entered by mistake (kept, marked removed, with the reason)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("assessment.remove", patient_id=patient.id)  # before the lookup: a repeat finds it removed
    target = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="screen"))
    assessment = db.get(Assessment, assessment_id)
    if assessment is None or assessment.patient_id != patient.id:
        abort(404)
    if assessment.deleted_at is not None:  # a page from before someone else removed it
        flash(f"This assessment was already removed at {templating.moment(assessment.deleted_at)} "
              f"(“{assessment.delete_reason}”); nothing was changed.", "info")
        refuse(redirect(target))
    reason = stated_reason(redirect(target), limit=300)
    if len(reason) < 3:
        flash("Give a reason to remove the assessment (for example: entered for the wrong patient).", "error")
        refuse(redirect(target))
    assessment.deleted_at, assessment.deleted_by_id, assessment.delete_reason = utcnow(), g.user.id, reason
    db.add(assessment)
    security.record("assessment.remove", patient_id=patient.id, object_type="assessment", object_id=assessment.id)
    flash("Assessment removed; it stays in the record with your reason.", "success")
    return redirect(target)
