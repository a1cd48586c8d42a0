"""Batch print jobs as the pages see them: starting one (its sheets chosen now, printed by a render worker),
its progress, the user's recent jobs. Plain arguments, no request; the worker's side is ``worker``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from rehab.models import Patient, PrintJob, PrintJobItem, Protocol
from rehab.printing.prints import batch_candidates
from rehab.services.assignment import is_mine
from rehab.vocabulary import PRINT_JOB_STATUS_LABELS, PrintItemStatus, PrintJobKind, PrintJobStatus

MAX_SHEETS = 500  # a whole clinic at most; more would be a PDF no printer queue takes in one go


def start_job(db: Session, rows: Sequence[tuple[Patient, Protocol]], *, clinic_id: int, user_id: int,
              kind: PrintJobKind, link_base: str) -> PrintJob:
    """A queued job with one item per sheet, in the order given (by name); the caller enqueues it after commit."""
    job = PrintJob(clinic_id=clinic_id, user_id=user_id, kind=kind, total=len(rows), link_base=link_base[:300])
    db.add(job)
    db.flush()
    db.add_all([PrintJobItem(job_id=job.id, position=position, patient_id=patient.id, protocol_id=protocol.id)
                for position, (patient, protocol) in enumerate(rows)])
    db.flush()
    return job


def caseload_candidates(db: Session, *, clinic_id: int, user_id: int | None) -> list[tuple[Patient, Protocol]]:
    """Every patient of the clinic with an active protocol (``user_id`` None), or those of one therapist's
    caseload as "My patients" counts it (their own, the unassigned, and those of a therapist who left)."""
    query = select(Patient.id).where(Patient.clinic_id == clinic_id, col(Patient.archived_at).is_(None))
    if user_id is not None:
        query = query.where(is_mine(user_id))
    ids = db.exec(query).all()
    return batch_candidates(db, clinic_id=clinic_id, patient_ids=ids)


def job_of(db: Session, job_id: int, *, user_id: int, clinic_id: int) -> PrintJob | None:
    """The job, only for the user who started it in the clinic they are working in."""
    job = db.get(PrintJob, job_id)
    return job if job is not None and job.user_id == user_id and job.clinic_id == clinic_id else None


def recent_jobs(db: Session, *, user_id: int, clinic_id: int, limit: int = 20) -> Sequence[PrintJob]:
    return db.exec(select(PrintJob).where(PrintJob.user_id == user_id, PrintJob.clinic_id == clinic_id)
                   .order_by(col(PrintJob.created_at).desc(), col(PrintJob.id).desc()).limit(limit)).all()


@dataclass(frozen=True)
class ItemLine:
    patient_id: int
    patient_name: str
    status: str
    problem: str


def failed_items(db: Session, job: PrintJob) -> list[ItemLine]:
    """The sheets that did not print, each named with the reason."""
    rows = db.exec(select(PrintJobItem, Patient)
                   .join(Patient, col(Patient.id) == PrintJobItem.patient_id)
                   .where(PrintJobItem.job_id == job.id, PrintJobItem.status == PrintItemStatus.FAILED)
                   .order_by(col(PrintJobItem.position))).all()
    return [ItemLine(item.patient_id, patient.full_name, item.status, item.problem) for item, patient in rows]


def printed(db: Session, job: PrintJob) -> list[tuple[int, int]]:
    """Each printed sheet's print record and patient, in the PDF's order."""
    rows = db.exec(select(PrintJobItem.print_id, PrintJobItem.patient_id)
                   .where(PrintJobItem.job_id == job.id, PrintJobItem.status == PrintItemStatus.DONE)
                   .order_by(col(PrintJobItem.position))).all()
    return [(print_id, patient_id) for print_id, patient_id in rows if print_id is not None]


def is_finished(job: PrintJob) -> bool:
    return job.status in (PrintJobStatus.DONE, PrintJobStatus.FAILED)


def progress(job: PrintJob, failed: Collection[ItemLine], *, worker_running: bool,
             pdf_url: str | None) -> dict[str, object]:
    """What the progress bar and its words show, for the page and for the poll (the same words)."""
    settled = job.done_count + job.failed_count
    if job.status == PrintJobStatus.DONE:
        failed_words = f", {job.failed_count} failed" if job.failed_count else ""
        words = f"{job.done_count} of {job.total} printed{failed_words}"
    elif job.status == PrintJobStatus.FAILED:
        words = job.problem or "This batch failed."
    else:
        words = f"{settled} of {job.total} done"
    return {"status": job.status, "status_label": PRINT_JOB_STATUS_LABELS[job.status], "done": settled,
            "printed": job.done_count, "total": job.total, "words": words, "finished": is_finished(job),
            "worker_running": worker_running or is_finished(job), "pdf_url": pdf_url,
            "failed": [{"name": item.patient_name, "problem": item.problem} for item in failed]}
