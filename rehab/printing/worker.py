"""What a render worker does: render a printed sheet or progress report into the cache, print a batch job sheet
by sheet, take over the jobs of a worker that died, and its own loop (`flask render-worker`).

A batch's truth is in its rows (``PrintJob``, ``PrintJobItem``). Each sheet is rendered first, then its print
record, the item marked done and the audit event are committed together, once: the item is claimed with
``status = 'pending'`` in the same UPDATE, so a second worker, or the same job resumed after a crash, never
records a sheet twice. A worker that dies mid-batch leaves the job "running" with an old heartbeat; the next
worker's sweep puts it back in the queue (it resumes at the first pending sheet), or after ``MAX_ATTEMPTS``
fails it with a message the progress page shows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from rehab.db import get_engine, side_transaction
from rehab.models import Clinic, HandoutPrint, Patient, PrintJob, PrintJobItem, Protocol, ReportPrint, User, utcnow
from rehab.patient_links import printed_link
from rehab.printing import cache, pdf, prints, queue, report, sheets
from rehab.printing.snapshot import SheetOptions, snapshot_digest
from rehab.services import audit
from rehab.services.advice.inputs import waiting_red_flags
from rehab.vocabulary import PrintItemStatus, PrintJobStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a batch whose worker died this often is failed, visibly, rather than tried for ever
# Render workers yield the processor to the page workers on the same machine: a page waits behind no render.
WORKER_NICENESS = 10
SWEEP_EVERY_SECONDS = 5.0
SHEET_FAILED = "The sheet could not be made (the render worker's log has the error)."


class ItemProblem(Exception):
    """A sheet of a batch that must not print, with the reason in words for the progress page."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


@contextlib.contextmanager
def _links_from(link_base: str) -> Iterator[None]:
    """Patient links built as the request that asked for the print would build them (``link_url``): from
    PUBLIC_URL, else from that request's address."""
    with current_app.test_request_context(base_url=link_base):
        yield


def _printed_link(db: Session, patient_id: int) -> sheets.PrintedLink | None:
    """The patient's live link and short code as a sheet printed now prints them (as the page would)."""
    return printed_link(prints.live_opening_link(db, patient_id=patient_id, now=utcnow()))


def render_print(print_id: int, *, patient_id: int, link_base: str) -> None:
    """Render a sheet already printed (its record written by the page) into the sheet cache."""
    with Session(get_engine()) as db, _links_from(link_base):
        record = db.get(HandoutPrint, print_id)
        if record is None or record.patient_id != patient_id:
            raise LookupError(f"print {print_id} of patient {patient_id} does not exist")
        sheets.render_sheet(record.snapshot, digest=record.digest, link=_printed_link(db, patient_id))


def render_report(report_id: int) -> None:
    """Render a progress report already printed (its record written by the page) into the cache."""
    with Session(get_engine()) as db:
        record = db.get(ReportPrint, report_id)
        if record is None:
            raise LookupError(f"report {report_id} does not exist")
        report.render_report(json.loads(record.snapshot), digest=record.digest)


def run_job(job_id: int, *, worker: str) -> None:
    """Print a batch job's pending sheets, then join every printed sheet into one PDF."""
    with side_transaction() as writer:
        claimed = _rows(writer.execute(
            update(PrintJob).where(col(PrintJob.id) == job_id, col(PrintJob.status) == PrintJobStatus.QUEUED)
            .values(status=PrintJobStatus.RUNNING, worker=worker, heartbeat_at=utcnow(),
                    attempts=col(PrintJob.attempts) + 1)))
    if not claimed:  # finished, failed, or another worker has it
        return
    with Session(get_engine(), expire_on_commit=False) as db:
        job = db.get(PrintJob, job_id)
        pending = db.exec(select(PrintJobItem.id, PrintJobItem.patient_id, PrintJobItem.protocol_id)
                          .where(PrintJobItem.job_id == job_id, PrintJobItem.status == PrintItemStatus.PENDING)
                          .order_by(col(PrintJobItem.position))).all()
    assert job is not None
    with _links_from(job.link_base):
        for item_id, patient_id, protocol_id in pending:
            if not _still_mine(job_id, worker):
                return  # taken over (this worker was thought dead) or failed meanwhile: stop here
            try:
                _print_item(job, item_id, patient_id, protocol_id)
            except ItemProblem as problem:
                _fail_item(job_id, item_id, str(problem))
            except Exception:
                log.exception("sheet of patient %s in print job %s failed", patient_id, job_id)
                _fail_item(job_id, item_id, SHEET_FAILED)
            if _step_aside(job_id, worker):
                return
        _finish(job)


