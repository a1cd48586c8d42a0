"""Printing home-exercise sheets (one, a reprint, or today's batch) and the physician progress report: the
routes only; rendering, the cache and the print records are in ``rehab.printing``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import true

from rehab import once, printing, security
from rehab.db import after_close, get_session
from rehab.i18n import LANGUAGES
from rehab.models import HandoutPrint, Patient, Protocol, ReportPrint, utcnow
from rehab.patient_links import printed_link
from rehab.printing import jobs, queue, responses, worker
from rehab.printing.report import report_cache_key
from rehab.printing.report_snapshot import ASSESSMENT_MAX, PLAN_MAX, ReportOptions, letter_text
from rehab.printing.sheets import sheet_cache_key
from rehab.printing.snapshot import SheetOptions, reprintable, sheet_filename
from rehab.request_guard import bounded_id, is_id
from rehab.services import protocol_records
from rehab.services.advice.inputs import waiting_red_flags
from rehab.services.assignment import is_mine
from rehab.views import refuse
from rehab.views.patients import clinic_phone_missing, get_patient_or_404
from rehab.vocabulary import Language, PrintJobKind

bp = Blueprint("handouts", __name__)


def _therapist_snapshot(patient: Patient, protocol: Protocol, options: SheetOptions) -> dict:  # type: ignore[type-arg]
    return printing.new_snapshot(get_session(), patient, protocol, options, clinic=g.clinic,
                                 printed_by_name=g.user.name)


def _record(patient: Patient, protocol: Protocol, snapshot: dict, *, source: str) -> HandoutPrint:  # type: ignore[type-arg]
    printed_by = g.user.id if g.get("user") else None
    return printing.record_print(get_session(), patient, protocol, snapshot, source=source, printed_by_id=printed_by)


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


def printed_sheet(patient_id: int, print_id: int) -> tuple[str, datetime, printing.PrintedLink | None, str]:
    """A print of this clinic's patient: its digest, date, the link it prints (the live one) and its cache key
    (a 404, recorded as a denial for another clinic's patient, otherwise)."""
    found = printing.print_for_download(get_session(), print_id=print_id, patient_id=patient_id,
                                        clinic_id=g.clinic.id)
    if found is None:
        get_patient_or_404(patient_id)  # another clinic's patient: recorded as a denial
        abort(404)
    digest, printed_at, link = found
    printed = printed_link(printing.opening_link(link, now=utcnow()))
    return digest, printed_at, printed, sheet_cache_key(digest, printed)


@bp.get("/patients/<int:patient_id>/sheets/<int:print_id>.pdf")
def sheet_pdf(patient_id: int, print_id: int):  # type: ignore[no-untyped-def]
    """A printed sheet as PDF from the cache; the first time, a render worker renders it while the browser
    waits on the waiting page (with ``RENDER_QUEUE=inline``, this request renders it)."""
    db = get_session()
    digest, printed_at, link, cache_key = printed_sheet(patient_id, print_id)
    waiting = responses.queued_or_none(
        cache_key, enqueue=lambda: queue.enqueue_sheet(print_id=print_id, patient_id=patient_id,
                                                       link_base=request.url_root, cache_key=cache_key),
        waiting_url=url_for("print_jobs.sheet_waiting", patient_id=patient_id, print_id=print_id))
    if waiting is not None:
        return waiting
    security.record_read("sheet.download", patient_id=patient_id, object_type="handout_print", object_id=print_id)
    pdf = printing.render_sheet(lambda: printing.stored_snapshot(db, print_id=print_id), digest=digest, link=link)
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
    """A print job with the sheets of the chosen patients (default: everyone with a visit today): a render
    worker prints them while its progress page shows how many are done, then one PDF opens."""
    from rehab.services.dashboard import todays_patients

    db = get_session()
    if clinic_phone_missing():
        return redirect(url_for("dashboard.index"))
    once.claim("sheet.batch")
    chosen = {bounded_id(value) for value in request.form.getlist("patient_id") if is_id(value)}
    if not chosen:  # everyone seen today: of "My patients" from that dashboard, else of the whole clinic
        mine = is_mine(g.user.id) if request.form.get("scope") == "mine" else true()
        chosen = todays_patients(db, clinic_id=g.clinic.id, zone=g.clinic.timezone, now=utcnow(), mine=mine)
    rows = printing.batch_candidates(db, clinic_id=g.clinic.id, patient_ids=chosen)
    return start_batch(rows, PrintJobKind.TODAY, back=url_for("dashboard.index"),
                       nothing="No sheets to print: nobody with an active protocol was seen today.")


def start_batch(rows: list[tuple[Patient, Protocol]], kind: PrintJobKind, *, back: str, nothing: str):  # type: ignore[no-untyped-def]
    """Start a print job with these sheets (none for a patient whose red flag or fall waits, named), and go
    to its progress page; with no sheet left, back to ``back`` saying ``nothing``, and nothing is saved."""
    waiting = waiting_red_flags(get_session(), patient_ids=[patient.id for patient, _ in rows])  # type: ignore[misc]
    if waiting:
        names = ", ".join(patient.full_name for patient, _ in rows if patient.id in waiting)
        flash(f"No sheet for {names}: a red flag or fall is not yet cleared.", "error")
        rows = [(patient, protocol) for patient, protocol in rows if patient.id not in waiting]
    if not rows:
        if not waiting:
            flash(nothing, "info")
        refuse(redirect(back))
    job = jobs.start_job(get_session(), rows, clinic_id=g.clinic.id, user_id=g.user.id, kind=kind,
                         link_base=request.url_root)
    security.record("print_job.start", object_type="print_job", object_id=job.id)
    start_after_commit(job.id)
    # The job's progress page has an address of its own: a repeat of this form leads there again.
    target = once.leads_to(url_for("print_jobs.job", job_id=job.id))
    return redirect(target, code=303)


def start_after_commit(job_id: int) -> None:
    """Hand the job to a render worker once the request has committed it (a worker reads it from the
    database); with ``RENDER_QUEUE=inline`` it is printed here, after the response is made."""
    if queue.is_inline():
        after_close(lambda: worker.run_job(job_id, worker=worker.worker_name()))
    else:
        after_close(lambda: queue.enqueue_job(job_id))


@bp.route("/patients/<int:patient_id>/report", methods=["GET", "POST"])
def report(patient_id: int):  # type: ignore[no-untyped-def]
    """The progress report's page: who it is addressed to, the assessment and plan typed now, the paper and
    language; printing keeps the letter with what was typed (``ReportPrint``) and opens its PDF."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    defaults = ReportOptions(paper=g.clinic.paper_size, language=Language.EN)
    values: Any = {"paper": defaults.paper, "language": defaults.language}
    errors: dict[str, str] = {}
    # Its one-time id is in the address, so Back then Print shows the report printed rather than a second one.
    form_id = once.posted_form_id() if request.method == "POST" else once.page_form_id()
    if request.method == "POST":
        once.claim("report.print", patient_id=patient.id)
        values = request.form
        letter, errors = letter_text(request.form)
        if errors:
            # Nothing of this post is kept, its form id neither: the corrected form can be sent again.
            refuse(_report_page(patient, values, errors, form_id), 422)
        options = ReportOptions.parse(request.form, default_paper=defaults.paper, default_language=defaults.language)
        snapshot = printing.new_report(db, patient, clinic=g.clinic, therapist_name=g.user.name, options=options,
                                       letter=letter)
        record = printing.record_report(db, patient, snapshot, source="clinic", printed_by_id=g.user.id)
        security.record("report.print", patient_id=patient.id, object_type="report_print", object_id=record.id)
        target = once.leads_to(url_for("handouts.report_pdf", patient_id=patient.id, report_id=record.id))
        return redirect(target, code=303)
    return _report_page(patient, values, errors, form_id)


def _report_page(patient: Patient, values: Any, errors: dict[str, str], form_id: str | None) -> str:
    return render_template("handouts/report_options.html", patient=patient, values=values, errors=errors,
                           form_id=form_id, languages=LANGUAGES, limits={"assessment": ASSESSMENT_MAX,
                                                                         "plan": PLAN_MAX},
                           reports=printing.recent_reports(get_session(), patient_id=patient.id), loads=json.loads)


def printed_report(patient_id: int, report_id: int) -> ReportPrint:
    """A printed report of this clinic's patient (a 404, recorded as a denial for another clinic's patient)."""
    record = printing.clinic_report(get_session(), report_id=report_id, patient_id=patient_id, clinic_id=g.clinic.id)
    if record is None:
        get_patient_or_404(patient_id)  # another clinic's patient: recorded as a denial
        abort(404)
    return record


@bp.get("/patients/<int:patient_id>/reports/<int:report_id>.pdf")
def report_pdf(patient_id: int, report_id: int):  # type: ignore[no-untyped-def]
    """A printed report as PDF from the cache; the first time, a render worker renders it while the browser
    waits on the waiting page (with ``RENDER_QUEUE=inline``, this request renders it)."""
    record = printed_report(patient_id, report_id)
    cache_key = report_cache_key(record.digest)
    waiting = responses.queued_or_none(
        cache_key, enqueue=lambda: queue.enqueue_report(report_id=report_id, cache_key=cache_key),
        waiting_url=url_for("print_jobs.report_waiting", patient_id=patient_id, report_id=report_id))
    if waiting is not None:
        return waiting
    security.record_read("report.download", patient_id=patient_id, object_type="report_print", object_id=record.id)
    pdf = printing.render_report(lambda: json.loads(record.snapshot), digest=record.digest)
    return printing.pdf_response(pdf, printing.report_filename(record.printed_at.date()))


@bp.post("/patients/<int:patient_id>/reports/<int:report_id>")
def report_reprint(patient_id: int, report_id: int):  # type: ignore[no-untyped-def]
    """An earlier report exactly as it was printed, its assessment and plan with it; the reprint is recorded."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("report.reprint", patient_id=patient.id)
    earlier = printing.clinic_report(db, report_id=report_id, patient_id=patient.id, clinic_id=g.clinic.id)
    if earlier is None:
        abort(404)
    record = printing.record_report(db, patient, json.loads(earlier.snapshot), source="reprint",
                                    printed_by_id=g.user.id)
    security.record("report.reprint", patient_id=patient.id, object_type="report_print", object_id=record.id)
    target = once.leads_to(url_for("handouts.report_pdf", patient_id=patient.id, report_id=record.id))
    return redirect(target, code=303)
