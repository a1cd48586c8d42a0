"""The caseload: list, search, add, edit, archive."""

from __future__ import annotations

from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.forms import parse_form
from rehab.models import Patient, utcnow
from rehab.patient_links import share_details
from rehab.request_guard import bounded_id, page_number
from rehab.services import assessments, assignment, catalogue
from rehab.services import patients as patient_service
from rehab.services.adherence_records import WEEKS_SHOWN, patient_adherence
from rehab.services.caseload import caseload_columns, days_since
from rehab.services.edits import StaleEdit
from rehab.services.patient_page import patient_overview
from rehab.services.safety import fall_risk_findings, is_screened
from rehab.views import refuse
from rehab.vocabulary import CONDITION_LABELS, KNEE_LABELS, LANGUAGE_LABELS, PRECAUTION_LABELS

bp = Blueprint("patients", __name__, url_prefix="/patients")

_STATUSES = ("active", "archived", "all")
CHART_NUMBER_TAKEN = "Another patient in this clinic already has this chart number."
SCREEN_LABELS = {"backward_walk_3m_s": "3-metre backward walk", "tug_s": "Timed Up and Go",
                 "gait_speed_ms": "Gait speed"}
_CHOICES = {"conditions": CONDITION_LABELS, "knees": KNEE_LABELS, "languages": LANGUAGE_LABELS,
            "precautions": PRECAUTION_LABELS}


def get_patient_or_404(patient_id: int) -> Patient:
    """The one way a view gets a patient: scoped to the clinic the therapist is working in."""
    patient = patient_service.get_patient(get_session(), clinic_id=g.clinic.id, patient_id=patient_id)
    if patient is None:
        security.record_denial("patient.not_found", object_type="patient", object_id=patient_id)
        abort(404)
    return patient


def clinic_phone_missing() -> bool:
    """True (with a message saying where to set it) when the clinic has no phone number: sheets and patient
    pages tell patients to stop and call the clinic, which is no instruction without a number."""
    if g.clinic.phone.strip():
        return False
    where = "Set it under Clinic settings (in the top menu)." if g.get("is_clinic_admin") else \
        "Ask an admin of your clinic to set it under Clinic settings."
    flash("Add the clinic's phone number first: the sheet and the patient's page tell patients to call it when "
          f"something is wrong. {where}", "error")
    return True


@bp.get("/")
def index() -> ResponseReturnValue:
    """Search by name or chart number; filter by condition and status."""
    query = request.args.get("q", "")[:100]
    condition = request.args.get("condition", "")
    condition = condition if condition in CONDITION_LABELS else ""
    status = request.args.get("status", "active")
    status = status if status in _STATUSES else "active"
    asked = request.args.get("sort", "name")
    sort: patient_service.Sort = next((known for known in patient_service.SORTS if known == asked), "name")
    page = patient_service.search_patients(
        get_session(), clinic_id=g.clinic.id, query=query, condition=condition, status=status,  # type: ignore[arg-type]  # one of _STATUSES, checked above
        page=request.args.get("page", 1, type=page_number), per_page=current_app.config["PATIENTS_PER_PAGE"],
        sort=sort,
    )
    today = utcnow().astimezone(ZoneInfo(g.clinic.timezone)).date()
    columns = caseload_columns(get_session(), clinic_id=g.clinic.id, patient_ids=[row.id for row in page.patients])
    return render_template("patients/index.html", page=page, query=query, condition=condition,
                           status=status, conditions=CONDITION_LABELS, sort=sort, columns=columns,
                           days_since=partial(days_since, today=today, zone=g.clinic.timezone))


