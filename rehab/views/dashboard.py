"""The therapist's home page."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import Alert, utcnow
from rehab.services.dashboard import build_dashboard
from rehab.views.patients import get_patient_or_404

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def index() -> ResponseReturnValue:
    board = build_dashboard(get_session(), clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow())
    return render_template("dashboard.html", board=board)


@bp.post("/patients/<int:patient_id>/inactive/ack")
def acknowledge_inactive(patient_id: int) -> ResponseReturnValue:
    """Note that the team knows a patient has been quiet (kept as an acknowledged alert)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("alert.inactive", patient_id=patient.id)
    now = utcnow()
    db.add(Alert(clinic_id=patient.clinic_id, patient_id=patient.id, kind="inactive",
                 message="No visit or home log for 14 days.", created_at=now, acknowledged_at=now,
                 acknowledged_by_id=g.user.id))
    security.record("alert.acknowledge", patient_id=patient.id, object_type="patient", object_id=patient.id)
    target = once.leads_to(url_for("dashboard.index"))
    flash(f"Noted: {patient.full_name} has been quiet.", "success")
    return redirect(target)
