"""A page read's audit row goes with the page (rehab/security.py ``record_read``): written in the request's one
commit, so a page that was served always has its row, even when the worker dies straight after sending it,
and a page that failed has none; two reads at once both get their row and the chain stays whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from rehab.models import AuditEvent
from rehab.services import audit
from rehab.views import patients as patient_views
from tests.conftest import POSTGRES_URL, SECRET, base_config, sign_in

pytestmark = pytest.mark.db

KEY = audit.chain_key(audit_key="", secret_key=SECRET)
ROOT = Path(__file__).resolve().parents[1]


def reads_of(db, patient_id: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    db.expire_all()
    try:
        return list(db.exec(select(AuditEvent).where(AuditEvent.action == "patient.view",
                                                     AuditEvent.patient_id == patient_id)))
    finally:
        db.rollback()


def chain_is_whole(db) -> bool:  # type: ignore[no-untyped-def]
    try:
        return audit.first_broken_event(db, key=KEY) is None
    finally:
        db.rollback()


def test_a_served_patient_page_has_its_audit_row(therapist_client, db, therapist, patient):
    page = therapist_client.get(f"/patients/{patient.id}")
    assert page.status_code == 200 and "Margaret Okafor" in page.get_data(as_text=True)
    (row,) = reads_of(db, patient.id)
    assert (row.user_id, row.object_type, row.object_id, row.outcome) == (therapist.id, "patient", patient.id, "ok")
    assert chain_is_whole(db)


def test_a_page_that_fails_after_its_view_read_the_patient_has_no_audit_row(therapist_client, db, patient,
                                                                            monkeypatch):
    """The view recorded the read, then rendering failed: the therapist sees an error page, not the patient,
    and the trail does not claim the patient was seen."""
    def broken_template(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a template that fails")

    monkeypatch.setattr(patient_views, "render_template", broken_template)
    page = therapist_client.get(f"/patients/{patient.id}")
    assert page.status_code == 500 and "Margaret Okafor" not in page.get_data(as_text=True)
    assert reads_of(db, patient.id) == []


def test_when_the_audit_row_cannot_be_written_the_page_is_not_served(therapist_client, db, patient, monkeypatch):
    """The row is part of the request's commit: if it fails, the page does not go out without it."""
    real = audit.record_event

    def failing(session, **fields):  # type: ignore[no-untyped-def]
        if fields["action"] == "patient.view":
            raise RuntimeError("the database refused the audit row")
        return real(session, **fields)

    monkeypatch.setattr(audit, "record_event", failing)
    page = therapist_client.get(f"/patients/{patient.id}")
    assert page.status_code == 500 and "Margaret Okafor" not in page.get_data(as_text=True)
    monkeypatch.setattr(audit, "record_event", real)
    assert reads_of(db, patient.id) == []


def test_a_denied_read_is_still_recorded_though_the_request_rolls_back(therapist_client, db, make_clinic,
                                                                       make_patient):
    other = make_patient(make_clinic("Elsewhere PT"))
    assert therapist_client.get(f"/patients/{other.id}").status_code == 404
    db.expire_all()
    denials = db.exec(select(AuditEvent).where(AuditEvent.action == "patient.not_found")).all()
    assert [(row.object_id, row.outcome) for row in denials] == [(other.id, "denied")]
    db.rollback()
    assert reads_of(db, other.id) == []


def test_two_reads_at_once_both_get_their_row_and_the_chain_stays_whole(app, db, therapist, patient):
    browsers = []
    for _ in range(2):
        browser = app.test_client()
        assert sign_in(browser, therapist.email).status_code == 302
        browsers.append(browser)
    start, statuses = threading.Barrier(2), []

    def read(browser) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        for _ in range(5):
            statuses.append(browser.get(f"/patients/{patient.id}").status_code)

    threads = [threading.Thread(target=read, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 10
    assert len(reads_of(db, patient.id)) == 10
    assert chain_is_whole(db)


# The worker: serves one patient page through the app's WSGI callable, writes the body where the test reads it
# (the "browser"), and dies at once with os._exit, before anything else can run (no teardown of its own, no
# atexit, no buffered writes flushed by the interpreter).
_SERVE_THEN_DIE = textwrap.dedent("""
    import json, os, sys
    from werkzeug.test import EnvironBuilder
    from rehab import create_app

    config, path, cookie, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    app = create_app(config)
    environ = EnvironBuilder(path=path, headers={"Cookie": cookie}).get_environ()
    status = []
    body = app(environ, lambda line, headers, *rest: status.append(line))
    with open(out, "wb") as browser:
        browser.write(status[0].encode() + b"\\n")
        for chunk in body:
            browser.write(chunk)
            browser.flush()
            os._exit(9)  # the worker is killed as soon as the first bytes of the page have gone out
""")


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the worker is started on the test's own SQLite file")
def test_a_worker_killed_right_after_serving_the_page_has_already_written_its_row(
        therapist_client, db, patient, database_url, tmp_path):
    cookie = f"rehab_session={therapist_client.get_cookie('rehab_session').value}"
    out = tmp_path / "browser.html"
    done = subprocess.run([sys.executable, "-c", _SERVE_THEN_DIE, json.dumps(base_config(database_url)),  # noqa: S603
                           f"/patients/{patient.id}", cookie, str(out)], cwd=ROOT, capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 9, done.stderr.decode()
    served = out.read_bytes()
    assert served.startswith(b"200") and b"Margaret Okafor" in served
    assert len(reads_of(db, patient.id)) == 1
    assert chain_is_whole(db)