@bp.route("/new", methods=["GET", "POST"])
def create() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    choices = assignment.therapists(get_session(), clinic_id=g.clinic.id)
    # A new patient is looked after by whoever adds them, unless they choose a colleague.
    values = request.form if request.method == "POST" else {"language": "en", "therapist_id": g.user.id}
    # Its one-time id is in the address, so Back then Save shows the patient added rather than a second one.
    form_id = once.posted_form_id() if request.method == "POST" else once.page_form_id()
    if request.method == "POST":
        db = get_session()
        once.claim("patient.create")
        form, errors = parse_form(patient_service.PatientInput, request.form,
                                  checkboxes=patient_service.PatientInput.CHECKBOXES)
        therapist_id = _therapist_field(choices, errors)
        if form and patient_service.chart_number_taken(db, clinic_id=g.clinic.id, chart_number=form.chart_number):
            errors["chart_number"] = CHART_NUMBER_TAKEN
        if form and not errors:
            try:
                patient = patient_service.create_patient(db, clinic_id=g.clinic.id, form=form, user_id=g.user.id,
                                                         now=utcnow(), therapist_id=therapist_id)
            except patient_service.ChartNumberTaken:
                errors["chart_number"] = CHART_NUMBER_TAKEN
            else:
                security.record("patient.create", patient_id=patient.id, object_type="patient",
                                object_id=patient.id)
                if patient.therapist_id:  # added unassigned: the creation says all
                    _record_assignment(patient)
                target = once.leads_to(url_for("patients.detail", patient_id=patient.id))
                flash(f"{patient.full_name} was added.", "success")
                return redirect(target)
        # Nothing of this post is kept, its form id neither: the corrected form can be sent again.
        refuse(render_template("patients/form.html", patient=None, values=values, errors=errors, form_id=form_id,
                               therapists=_options(choices), **_CHOICES), 422)
    return render_template("patients/form.html", patient=None, values=values, errors=errors, form_id=form_id,
                           therapists=_options(choices), **_CHOICES)


def _therapist_field(choices: list[assignment.Therapist], errors: dict[str, str]) -> int | None:
    """The form's "Therapist" choice; a value that is not one of the clinic's active therapists is an error."""
    therapist_id, problem = assignment.therapist_choice(choices, request.form.get("therapist_id", ""))
    if problem:
        errors["therapist_id"] = problem
    return therapist_id


def _options(choices: list[assignment.Therapist]) -> dict[str, str]:
    return {str(choice.id): choice.name for choice in choices}


def _assignment_fields(choices: list[assignment.Therapist], patient: Patient) -> dict[str, object]:
    """The edit form's therapist choices, and the saved one (for "Saved values now" after a stale form)."""
    return {"therapists": _options(choices), "saved_therapist": assignment.name_of(choices, patient.therapist_id),
            "saved_therapist_id": assignment.current_choice(choices, patient.therapist_id)}


def _record_assignment(patient: Patient) -> None:
    """Audit who the patient is now assigned to (the account, or none)."""
    security.record("patient.assign" if patient.therapist_id else "patient.unassign", patient_id=patient.id,
                    object_type="user" if patient.therapist_id else "patient",
                    object_id=patient.therapist_id or patient.id)


@bp.get("/<int:patient_id>")
def detail(patient_id: int) -> ResponseReturnValue:
    return detail_page(get_patient_or_404(patient_id))