def _step_aside(job_id: int, worker: str) -> bool:
    """Put the batch back in the queue, behind the single sheets and reports waiting there, so that a therapist's
    one sheet waits for one batch sheet rather than the whole batch. It resumes at its first pending sheet; the
    attempt it used is given back (attempts count workers that died)."""
    if queue.is_inline():
        return False
    render_queue = queue.render_queue()
    if not queue.singles_waiting(render_queue):
        return False
    with side_transaction() as writer:
        handed_back = _rows(writer.execute(
            update(PrintJob).where(col(PrintJob.id) == job_id, col(PrintJob.status) == PrintJobStatus.RUNNING,
                                   col(PrintJob.worker) == worker)
            .values(status=PrintJobStatus.QUEUED, worker=None, heartbeat_at=utcnow(),
                    attempts=col(PrintJob.attempts) - 1)))
    if handed_back:
        render_queue.run_job(job_id)
    return True


def _still_mine(job_id: int, worker: str) -> bool:
    with side_transaction() as writer:
        return _rows(writer.execute(
            update(PrintJob).where(col(PrintJob.id) == job_id, col(PrintJob.status) == PrintJobStatus.RUNNING,
                                   col(PrintJob.worker) == worker).values(heartbeat_at=utcnow()))) == 1


def _print_item(job: PrintJob, item_id: int, patient_id: int, protocol_id: int) -> None:
    with Session(get_engine(), expire_on_commit=False) as db:
        patient, protocol = db.get(Patient, patient_id), db.get(Protocol, protocol_id)
        clinic, user = db.get(Clinic, job.clinic_id), db.get(User, job.user_id)
        assert patient is not None and protocol is not None and clinic is not None and user is not None
        if protocol.status != "active" or patient.archived_at is not None:
            raise ItemProblem("The protocol ended or the patient was archived after the batch was started.")
        if waiting_red_flags(db, patient_ids=[patient_id]):
            raise ItemProblem("A red flag or fall is not yet cleared: record what was done before printing.")
        snapshot = prints.new_snapshot(db, patient, protocol, SheetOptions(paper=clinic.paper_size,
                                                                           language=patient.language),
                                       clinic=clinic, printed_by_name=user.name)
        link = _printed_link(db, patient_id)
    sheets.render_sheet(snapshot, digest=snapshot_digest(snapshot), link=link)  # before any record
    with side_transaction() as writer:
        if not _rows(writer.execute(update(PrintJobItem).where(col(PrintJobItem.id) == item_id,
                                                               col(PrintJobItem.status) == PrintItemStatus.PENDING)
                                    .values(status=PrintItemStatus.DONE))):
            return  # recorded already (a resumed job): the record stays the one print
        record = prints.record_print(writer, patient, protocol, snapshot, source="batch", printed_by_id=job.user_id)
        writer.execute(update(PrintJobItem).where(col(PrintJobItem.id) == item_id).values(print_id=record.id))
        writer.execute(update(PrintJob).where(col(PrintJob.id) == job.id)
                       .values(done_count=col(PrintJob.done_count) + 1, heartbeat_at=utcnow()))
        audit.record_event(writer, key=current_app.extensions["rehab.audit_key"], action="sheet.print",
                           user_id=job.user_id, clinic_id=job.clinic_id, patient_id=patient_id,
                           object_type="handout_print", object_id=record.id)


def _fail_item(job_id: int, item_id: int, problem: str) -> None:
    with side_transaction() as writer:
        if _rows(writer.execute(update(PrintJobItem).where(col(PrintJobItem.id) == item_id,
                                                           col(PrintJobItem.status) == PrintItemStatus.PENDING)
                                .values(status=PrintItemStatus.FAILED, problem=problem[:300]))):
            writer.execute(update(PrintJob).where(col(PrintJob.id) == job_id)
                           .values(failed_count=col(PrintJob.failed_count) + 1, heartbeat_at=utcnow()))


def job_sheets(db: Session, job: PrintJob) -> list[bytes]:
    """The printed sheets of a job as PDFs, in order: from the cache (rendered again only if it was cleared)."""
    rows = db.exec(select(HandoutPrint.snapshot, HandoutPrint.digest, HandoutPrint.patient_id)
                   .join(PrintJobItem, col(PrintJobItem.print_id) == HandoutPrint.id)
                   .where(PrintJobItem.job_id == job.id, PrintJobItem.status == PrintItemStatus.DONE)
                   .order_by(col(PrintJobItem.position))).all()
    return [sheets.render_sheet(snapshot, digest=digest, link=_printed_link(db, patient_id))
            for snapshot, digest, patient_id in rows]


def _finish(job: PrintJob) -> None:
    with Session(get_engine()) as db:
        parts = job_sheets(db, job)
    values: dict[str, Any] = {"finished_at": utcnow()}
    if parts:
        result_key = snapshot_digest({"print_job": job.id, "sheets": [len(part) for part in parts],
                                      "at": values["finished_at"].isoformat()})
        cache.write(result_key, pdf.join_pdfs(parts))
        values |= {"status": PrintJobStatus.DONE, "result_key": result_key}
    else:
        values |= {"status": PrintJobStatus.FAILED, "problem": "No sheet of this batch could be printed: each one "
                                                               "is named below with the reason."}
    with side_transaction() as writer:
        writer.execute(update(PrintJob).where(col(PrintJob.id) == job.id,
                                              col(PrintJob.status) == PrintJobStatus.RUNNING).values(**values))


