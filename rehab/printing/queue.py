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

import time
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
        return huey.RedisHuey(name, url=url)
    raise ValueError("RENDER_QUEUE must be empty, inline, sqlite:///FILE, postgresql://... or redis://...")


def _build(app: Flask) -> RenderQueue:
    from rehab.printing import worker

    storage = _storage(app)

    def render_print(print_id: int, patient_id: int, link_base: str) -> None:
        with app.app_context():
            worker.render_print(print_id, patient_id=patient_id, link_base=link_base)

    def render_report(report_id: int) -> None:
        with app.app_context():
            worker.render_report(report_id)

    def run_job(job_id: int) -> None:
        with app.app_context():
            worker.run_job(job_id, worker=worker.worker_name())

    return RenderQueue(huey=storage, render_print=storage.task(name="render_print")(render_print),
                       render_report=storage.task(name="render_report")(render_report),
                       run_job=storage.task(name="run_print_job")(run_job))


def render_task_id(cache_key: str) -> str:
    """One id per PDF as printed (a sheet, a report): its waiting page asks after it, and a double click renders
    it once more at most (the second render finds it in the cache)."""
    return f"sheet-{cache_key}"


def _enqueue(task: Any, cache_key: str) -> None:
    queue = render_queue()
    task.id = render_task_id(cache_key)
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
