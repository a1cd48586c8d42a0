"""Printing through the real render queue: huey's SQLite queue, and render workers started as the project starts
them (`flask --app rehab render-worker`, in processes of their own, against the test's database).

A single sheet waits on its page and opens as a real PDF; with no worker the page says so plainly; a batch
names its failed sheet and prints the rest as one PDF; a worker killed mid-batch is taken over by the next one
without a sheet recorded twice, or the batch fails visibly when printing stopped too often.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from rehab.models import AuditEvent, HandoutPrint, PrintJob, ProtocolVersion, utcnow
from tests import factories
from tests.conftest import count_rows, submit
from tests.factories import SECRET
from tests.test_handouts import pdf_text


def sheet_text(data: bytes) -> str:
    return pdf_text(data)[0]  # the text of every page (the shared reader also counts them)


pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[1]
PATIENCE_SECONDS = 120  # only so a broken worker fails the test instead of hanging it; nothing here is timed


@pytest.fixture
def queued(app, tmp_path):  # type: ignore[no-untyped-def]
    """The app with a real render queue (a SQLite file) and a sheet cache its workers share."""
    app.config["RENDER_QUEUE"] = f"sqlite:///{tmp_path / 'render-queue.sqlite3'}"
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")
    app.config["RENDER_JOB_STALE_SECONDS"] = 30
    return app


@pytest.fixture
def start_worker(queued, database_url, tmp_path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    started: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REHAB_DATABASE_URL": database_url, "REHAB_SECRET_KEY": SECRET,
               "REHAB_RENDER_QUEUE": queued.config["RENDER_QUEUE"],
               "REHAB_SHEET_CACHE_DIR": queued.config["SHEET_CACHE_DIR"],
               "REHAB_RENDER_JOB_STALE_SECONDS": "30"}
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "rehab", "render-worker"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for log in logs:
        log.close()


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def patient(clinic, make_patient, db):  # type: ignore[no-untyped-def]
    clinic.address, clinic.phone = "210 River Road", "(555) 010-2030"
    db.add(clinic)
    db.commit()
    return make_patient(clinic, first_name="Dorothy", last_name="Whitfield")


def print_sheet(client, patient):  # type: ignore[no-untyped-def]
    """Press "Print home sheet": the print is recorded and the browser is sent to the sheet's PDF."""
    response = submit(client, f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en"})
    assert response.status_code == 303
    return response.headers["Location"]


def test_a_sheet_waits_for_the_worker_and_opens_as_a_real_pdf(queued, therapist_client, patient, therapist, db,
                                                              start_worker):
    factories.protocol(db, patient, days_ago=3, user_id=therapist.id, home=True)
    start_worker()
    pdf_url = print_sheet(therapist_client, patient)
    first = therapist_client.get(pdf_url)
    if first.status_code == 303:  # the worker was not idle yet (warming up): the sheet waits on its page
        assert first.headers["Location"].endswith("/waiting")
        waiting = therapist_client.get(first.headers["Location"])
    if first.status_code == 303 and waiting.status_code == 200:  # not rendered yet: the page that waits (no script)
        page = waiting.get_data(as_text=True)
        assert "Making Dorothy Whitfield's sheet" in page and 'http-equiv="refresh"' in page
        state_url = first.headers["Location"].replace("/waiting", "/state")
        answer = wait_for(lambda: (a := therapist_client.get(state_url).get_json())["state"] == "ready" and a,
                          "the sheet to be rendered")
        assert answer["pdf_url"] == pdf_url
    sheet = therapist_client.get(pdf_url)
    assert sheet.mimetype == "application/pdf" and "Dorothy Whitfield" in sheet_text(sheet.data)
    assert count_rows(db, HandoutPrint) == 1  # the page recorded the print; the worker only rendered it


def test_without_a_worker_the_page_says_printing_is_not_running_and_prints_once_one_starts(
        queued, therapist_client, patient, therapist, db, start_worker):
    factories.protocol(db, patient, days_ago=3, user_id=therapist.id, home=True)
    pdf_url = print_sheet(therapist_client, patient)
    waiting_url = therapist_client.get(pdf_url).headers["Location"]
    page = therapist_client.get(waiting_url).get_data(as_text=True)
    assert "Printing is not running on this server: ask your IT person to start the render worker" in page
    assert 'data-print-stopped hidden' not in page  # shown, not hidden
    state = therapist_client.get(waiting_url.replace("/waiting", "/state")).get_json()
    assert state == {"state": "waiting", "worker_running": False, "pdf_url": pdf_url}
    start_worker()  # the sheet was kept in the queue: it prints as soon as printing runs
    wait_for(lambda: therapist_client.get(waiting_url).status_code == 303, "the sheet to print once a worker runs")
    assert "Dorothy Whitfield" in sheet_text(therapist_client.get(pdf_url).data)


def _seen_today(db: Session, clinic, names: list[tuple[str, str]], make_patient, therapist):  # type: ignore[no-untyped-def]
    made = []
    for first, last in names:
        who = make_patient(clinic, first_name=first, last_name=last)
        protocol = factories.protocol(db, who, days_ago=3, user_id=therapist.id)
        factories.visit(db, who, protocol)
        made.append((who, protocol))
    return made


def start_today(client) -> str:  # type: ignore[no-untyped-def]
    response = submit(client, "/dashboard/sheets", {}, form_page="/dashboard")
    assert response.status_code == 303
    return response.headers["Location"]


def test_a_batch_names_its_failed_sheet_and_prints_the_rest_as_one_pdf(queued, therapist_client, clinic, therapist,
                                                                      make_patient, db, start_worker):
    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    db.commit()
    made = _seen_today(db, clinic, [("Ana", "Alvarez"), ("Ben", "Brooks"), ("Cara", "Chen")], make_patient, therapist)
    job_url = start_today(therapist_client)  # the worker starts after: the batch waits in the queue
    page = therapist_client.get(job_url).get_data(as_text=True)
    assert "Today&#39;s sheets" in page and "0 of 3 done" in page
    broken = db.exec(select(ProtocolVersion).where(ProtocolVersion.protocol_id == made[1][1].id)).one()
    broken.content = '{"phases": "not a list"}'  # a sheet that cannot be made, whatever the reason
    db.add(broken)
    db.commit()
    start_worker()
    progress = wait_for(lambda: (p := therapist_client.get(f"{job_url}/progress").get_json())["finished"] and p,
                        "the batch to finish")
    assert progress["words"] == "2 of 3 printed, 1 failed" and progress["status"] == "done"
    assert progress["failed"] == [{"name": "Ben Brooks",
                                   "problem": "The sheet could not be made (the render worker's log has the error)."}]
    page = therapist_client.get(job_url).get_data(as_text=True)
    assert "Ben Brooks" in page and "Open the PDF of 2 sheets" in page
    merged = therapist_client.get(progress["pdf_url"])
    text = sheet_text(merged.data)
    assert "Ana Alvarez" in text and "Cara Chen" in text and "Ben Brooks" not in text
    assert text.count("Page 1 of") == 2  # each sheet keeps its own page numbers
    assert sorted(record.patient_id for record in db.exec(select(HandoutPrint)).all()) == [made[0][0].id, made[2][0].id]


def test_a_worker_killed_mid_batch_is_taken_over_without_a_sheet_recorded_twice(
        queued, therapist_client, clinic, therapist, make_patient, db, start_worker):
    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    db.commit()
    names = [(f"Pat{index:02d}", f"Walker{index:02d}") for index in range(24)]
    made = _seen_today(db, clinic, names, make_patient, therapist)
    first = start_worker()
    job_url = start_today(therapist_client)
    seen: list[int] = []

    def some_printed() -> bool:
        progress = therapist_client.get(f"{job_url}/progress").get_json()
        seen.append(progress["done"])
        return progress["done"] >= 3

    wait_for(some_printed, "the first sheets of the batch")
    first.send_signal(signal.SIGKILL)  # as a crash or an out-of-memory kill would: no goodbye
    first.wait(timeout=10)
    stopped = therapist_client.get(f"{job_url}/progress").get_json()
    assert not stopped["finished"] and stopped["status"] == "running" and stopped["done"] < len(made)
    assert f"{stopped['done']} of {len(made)} done" in therapist_client.get(job_url).get_data(as_text=True)
    assert seen == sorted(seen)  # progress only goes forward
    start_worker()  # the next worker finds the batch of a worker that is gone and resumes it
    progress = wait_for(lambda: (p := therapist_client.get(f"{job_url}/progress").get_json())["finished"] and p,
                        "the resumed batch to finish")
    assert progress["words"] == f"{len(made)} of {len(made)} printed"
    printed = [record.patient_id for record in db.exec(select(HandoutPrint)).all()]
    assert sorted(printed) == sorted(who.id for who, _ in made)  # every sheet once, none twice
    db.expire_all()
    job = db.exec(select(PrintJob)).one()
    assert job.attempts == 2 and job.done_count == len(made)
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "sheet.print")).all()
    assert len(events) == len(made) and {event.user_id for event in events} == {therapist.id}
    assert sheet_text(therapist_client.get(progress["pdf_url"]).data).count("Page 1 of") == len(made)


