"""Which sheet a render worker makes first, and when a first download opens without the waiting page: a
therapist's single sheet goes ahead of a batch waiting in the queue, a running batch steps aside for it after its
current sheet, and with the workers idle the download opens the PDF itself once it is rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from rehab.models import AuditEvent, HandoutPrint, PrintJob
from rehab.printing import queue
from tests import factories
from tests.conftest import count_rows
from tests.test_print_jobs import (  # noqa: F401 (fixtures)
    PATIENCE_SECONDS,
    _seen_today,
    print_sheet,
    queued,
    sheet_text,
    start_today,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.db


@pytest.fixture
def dorothy(clinic, make_patient, db, therapist):  # type: ignore[no-untyped-def]
    clinic.address, clinic.phone = "210 River Road", "(555) 010-2030"
    db.add(clinic)
    db.commit()
    who = make_patient(clinic, first_name="Dorothy", last_name="Whitfield")
    factories.protocol(db, who, days_ago=3, user_id=therapist.id, home=True)
    return who


def sheets_in_making_order(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The text of every PDF in the sheet cache, oldest file first (the order the worker made them)."""
    files = sorted(Path(app.config["SHEET_CACHE_DIR"]).glob("*.pdf"), key=lambda path: path.stat().st_mtime_ns)
    return [sheet_text(path.read_bytes()) for path in files]


def finished(client, job_url: str):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (p := client.get(f"{job_url}/progress").get_json())["finished"] and p,
                    "the batch to finish")


def test_a_single_sheet_queued_behind_a_batch_is_rendered_first(queued, therapist_client, clinic, therapist,  # noqa: F811
                                                                 make_patient, db, dorothy, start_worker):  # noqa: F811
    _seen_today(db, clinic, [(f"Pat{index}", f"Walker{index}") for index in range(3)], make_patient, therapist)
    job_url = start_today(therapist_client)  # no worker yet: the batch waits in the queue, then the sheet
    pdf_url = print_sheet(therapist_client, dorothy)
    assert therapist_client.get(pdf_url).headers["Location"].endswith("/waiting")
    start_worker()
    finished(therapist_client, job_url)
    made = sheets_in_making_order(queued)
    assert "Dorothy Whitfield" in made[0] and "Walker" not in made[0]
    assert "Dorothy Whitfield" in sheet_text(therapist_client.get(pdf_url).data)


def test_a_running_batch_steps_aside_for_a_single_sheet_and_records_each_sheet_once(
        queued, therapist_client, clinic, therapist, make_patient, db, dorothy, start_worker):  # noqa: F811
    batch = _seen_today(db, clinic, [(f"Pat{index}", f"Walker{index}") for index in range(8)], make_patient,
                        therapist)
    start_worker()
    job_url = start_today(therapist_client)
    wait_for(lambda: therapist_client.get(f"{job_url}/progress").get_json()["done"] >= 1, "the batch's first sheet")
    pdf_url = print_sheet(therapist_client, dorothy)
    therapist_client.get(pdf_url)
    progress = finished(therapist_client, job_url)
    assert progress["words"] == "8 of 8 printed"
    made = [text for text in sheets_in_making_order(queued) if text.count("Page 1 of") == 1]
    single = next(index for index, text in enumerate(made) if "Dorothy Whitfield" in text)
    assert any("Walker" in text for text in made[single + 1:])  # the batch went on after the single sheet
    printed = [record.patient_id for record in db.exec(select(HandoutPrint)).all()]
    assert sorted(printed) == sorted([dorothy.id, *(who.id for who, _ in batch)])  # each sheet once
    db.expire_all()
    assert db.exec(select(PrintJob)).one().attempts == 1  # stepping aside is not a worker that died


def test_a_quick_render_opens_without_the_waiting_page(queued, therapist_client, dorothy, db,  # noqa: F811
                                                       start_worker):  # noqa: F811
    queued.config["RENDER_WAIT_SECONDS"] = PATIENCE_SECONDS  # however slow this machine renders
    start_worker()

    def alive() -> bool:
        with queued.app_context():
            return queue.worker_alive()

    wait_for(alive, "the render worker's first heartbeat")
    pdf_url = print_sheet(therapist_client, dorothy)
    sheet = therapist_client.get(pdf_url)
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
    assert "Dorothy Whitfield" in sheet_text(sheet.data)
    assert count_rows(db, HandoutPrint) == 1
    downloads = db.exec(select(AuditEvent).where(AuditEvent.action == "sheet.download")).all()
    assert len(downloads) == 1  # the download is recorded as when it came from the cache
