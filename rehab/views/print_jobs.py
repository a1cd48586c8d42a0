"""Waiting for printing: a single sheet's or progress report's waiting page (it opens the PDF once a render
worker has made it), batch print jobs (start one for a caseload or a clinic, its progress page, its one PDF) and
the user's recent jobs. Every page polls a small JSON answer with its script, and refreshes itself without one."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import PrintJob, utcnow
from rehab.printing import cache, jobs, pdf, queue, worker
from rehab.printing.report import report_cache_key
from rehab.printing.responses import answer_json, pdf_response
from rehab.printing.snapshot import sheet_filename
from rehab.views.handouts import printed_report, printed_sheet, start_batch
from rehab.views.patients import clinic_phone_missing, get_patient_or_404
from rehab.vocabulary import PRINT_JOB_KIND_LABELS, PrintJobKind

bp = Blueprint("print_jobs", __name__)
NOT_RUNNING = ("Printing is not running on this server: ask your IT person to start the render worker "
               "(see “Printing” in the README). Nothing is lost: this page carries on by itself once it runs.")


def _sheet_answer(patient_id: int, print_id: int) -> dict[str, object]:
    *_, cache_key = printed_sheet(patient_id, print_id)
    return queue.waiting_answer(cache_key, url_for("handouts.sheet_pdf", patient_id=patient_id, print_id=print_id))


def _report_answer(patient_id: int, report_id: int) -> dict[str, object]:
    record = printed_report(patient_id, report_id)
    return queue.waiting_answer(report_cache_key(record.digest),
                                url_for("handouts.report_pdf", patient_id=patient_id, report_id=report_id))


def _waiting_page(patient_id: int, answer: dict[str, object], *, document: str, state_url: str) -> ResponseReturnValue:
    """The waiting page, or the PDF itself once it is made (a page refreshed without script lands there)."""
    patient = get_patient_or_404(patient_id)
    if answer["state"] == "ready":
        return redirect(str(answer["pdf_url"]), code=303)
    return render_template("handouts/waiting.html", patient=patient, answer=answer, document=document,
                           not_running=NOT_RUNNING, state_url=state_url)


@bp.get("/patients/<int:patient_id>/sheets/<int:print_id>/waiting")
def sheet_waiting(patient_id: int, print_id: int) -> ResponseReturnValue:
    """The page a sheet's print waits on: the PDF as soon as it is rendered."""
    return _waiting_page(patient_id, _sheet_answer(patient_id, print_id), document="sheet",
                         state_url=url_for("print_jobs.sheet_state", patient_id=patient_id, print_id=print_id))


@bp.get("/patients/<int:patient_id>/sheets/<int:print_id>/state")
def sheet_state(patient_id: int, print_id: int) -> Response:
    get_patient_or_404(patient_id)
    return answer_json(_sheet_answer(patient_id, print_id))


@bp.get("/patients/<int:patient_id>/reports/<int:report_id>/waiting")
def report_waiting(patient_id: int, report_id: int) -> ResponseReturnValue:
    """The page a progress report's print waits on: the PDF as soon as it is rendered."""
    return _waiting_page(patient_id, _report_answer(patient_id, report_id), document="report",
                         state_url=url_for("print_jobs.report_state", patient_id=patient_id, report_id=report_id))


@bp.get("/patients/<int:patient_id>/reports/<int:report_id>/state")
def report_state(patient_id: int, report_id: int) -> Response:
    get_patient_or_404(patient_id)
    return answer_json(_report_answer(patient_id, report_id))


def _job_or_404(job_id: int) -> PrintJob:
    job = jobs.job_of(get_session(), job_id, user_id=g.user.id, clinic_id=g.clinic.id)
    if job is None:  # someone else's job, or none: the same answer
        security.record_denial("print_job.not_found", object_type="print_job", object_id=job_id)
        abort(404)
    return job


def _progress(job: PrintJob) -> dict[str, object]:
    finished = jobs.is_finished(job)
    return jobs.progress(job, jobs.failed_items(get_session(), job),
                         worker_running=finished or queue.is_inline() or queue.worker_alive(),
                         pdf_url=url_for("print_jobs.job_pdf", job_id=job.id) if job.result_key else None)


@bp.get("/print-jobs/")
def index():  # type: ignore[no-untyped-def]
    """The user's recent batch print jobs, and starting one for their caseload (or, for admins, the clinic)."""
    recent = jobs.recent_jobs(get_session(), user_id=g.user.id, clinic_id=g.clinic.id)
    return render_template("print_jobs/index.html", jobs=recent, kinds=PRINT_JOB_KIND_LABELS)


@bp.post("/print-jobs/")
def start():  # type: ignore[no-untyped-def]
    """Print every sheet of the user's caseload, or (admins) of the whole clinic, as one job."""
    scope = request.form.get("scope", "")
    if scope not in (PrintJobKind.CASELOAD, PrintJobKind.CLINIC):
        abort(400)
    if scope == PrintJobKind.CLINIC and not g.get("is_clinic_admin"):
        security.record_denial("admin.denied", object_type="print_job")
        abort(403)
    back = url_for("print_jobs.index")
    if clinic_phone_missing():
        return redirect(back)
    once.claim("print_job.start")
    rows = jobs.caseload_candidates(get_session(), clinic_id=g.clinic.id,
                                    user_id=g.user.id if scope == PrintJobKind.CASELOAD else None)
    if len(rows) > jobs.MAX_SHEETS:
        flash(f"This batch holds the first {jobs.MAX_SHEETS} of {len(rows)} patients by name (one PDF of more is "
              f"too large for a printer's queue): those from {rows[jobs.MAX_SHEETS][0].full_name} on are not in it.",
              "info")
        rows = rows[:jobs.MAX_SHEETS]
    return start_batch(rows, PrintJobKind(scope), back=back,
                       nothing="No sheets to print: no patient here has an active protocol.")


@bp.get("/print-jobs/<int:job_id>")
def job(job_id: int):  # type: ignore[no-untyped-def]
    """A batch's progress ("12 of 40 done"), the sheets that failed by name, and its PDF once done."""
    found = _job_or_404(job_id)
    return render_template("print_jobs/job.html", job=found, progress=_progress(found), kinds=PRINT_JOB_KIND_LABELS,
                           not_running=NOT_RUNNING, state_url=url_for("print_jobs.job_progress", job_id=job_id))


@bp.get("/print-jobs/<int:job_id>/progress")
def job_progress(job_id: int) -> Response:
    return answer_json(_progress(_job_or_404(job_id)))


@bp.get("/print-jobs/<int:job_id>.pdf")
def job_pdf(job_id: int):  # type: ignore[no-untyped-def]
    """The batch's sheets as one PDF, each as it was printed (joined again if the cache was cleared)."""
    db = get_session()
    found = _job_or_404(job_id)
    if not found.result_key:
        abort(404)
    for print_id, patient_id in jobs.printed(db, found):
        security.record_read("sheet.download", patient_id=patient_id, object_type="handout_print",
                             object_id=print_id)
    merged = cache.read(found.result_key)
    if merged is None:
        merged = pdf.join_pdfs(worker.job_sheets(db, found))
        cache.write(found.result_key, merged)
    return pdf_response(merged, sheet_filename(found.finished_at or utcnow(), kind="home-exercises-batch"))
