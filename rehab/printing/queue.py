"""The render queue: sheets and batches wait here for a render worker (`flask render-worker`), so a page worker
never renders a PDF while other therapists wait for their pages (docs/scaling.md).

huey carries the messages: a SQLite file in the instance folder on one machine (nothing to install or start
but the worker, which `make run` and `make serve` start), the chain's PostgreSQL (``PostgresHuey``, woken by
LISTEN/NOTIFY) or Redis when several app hosts share render workers (``RENDER_QUEUE``). A message only says
"render print 12" or "run job 7": the database holds what it means, so a lost message loses no record.

Workers write a heartbeat into the queue's own storage every second; a page that finds none within
``ALIVE_SECONDS`` says that printing is not running instead of waiting for ever.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from rehab.printing import cache

EXTENSION_KEY = "rehab.render_queue"
INLINE = "inline"  # RENDER_QUEUE for no queue: every sheet renders in its request (tests; a fallback)
HEARTBEAT_KEY = "render-worker-heartbeat"
HEARTBEAT_SECONDS = 1.0  # how often a worker beats
ALIVE_SECONDS = 5.0  # no beat for this long: no worker is running
# A therapist's or patient's own PDF goes ahead of a batch's sheets (huey takes the highest priority first), and
# a running batch steps aside after its current sheet when one waits (``worker.run_job``).
SINGLE_PRIORITY = 10
BATCH_PRIORITY = 0
RENDERING_FOLDER = ".rendering"  # in the sheet cache: one file per PDF a worker is rendering right now
STALE_RENDERING_SECONDS = 60.0  # a marker this old was left by a worker that died mid-render
WAIT_POLL_SECONDS = 0.005  # how often a page waiting on a quick render looks in the cache (a stat, no read)
WAITER_LOCK = ".render-waiter.lock"  # in the sheet cache: held by the one page worker waiting on a render


@dataclass
class RenderQueue:
    huey: Any  # huey.Huey (huey publishes no types)
    render_print: Any  # the task that renders one printed sheet into the sheet cache
    render_report: Any  # the task that renders one printed progress report into the cache
    run_job: Any  # the task that prints a batch job


def is_inline(app: Flask | None = None) -> bool:
    return str((app or current_app).config["RENDER_QUEUE"]) == INLINE


def render_queue(app: Flask | None = None) -> RenderQueue:
    """The app's queue, built on first use (huey is imported only by an app that queues)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = _build(app)
    queue: RenderQueue = app.extensions[EXTENSION_KEY]
    return queue