def test_a_batch_whose_worker_died_too_often_fails_visibly(queued, therapist_client, clinic, therapist, make_patient,
                                                          db, start_worker):
    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    db.commit()
    _seen_today(db, clinic, [("Ana", "Alvarez"), ("Ben", "Brooks")], make_patient, therapist)
    job_url = start_today(therapist_client)  # no worker yet: the batch waits in the queue
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs: the worker that was printing this batch died
    job = db.exec(select(PrintJob)).one()
    job.status, job.attempts, job.worker = "running", 3, f"{socket.gethostname()}:{gone.pid}"
    job.heartbeat_at = utcnow()
    db.add(job)
    db.commit()
    start_worker()
    progress = wait_for(lambda: (p := therapist_client.get(f"{job_url}/progress").get_json())["finished"] and p,
                        "the sweep to fail the batch")
    assert progress["status"] == "failed" and progress["pdf_url"] is None
    assert progress["words"].startswith("Printing stopped 3 times during this batch: 0 of 2 sheets were printed")
    assert "Printing stopped 3 times" in therapist_client.get(job_url).get_data(as_text=True)
    assert count_rows(db, HandoutPrint) == 0


def test_a_batch_is_its_starters_alone(queued, therapist_client, app, clinic, make_user, db):
    other = make_user("other@clinic.example", clinics=[clinic])
    job = PrintJob(clinic_id=clinic.id, user_id=other.id, kind="today", total=1, link_base="http://localhost/")
    db.add(job)
    db.commit()
    for url in (f"/print-jobs/{job.id}", f"/print-jobs/{job.id}/progress", f"/print-jobs/{job.id}.pdf"):
        assert therapist_client.get(url).status_code == 404
    assert "No batch printed yet" in therapist_client.get("/print-jobs/").get_data(as_text=True)
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "print_job.not_found")).all()
    assert len(denied) == 3
    assert {event.object_id for event in denied} == {job.id}


