"""The therapist's home page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import true

from rehab import once, security
from rehab.db import get_session
from rehab.models import Alert, utcnow
from rehab.request_guard import page_number
from rehab.services.assignment import is_mine
from rehab.services.dashboard import build_dashboard, quiet_patients, todays_visits, under_half_this_week
from rehab.services.kept_results import KeptResults
from rehab.views.patients import get_patient_or_404

bp = Blueprint("dashboard", __name__)
KEPT_RESULTS = "rehab.kept_results"  # the app's KeptResults (services/kept_results.py)


@bp.record_once
def _keep_results(state) -> None:  # type: ignore[no-untyped-def]
    state.app.extensions[KEPT_RESULTS] = KeptResults()


# Whose patients the dashboard shows, kept in its address: ?scope=clinic is the whole clinic, else "My patients".
WHOLE_CLINIC = "clinic"
# Where a form posted from the dashboard leads back to (its "back" field), the scope kept.
_BACK: dict[str, str | None] = {"dashboard": None, "dashboard-clinic": WHOLE_CLINIC}


def dashboard_return(back: str | None) -> str | None:
    """The dashboard a form's "back" field names (in the scope it was posted from), or None for another page."""
    if back not in _BACK:
        return None
    return url_for("dashboard.index", scope=_BACK[back])  # a None scope is left out of the address


@bp.get("/dashboard")
def index() -> ResponseReturnValue:
    whole_clinic = request.args.get("scope") == WHOLE_CLINIC
    board = build_dashboard(get_session(), clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow(),
                            therapist_id=None if whole_clinic else g.user.id,
                            kept=current_app.extensions[KEPT_RESULTS])
    return render_template("dashboard.html", board=board, back="dashboard-clinic" if whole_clinic else "dashboard")


# The full "under half this week" a page at a time (the dashboard shows the furthest behind).
UNDER_HALF_PER_PAGE = 50
QUIET_PER_PAGE = 50
TODAY_PER_PAGE = 50


@bp.get("/dashboard/today")
def today() -> ResponseReturnValue:
    """Every visit of today in the dashboard's scope, in time order, a page at a time."""
    whole_clinic = request.args.get("scope") == WHOLE_CLINIC
    db = get_session()
    mine = true() if whole_clinic else is_mine(g.user.id)
    page = request.args.get("page", 1, type=page_number)
    found = {"clinic_id": g.clinic.id, "zone": g.clinic.timezone, "now": utcnow(), "mine": mine,
             "limit": TODAY_PER_PAGE}
    rows, total = todays_visits(db, **found, offset=(page - 1) * TODAY_PER_PAGE)
    if not rows and page > 1:  # past the last page (a visit was deleted, or the day turned): the first
        page = 1
        rows, total = todays_visits(db, **found)
    return render_template("dashboard_today.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // TODAY_PER_PAGE)), mine_only=not whole_clinic,
                           scope=WHOLE_CLINIC if whole_clinic else None)


@bp.get("/dashboard/under-half")
def under_half() -> ResponseReturnValue:
    """Everyone the dashboard counts as under half this week, in its order, in the dashboard's scope."""
    whole_clinic = request.args.get("scope") == WHOLE_CLINIC
    rows = under_half_this_week(get_session(), clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow(),
                                mine=None if whole_clinic else is_mine(g.user.id))
    pages = max(1, -(-len(rows) // UNDER_HALF_PER_PAGE))
    page = min(request.args.get("page", 1, type=page_number), pages)
    shown = rows[(page - 1) * UNDER_HALF_PER_PAGE:page * UNDER_HALF_PER_PAGE]
    return render_template("dashboard_under_half.html", rows=shown, total=len(rows), page=page, pages=pages,
                           mine_only=not whole_clinic, scope=WHOLE_CLINIC if whole_clinic else None)


@bp.get("/dashboard/quiet")
def quiet() -> ResponseReturnValue:
    """Everyone the dashboard counts as quiet 14+ days, the longest quiet first, in the dashboard's scope."""
    whole_clinic = request.args.get("scope") == WHOLE_CLINIC
    db = get_session()
    mine = None if whole_clinic else is_mine(g.user.id)
    page = request.args.get("page", 1, type=page_number)
    rows, total = quiet_patients(db, clinic_id=g.clinic.id, now=utcnow(), mine=mine, limit=QUIET_PER_PAGE,
                                 offset=(page - 1) * QUIET_PER_PAGE)
    if not rows and page > 1:  # past the last page (the list got shorter): the first
        page = 1
        rows, total = quiet_patients(db, clinic_id=g.clinic.id, now=utcnow(), mine=mine, limit=QUIET_PER_PAGE)
    return render_template("dashboard_quiet.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // QUIET_PER_PAGE)), mine_only=not whole_clinic,
                           scope=WHOLE_CLINIC if whole_clinic else None,
                           back="dashboard-clinic" if whole_clinic else "dashboard")


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
    target = once.leads_to(dashboard_return(request.form.get("back")) or url_for("dashboard.index"))
    flash(f"Noted: {patient.full_name} has been quiet.", "success")
    return redirect(target)
