"""Printing home-exercise sheets (one, a reprint, or today's batch) and the physician progress report: the
routes only; rendering, the cache and the print records are in ``rehab.printing``."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from rehab import once, printing, security
from rehab.db import get_session
from rehab.i18n import LANGUAGES
from rehab.models import HandoutPrint, Patient, Protocol, utcnow
from rehab.patient_links import link_url
from rehab.printing.snapshot import SheetOptions, reprintable, sheet_filename
from rehab.request_guard import bounded_id, is_id
from rehab.services import protocol_records
from rehab.services.advice.inputs import waiting_red_flags
from rehab.views import refuse
from rehab.views.patients import clinic_phone_missing, get_patient_or_404

bp = Blueprint("handouts", __name__)


def _therapist_snapshot(patient: Patient, protocol: Protocol, options: SheetOptions) -> dict:  # type: ignore[type-arg]
    return printing.new_snapshot(get_session(), patient, protocol, options, clinic=g.clinic,
                                 therapist_name=g.user.name)


def _record(patient: Patient, protocol: Protocol, snapshot: dict, *, source: str) -> HandoutPrint:  # type: ignore[type-arg]
    printed_by = g.user.id if g.get("user") else None
    return printing.record_print(get_session(), patient, protocol, snapshot, source=source, printed_by_id=printed_by)


def _printed_link(token: str | None) -> str | None:
    """The patient's link as the sheet prints it (with its QR code), from this request's address."""
    return link_url(token) if token else None


def portal_url_for(patient_id: int) -> str | None:
    """The patient's live personal link, for the QR code on the sheet (re-derived; never stored)."""
    return _printed_link(printing.live_link_token(get_session(), patient_id=patient_id,
                                                  secret_key=current_app.secret_key, now=utcnow()))  # type: ignore[arg-type]