def test_a_batch_handed_back_whose_message_was_lost_is_sent_again_once(app, db, clinic, therapist):
    """A batch that stepped aside for a single sheet is QUEUED with no worker; if the worker died before its
    message reached the queue, the sweep sends it again (once per stale period), and leaves alone a batch
    handed back a moment ago and one never started."""
    from datetime import timedelta

    from rehab.printing import worker

    now = utcnow()
    lost = PrintJob(clinic_id=clinic.id, user_id=therapist.id, kind="today", link_base="http://rehab.test",
                    heartbeat_at=now - timedelta(minutes=5))
    recent = PrintJob(clinic_id=clinic.id, user_id=therapist.id, kind="today", link_base="http://rehab.test",
                      heartbeat_at=now - timedelta(seconds=2))
    never_started = PrintJob(clinic_id=clinic.id, user_id=therapist.id, kind="today", link_base="http://rehab.test")
    db.add_all([lost, recent, never_started])
    db.commit()
    sent: list[int] = []
    with app.app_context():
        assert worker.recover_stalled(requeue=sent.append, now=now) == [lost.id]
        assert worker.recover_stalled(requeue=sent.append, now=now + timedelta(seconds=1)) == []
    assert sent == [lost.id]


def test_print_todays_sheets_prints_everyone_seen_today_in_the_dashboards_scope_not_only_those_shown(
        queued, therapist_client, clinic, make_patient, make_user, db):
    """The dashboard shows the latest 25 of today's visits; its "Print today's home sheets" prints all of them,
    of "My patients" from that view and of the whole clinic from the other."""
    from tests.test_dashboard import seen_today

    clinic.phone = "(555) 010-2030"
    db.add(clinic)
    db.commit()
    seen_today(db, clinic, make_patient, 27)
    colleague = make_user(clinics=[clinic], name="Sam Colleague")
    theirs = make_patient(clinic, first_name="Theo", last_name="Theirs", therapist_id=colleague.id)
    factories.visit(db, theirs, factories.protocol(db, theirs))
    for scope, sheets in (("", 27), ("?scope=clinic", 28)):
        dashboard = therapist_client.get(f"/dashboard{scope}").get_data(as_text=True)
        assert "The latest 25 of" in dashboard
        form = dashboard.split('action="/dashboard/sheets"')[1].split("</form>")[0]
        sent_scope = form.split('name="scope" value="')[1].split('"')[0]
        response = submit(therapist_client, "/dashboard/sheets", {"scope": sent_scope}, form_page=f"/dashboard{scope}")
        assert response.status_code == 303
        page = therapist_client.get(response.headers["Location"]).get_data(as_text=True)
        assert f"0 of {sheets} done" in page, scope
