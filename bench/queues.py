"""The render queue's candidates side by side (docs/scaling.md): the same sheets through each broker, printed by
real render workers (`flask render-worker`) against one small seeded database.

    .venv/bin/python bench/queues.py [sqlite] [postgresql://...] [redis://...]

For each queue: a first sheet's time from "Print" to its PDF being ready (median of 12, the page asking every
10 ms), a 40-sheet batch's wall time from the click to its one PDF, and a worker killed (SIGKILL) after five
sheets of a 40-sheet batch: how long until a new worker finished it, and whether any sheet was recorded twice.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess  # noqa: S404 (render workers, argument lists only)
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import seed as seeding  # noqa: E402

SECRET = "bench-secret-key-not-for-production-0123456789"  # noqa: S105 (a throwaway bench app)
CSRF = 'name="csrf_token" value="'


def _field(page: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


class Run:
    """One queue: the app in this process (its test client stands for the browser), workers beside it."""

    def __init__(self, database_url: str, queue: str, work: Path) -> None:
        from rehab import create_app

        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "REHAB_DATABASE_URL": database_url,
                    "REHAB_SECRET_KEY": SECRET, "REHAB_RENDER_QUEUE": queue,
                    "REHAB_SHEET_CACHE_DIR": str(work / "sheets"), "REHAB_RENDER_JOB_STALE_SECONDS": "30"}
        self.app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                               "RENDER_QUEUE": queue, "SHEET_CACHE_DIR": str(work / "sheets"),
                               "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 8})
        self.work, self.workers = work, []  # type: ignore[var-annotated]
        self.client = self.app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        self.client.post("/login", data={"email": "therapist1@bench.example", "password": seeding.BENCH_PASSWORD,
                                         "csrf_token": _field(page, "csrf_token")})

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.work / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "rehab", "render-worker"],  # noqa: S603
                                   cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(process)
        deadline = time.monotonic() + 60
        with self.app.app_context():
            from rehab.printing import queue

            while not queue.worker_alive():
                if time.monotonic() > deadline:
                    raise RuntimeError("the render worker did not start")
                time.sleep(0.05)
        return process

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

    def post(self, url: str, data: dict[str, Any], page: str) -> str:
        html = self.client.get(page).get_data(as_text=True)
        answer = self.client.post(url, data={"csrf_token": _field(html, "csrf_token"),
                                             "form_id": _field(html, "form_id"), **data})
        return str(answer.headers["Location"])

    def first_sheet(self, patient_id: int) -> float:
        began = time.perf_counter()
        pdf_url = self.post(f"/patients/{patient_id}/sheet", {"paper": "letter", "language": "en"},
                            f"/patients/{patient_id}/sheet")
        waiting = self.client.get(pdf_url).headers.get("Location", "")
        while waiting and self.client.get(waiting.replace("/waiting", "/state")).get_json()["state"] != "ready":
            time.sleep(0.01)
        assert self.client.get(pdf_url).data.startswith(b"%PDF")
        return time.perf_counter() - began

    def batch(self, patient_ids: list[int], *, kill_after: int | None = None) -> dict[str, Any]:
        began = time.perf_counter()
        job_url = self.post("/dashboard/sheets", {"patient_id": [str(p) for p in patient_ids]}, "/print-jobs/")
        killed_at = None
        while True:
            progress = self.client.get(f"{job_url}/progress").get_json()
            if kill_after is not None and killed_at is None and progress["done"] >= kill_after:
                self.workers[-1].send_signal(signal.SIGKILL)
                self.workers[-1].wait()
                killed_at = time.perf_counter()
                self.start_worker()
            if progress["finished"]:
                break
            time.sleep(0.05)
        assert self.client.get(progress["pdf_url"]).data.startswith(b"%PDF")
        done = time.perf_counter()
        return {"seconds": round(done - began, 2), "printed": progress["printed"],
                "after_kill_seconds": round(done - killed_at, 2) if killed_at else None}


def records_twice(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        counts = Counter(row[0] for row in connection.execute(text("SELECT patient_id FROM handout_print "
                                                                    "WHERE source = 'batch'")))
    engine.dispose()
    return sum(1 for count in counts.values() if count > 1)


def measure(queue: str, label: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"rehab-queue-{label}-"))
    database_url = f"sqlite:///{work / 'bench.sqlite3'}"
    seeding.PATIENTS, seeding.VISITS, seeding.HOME_LOGS = 800, 2000, 200  # enough for the sheets printed here
    seeding.seed(database_url)
    run = Run(database_url, queue, work)
    try:
        run.start_worker()
        own = [1 + seeding.CLINICS * nth for nth in range(1, 160)]  # clinic 1's patients, therapist1's clinic
        run.first_sheet(own[0])  # the worker's first sheet after its warm-up
        sheets = [run.first_sheet(patient) for patient in own[1:13]]
        batch = run.batch(own[20:60])
        killed = run.batch(own[60:100], kill_after=5)
    finally:
        run.stop()
    return {"queue": label, "sheet_median_ms": round(statistics.median(sheets) * 1000),
            "sheet_max_ms": round(max(sheets) * 1000), "batch_40_s": batch["seconds"],
            "killed_batch_s": killed["seconds"], "killed_batch_after_kill_s": killed["after_kill_seconds"],
            "killed_batch_printed": killed["printed"], "sheets_recorded_twice": records_twice(database_url)}


def main() -> None:
    queues = sys.argv[1:] or ["sqlite"]
    rows = []
    for queue in queues:
        label = queue.split(":", 1)[0]
        url = f"sqlite:///{tempfile.mkdtemp(prefix='rehab-queue-file-')}/render-queue.sqlite3" if queue == "sqlite" \
            else queue
        rows.append(measure(url, label))
        print(json.dumps(rows[-1]), flush=True)
    (ROOT / "bench" / "queues.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