def _stalled(worker: str | None, heartbeat_at: datetime | None, *, now: datetime, stale_seconds: float) -> bool:
    if heartbeat_at is None or now - heartbeat_at > timedelta(seconds=stale_seconds):
        return True
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True  # its worker on this machine is gone: no need to wait for the heartbeat to age
    except PermissionError:
        return False
    return False


def recover_stalled(*, requeue: Callable[[int], None], now: datetime | None = None) -> list[int]:
    """Put the batches of workers that died back in the queue (they resume at their first pending sheet), or
    fail them with the reason after ``MAX_ATTEMPTS`` tries. Returns the ids put back."""
    now = now or utcnow()
    stale_seconds = float(current_app.config["RENDER_JOB_STALE_SECONDS"])
    with Session(get_engine()) as db:
        running = db.exec(select(PrintJob).where(PrintJob.status == PrintJobStatus.RUNNING)).all()
    requeued = []
    for job in running:
        if not _stalled(job.worker, job.heartbeat_at, now=now, stale_seconds=stale_seconds):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            values: dict[str, Any] = {
                "status": PrintJobStatus.FAILED, "finished_at": now,
                "problem": f"Printing stopped {job.attempts} times during this batch: {job.done_count} of {job.total} "
                           "sheets were printed (they are in each patient's print history); start the batch again "
                           "for the rest."}
        else:
            values = {"status": PrintJobStatus.QUEUED, "worker": None}
        with side_transaction() as writer:
            changed = _rows(writer.execute(update(PrintJob).where(
                col(PrintJob.id) == job.id, col(PrintJob.status) == PrintJobStatus.RUNNING,
                col(PrintJob.worker) == job.worker).values(**values)))
        if changed and values["status"] == PrintJobStatus.QUEUED:
            log.warning("print job %s: its worker %s stopped; resuming it", job.id, job.worker)
            requeue(job.id)
            requeued.append(job.id)
    return requeued + _resend_handed_back(requeue=requeue, now=now, stale_seconds=stale_seconds)


def _resend_handed_back(*, requeue: Callable[[int], None], now: datetime, stale_seconds: float) -> list[int]:
    """A batch that stepped aside (``_step_aside``) is QUEUED with no worker and no running heartbeat; if its
    message to the queue was lost (the worker died between the two, the queue hiccuped), nothing would ever run
    it again. One waiting longer than ``stale_seconds`` is sent again: its claim runs it once however many
    messages there are, and its heartbeat is moved so the next sweep does not send it again at once."""
    cutoff = now - timedelta(seconds=stale_seconds)
    with Session(get_engine()) as db:
        waiting = db.exec(select(PrintJob.id).where(
            PrintJob.status == PrintJobStatus.QUEUED, col(PrintJob.worker).is_(None),
            col(PrintJob.heartbeat_at).is_not(None), col(PrintJob.heartbeat_at) < cutoff)).all()
    resent = []
    for job_id in waiting:
        with side_transaction() as writer:
            touched = _rows(writer.execute(update(PrintJob).where(
                col(PrintJob.id) == job_id, col(PrintJob.status) == PrintJobStatus.QUEUED,
                col(PrintJob.heartbeat_at) < cutoff).values(heartbeat_at=now)))
        if touched:
            log.warning("print job %s: handed back to the queue %s s ago and not run; sending it again",
                        job_id, int(stale_seconds))
            requeue(job_id)
            resent.append(job_id)
    return resent


def _beat_and_sweep(app: Flask, render_queue: queue.RenderQueue, stop: threading.Event) -> None:
    last_sweep = 0.0
    while not stop.is_set():
        try:
            queue.beat(render_queue)
            if time.monotonic() - last_sweep >= SWEEP_EVERY_SECONDS:
                last_sweep = time.monotonic()
                with app.app_context():
                    recover_stalled(requeue=render_queue.run_job)
        except Exception:  # a database or queue hiccup must not end the heartbeat: the next beat tries again
            log.exception("render worker heartbeat failed")
        stop.wait(queue.HEARTBEAT_SECONDS)


def run_worker(app: Flask, *, threads: int = 1) -> None:
    """The render worker: warm the renderer, beat, sweep, and consume the queue until SIGINT or SIGTERM."""
    render_queue = queue.render_queue(app)
    os.nice(WORKER_NICENESS)
    sheets.warm_up(app)
    stop = threading.Event()
    threading.Thread(target=_beat_and_sweep, args=(app, render_queue, stop), name="render-heartbeat",
                     daemon=True).start()
    # An idle worker asks the queue every 10 ms: on SQLite a read without a lock ("select 1 from task"), so a
    # sheet is picked up about 5 ms after it is queued instead of 50 ms (half of the former 0.1 s poll).
    consumer = render_queue.huey.create_consumer(workers=threads, worker_type="thread", periodic=False,
                                                 initial_delay=0.01, backoff=1.0, max_delay=0.01)
    try:
        consumer.run()
    finally:
        stop.set()