def _storage(app: Flask) -> Any:
    import huey

    url = str(app.config["RENDER_QUEUE"])
    name = "rehab-render"
    if not url:
        return huey.SqliteHuey(name, filename=str(Path(app.instance_path) / "render-queue.sqlite3"))
    if url.startswith("sqlite:///"):
        return huey.SqliteHuey(name, filename=url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return huey.PostgresHuey(name, dsn=url.replace("+psycopg", "", 1), table_prefix="render_queue")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return huey.PriorityRedisHuey(name, url=url)  # plain RedisHuey refuses a task with a priority
    raise ValueError("RENDER_QUEUE must be empty, inline, sqlite:///FILE, postgresql://... or redis://...")


def _build(app: Flask) -> RenderQueue:
    from rehab.printing import worker

    storage = _storage(app)

    def run_job(job_id: int) -> None:
        with app.app_context():
            worker.run_job(job_id, worker=worker.worker_name())

    def render_print_marked(print_id: int, patient_id: int, link_base: str) -> None:
        with app.app_context(), rendering():
            worker.render_print(print_id, patient_id=patient_id, link_base=link_base)

    def render_report_marked(report_id: int) -> None:
        with app.app_context(), rendering():
            worker.render_report(report_id)

    return RenderQueue(huey=storage, render_print=storage.task(name="render_print")(render_print_marked),
                       render_report=storage.task(name="render_report")(render_report_marked),
                       run_job=storage.task(name="run_print_job", priority=BATCH_PRIORITY)(run_job))


def render_task_id(cache_key: str) -> str:
    """One id per PDF as printed (a sheet, a report): its waiting page asks after it, and a double click renders
    it once more at most (the second render finds it in the cache)."""
    return f"sheet-{cache_key}"


def _enqueue(task: Any, cache_key: str) -> None:
    queue = render_queue()
    task.id = render_task_id(cache_key)
    task.priority = SINGLE_PRIORITY
    queue.huey.delete(task.id)  # an earlier failure of this PDF: this is a new try
    queue.huey.enqueue(task)


def enqueue_sheet(*, print_id: int, patient_id: int, link_base: str, cache_key: str) -> None:
    """A printed sheet (the therapist's or the patient's own) to render into the sheet cache."""
    _enqueue(render_queue().render_print.s(print_id, patient_id, link_base), cache_key)


def enqueue_report(*, report_id: int, cache_key: str) -> None:
    """A printed progress report to render into the cache."""
    _enqueue(render_queue().render_report.s(report_id), cache_key)


def enqueue_job(job_id: int) -> None:
    render_queue().run_job(job_id)


def singles_waiting(queue: RenderQueue) -> bool:
    """Whether a single sheet or report waits in the queue (a batch then steps aside after its current sheet).
    The queue is ordered by priority: the first message is a single one if any is."""
    first = queue.huey.storage.enqueued_items(limit=1)
    return bool(first) and queue.huey.deserialize_task(first[0]).priority == SINGLE_PRIORITY


def _rendering_folder() -> Path:
    folder = cache.folder() / RENDERING_FOLDER
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def rendering() -> Iterator[None]:
    """Mark a single PDF as being rendered by this worker, so that a page knows the workers are not idle."""
    marker = _rendering_folder() / f"{os.getpid()}-{threading.get_ident()}"
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _workers_idle(queue: RenderQueue) -> bool:
    """Nothing waits in the queue and no worker renders a single PDF (a marker older than a render could ever
    take was left by a worker that died)."""
    if queue.huey.pending_count():
        return False
    now = time.time()
    for marker in _rendering_folder().iterdir():
        with contextlib.suppress(FileNotFoundError):
            if now - marker.stat().st_mtime < STALE_RENDERING_SECONDS:
                return False
    return True


@contextlib.contextmanager
def quiet_wait() -> Iterator[bool]:
    """Whether this request may wait on its own render: printing runs, its workers are idle, and no other page
    worker is waiting already (one lock file, never waited on). With the workers busy the page answers at once
    with the waiting page instead, so the page workers keep serving other people's pages while sheets render."""
    if float(current_app.config["RENDER_WAIT_SECONDS"]) <= 0 or not worker_alive():
        yield False
        return
    with (cache.folder() / WAITER_LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield _workers_idle(render_queue())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def wait_rendered(cache_key: str) -> bool:
    """Wait up to ``RENDER_WAIT_SECONDS`` for a render just queued; whether it is in the cache."""
    deadline = time.monotonic() + float(current_app.config["RENDER_WAIT_SECONDS"])
    while not cache.has(cache_key):
        if time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_POLL_SECONDS)
    return True


def render_state(cache_key: str) -> str:
    """``ready`` (in the cache, or rendered in the request with no queue), ``failed`` (its render raised) or
    ``waiting``."""
    from huey.exceptions import TaskException

    if is_inline() or cache.has(cache_key):
        return "ready"
    try:
        render_queue().huey.result(render_task_id(cache_key), preserve=True)
    except TaskException:
        return "failed"
    return "waiting"


def waiting_answer(cache_key: str, pdf_url: str) -> dict[str, object]:
    """What a waiting page and its poll say of a PDF being rendered: its state, whether a worker runs (so
    the page says plainly that printing is not running instead of waiting for ever), and where the PDF is."""
    state = render_state(cache_key)
    return {"state": state, "worker_running": state == "ready" or worker_alive(), "pdf_url": pdf_url}


def beat(queue: RenderQueue) -> None:
    queue.huey.put(HEARTBEAT_KEY, time.time())


def worker_alive() -> bool:
    """Whether some render worker beat within ``ALIVE_SECONDS`` (always, with no queue)."""
    if is_inline():
        return True
    last = render_queue().huey.get(HEARTBEAT_KEY, peek=True)
    return last is not None and time.time() - float(last) < ALIVE_SECONDS