@bp.route("/patients/<int:patient_id>/sheet", methods=["GET", "POST"])
def print_sheet(patient_id: int):  # type: ignore[no-untyped-def]
    """Choose options (defaults from the patient and the clinic), then get the PDF."""
    patient = get_patient_or_404(patient_id)
    protocol = protocol_records.active_protocol(get_session(), patient_id=patient.id)  # type: ignore[arg-type]
    if protocol is None:
        flash("Start a protocol before printing a home sheet: the sheet shows the protocol's current phase.", "error")
    if protocol is None or clinic_phone_missing():
        return redirect(url_for("patients.detail", patient_id=patient.id))
    if waiting_red_flags(get_session(), patient_ids=[patient.id]):  # type: ignore[list-item]
        return _red_flag_first(patient)
    defaults = SheetOptions(paper=g.clinic.paper_size, language=patient.language, include_next=True)
    if request.method == "GET":
        return render_template("handouts/options.html", patient=patient, protocol=protocol, options=defaults,
                               languages=LANGUAGES, prints=printing.recent_prints(get_session(), patient_id=patient.id),  # type: ignore[arg-type]
                               loads=json.loads)
    once.claim("sheet.print", patient_id=patient.id)
    options = SheetOptions.parse(request.form, default_paper=g.clinic.paper_size,
                                        default_language=patient.language)
    record = _record(patient, protocol, _therapist_snapshot(patient, protocol, options), source="clinic")
    security.record("sheet.print", patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.sheet_pdf", patient_id=patient.id, print_id=record.id))
    return redirect(target, code=303)


def _red_flag_first(patient: Patient):  # type: ignore[no-untyped-def]
    """No exercise sheet while a red flag or a fall waits: the sheet would send the patient on walking."""
    flash("A red flag or fall is not yet cleared: record what was done before printing exercises.", "error")
    return redirect(url_for("red_flags.clear", patient_id=patient.id))


@bp.get("/patients/<int:patient_id>/sheets/<int:print_id>.pdf")
def sheet_pdf(patient_id: int, print_id: int):  # type: ignore[no-untyped-def]
    """A printed sheet as PDF: rendered the first time, then served from the cache."""
    db = get_session()
    found = printing.print_for_download(db, print_id=print_id, patient_id=patient_id, clinic_id=g.clinic.id)
    if found is None:
        get_patient_or_404(patient_id)  # another clinic's patient: recorded as a denial
        abort(404)
    digest, printed_at, link = found
    security.record_read("sheet.download", patient_id=patient_id, object_type="handout_print", object_id=print_id)
    portal_url = _printed_link(printing.link_token(link, secret_key=current_app.secret_key, now=utcnow()))  # type: ignore[arg-type]
    pdf = printing.render_sheet(lambda: printing.stored_snapshot(db, print_id=print_id), digest=digest,
                                portal_url=portal_url)
    return printing.pdf_response(pdf, sheet_filename(printed_at))


@bp.post("/patients/<int:patient_id>/sheets/<int:print_id>")
def reprint(patient_id: int, print_id: int):  # type: ignore[no-untyped-def]
    """An earlier sheet exactly as it was printed (from its snapshot); the reprint is recorded too."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("sheet.reprint", patient_id=patient.id)
    earlier = db.get(HandoutPrint, print_id)
    if earlier is None or earlier.patient_id != patient.id:
        abort(404)
    if clinic_phone_missing():
        refuse(redirect(url_for("handouts.print_sheet", patient_id=patient.id)))
    if waiting_red_flags(db, patient_ids=[patient.id]):  # type: ignore[list-item]
        refuse(_red_flag_first(patient))
    snapshot = json.loads(earlier.snapshot)
    if not reprintable(snapshot):
        flash("This sheet was printed before its treadmill instructions and emergency box were corrected. "
              "Print a new sheet instead.", "error")
        refuse(redirect(url_for("handouts.print_sheet", patient_id=patient.id)))
    record = _record(patient, db.get(Protocol, earlier.protocol_id), snapshot, source="reprint")  # type: ignore[arg-type]
    security.record("sheet.reprint", patient_id=patient.id, object_type="handout_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.sheet_pdf", patient_id=patient.id, print_id=record.id))
    return redirect(target, code=303)


@bp.post("/dashboard/sheets")
def batch():  # type: ignore[no-untyped-def]
    """One PDF with the sheets of the chosen patients (default: everyone with a visit today)."""
    from rehab.services.dashboard import build_dashboard

    db = get_session()
    if clinic_phone_missing():
        return redirect(url_for("dashboard.index"))
    once.claim("sheet.batch")
    chosen = {bounded_id(value) for value in request.form.getlist("patient_id") if is_id(value)}
    if not chosen:
        board = build_dashboard(db, clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow())
        chosen = {visit.patient_id for visit in board.today}
    rows = printing.batch_candidates(db, clinic_id=g.clinic.id, patient_ids=chosen)
    waiting = waiting_red_flags(db, patient_ids=[patient.id for patient, _ in rows])  # type: ignore[misc]
    if waiting:
        names = ", ".join(patient.full_name for patient, _ in rows if patient.id in waiting)
        flash(f"No sheet for {names}: a red flag or fall is not yet cleared.", "error")
        rows = [(patient, protocol) for patient, protocol in rows if patient.id not in waiting]
    if not rows:
        if not waiting:
            flash("No sheets to print: nobody with an active protocol was seen today.", "info")
        refuse(redirect(url_for("dashboard.index")))
    printed = []
    for patient, protocol in rows:
        options = SheetOptions(paper=g.clinic.paper_size, language=patient.language)
        record = _record(patient, protocol, _therapist_snapshot(patient, protocol, options), source="batch")
        security.record("sheet.print", patient_id=patient.id, object_type="handout_print", object_id=record.id)
        printed.append(str(record.id))
    # The sheets are downloaded from an address of their own: a repeat of this form leads there again.
    target = once.leads_to(url_for("handouts.batch_pdf", prints=",".join(printed)))
    return redirect(target, code=303)


@bp.get("/dashboard/sheets.pdf")
def batch_pdf():  # type: ignore[no-untyped-def]
    """One PDF with the sheets of a batch print (``prints``: their ids), each as it was printed."""
    ids = [int(value) for value in request.args.get("prints", "").split(",")[:200] if value.isdigit()]
    records = printing.clinic_prints(get_session(), clinic_id=g.clinic.id, print_ids=ids)
    if not records:
        abort(404)
    for record in records:
        security.record_read("sheet.download", patient_id=record.patient_id, object_type="handout_print",
                             object_id=record.id)
    pdf = printing.render_batch([(json.loads(record.snapshot), portal_url_for(record.patient_id))
                                 for record in records])
    return printing.pdf_response(pdf, sheet_filename(records[0].printed_at, kind="home-exercises-batch"))


@bp.get("/patients/<int:patient_id>/report.pdf")
def report(patient_id: int):  # type: ignore[no-untyped-def]
    """The progress report for the referring physician: course of care, chart, measures, visits."""
    patient = get_patient_or_404(patient_id)
    pdf = printing.report_pdf(get_session(), patient, clinic=g.clinic, therapist_name=g.user.name)
    security.record_read("report.print", patient_id=patient.id, object_type="patient", object_id=patient.id)
    return printing.pdf_response(pdf, sheet_filename(utcnow(), kind="progress-report"))