def detail_page(patient: Patient, **form_state: Any) -> str:
    """The patient page; ``form_state`` puts a refused form of the page back with its errors beside its fields
    (e.g. ``total_values``/``total_errors`` for the licensed total)."""
    now = utcnow()
    overview = patient_overview(get_session(), patient=patient, now=now, speed_unit=g.clinic.speed_unit,
                                user_id=g.user.id, zone=g.clinic.timezone)
    adherence = patient_adherence(get_session(), patient_id=patient.id, zone=g.clinic.timezone, now=now)
    screen = overview.screen
    facts = assessments.patient_facts(patient, screen, today=utcnow().date())
    findings = fall_risk_findings(facts)
    screen_state = "high" if findings else "low" if is_screened(facts) else "partial" if screen.measured else "none"
    security.record_read("patient.view", patient_id=patient.id, object_type="patient", object_id=patient.id)
    return render_template("patients/detail.html", patient=patient, history=overview.history,
                           protocols=overview.protocols, active=overview.active, content=overview.content,
                           latest_visits=overview.latest_visits, visit_count=overview.visit_count,
                           card=overview.card, alerts=overview.alerts, progress=overview.progress,
                           clearances=overview.clearances, share=overview.share, home_logs=overview.home_logs,
                           shared=share_details(overview.share.link, patient=patient, clinic_name=g.clinic.name)
                           if overview.share and overview.share.status == "ok" else None,
                           questionnaires=overview.questionnaires, adherence=adherence, weeks_shown=WEEKS_SHOWN,
                           references=catalogue.references(), screen=screen, screen_state=screen_state,
                           screen_findings=findings, screen_labels=SCREEN_LABELS,
                           assessments=overview.assessments, therapist_name=overview.therapist_name,
                           **_CHOICES, **form_state)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int) -> ResponseReturnValue:
    """Edit with a stale-form check: if someone saved meanwhile, nothing is overwritten."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    errors: dict[str, str] = {}
    choices = assignment.therapists(db, clinic_id=g.clinic.id)
    # A therapist who no longer works here shows as Unassigned, as on every other page.
    current = assignment.current_choice(choices, patient.therapist_id)
    values = request.form if request.method == "POST" else patient.model_dump() | {"therapist_id": current}
    stale = False
    if request.method == "POST":
        once.claim("patient.update", patient_id=patient.id)
        form, errors = parse_form(patient_service.PatientInput, request.form,
                                  checkboxes=patient_service.PatientInput.CHECKBOXES)
        therapist_id = _therapist_field(choices, errors)
        if form and patient_service.chart_number_taken(db, clinic_id=g.clinic.id, chart_number=form.chart_number,
                                                       exclude_id=patient.id):
            errors["chart_number"] = CHART_NUMBER_TAKEN
        if form and not errors:
            try:
                changes = patient_service.update_patient(
                    db, patient=patient, form=form, seen_version=request.form.get("version", 0, type=bounded_id),
                    user_id=g.user.id, now=utcnow(), therapist_id=therapist_id)
            except StaleEdit:
                stale = True
            except patient_service.ChartNumberTaken:
                errors["chart_number"] = CHART_NUMBER_TAKEN
            else:
                security.record("patient.update", patient_id=patient.id, object_type="patient",
                                object_id=patient.id)
                if "therapist" in changes:
                    _record_assignment(patient)
                once.leads_to(url_for("patients.detail", patient_id=patient.id))
                flash("Saved." if changes else "No changes to save.", "success")
                return redirect(url_for("patients.detail", patient_id=patient.id))
        refuse(render_template("patients/form.html", patient=patient, values=values, errors=errors, stale=stale,
                               **_assignment_fields(choices, patient), **_CHOICES), 409 if stale else 422)
    return render_template("patients/form.html", patient=patient, values=values, errors=errors, stale=stale,
                           **_assignment_fields(choices, patient), **_CHOICES)


@bp.post("/<int:patient_id>/archive")
def archive(patient_id: int) -> ResponseReturnValue:
    return _set_archived(patient_id, archived=True)


@bp.post("/<int:patient_id>/unarchive")
def unarchive(patient_id: int) -> ResponseReturnValue:
    return _set_archived(patient_id, archived=False)


def _set_archived(patient_id: int, *, archived: bool) -> ResponseReturnValue:
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("patient.archive" if archived else "patient.unarchive", patient_id=patient.id)
    back = once.leads_to(url_for("patients.detail", patient_id=patient.id))
    if (patient.archived_at is not None) == archived:  # a page from before someone else did it: nothing to do
        flash(f"{patient.full_name} {'is already archived' if archived else 'is already on the active list'}; "
              "nothing was changed.", "info")
        refuse(redirect(back))
    patient_service.set_archived(db, patient=patient, archived=archived, user_id=g.user.id, now=utcnow())
    security.record("patient.archive" if archived else "patient.unarchive", patient_id=patient.id,
                    object_type="patient", object_id=patient.id)
    flash(f"{patient.full_name} was {'archived' if archived else 'brought back to the active list'}.", "success")
    return redirect(back)
