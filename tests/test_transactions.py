"""One commit per request (rehab/db.py): what a request saves when its view returns, raises or refuses.

Routes added here for the test stand in for a view: each adds a row, then answers one way or another.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from flask import abort, redirect
from sqlalchemy import event
from sqlmodel import select

from rehab import db as database
from rehab import security
from rehab.models import AuditEvent, Clinic, FormSubmission, LoginAttempt, Patient, Visit
from rehab.services import patients as patient_service
from rehab.views import refuse
from tests.conftest import PASSWORD, count_rows, form_fields, sign_in, submit, write_lock_is_free
from tests.test_patients import VALID
from tests.test_visits import visit_form

pytestmark = pytest.mark.db

REHAB = Path(__file__).resolve().parents[1] / "rehab"


def _clinics(db) -> list[str]:  # type: ignore[no-untyped-def]
    rows = [clinic.name for clinic in db.exec(select(Clinic).order_by(Clinic.id))]
    db.rollback()
    return rows


@pytest.fixture
def routes(app, monkeypatch):  # type: ignore[no-untyped-def]
    """Test-only views on the app, each adding a clinic named after the route before it answers."""

    def add(name: str) -> None:
        database.get_session().add(Clinic(name=name, phone="555-0100"))
        database.get_session().flush()

    def returns_a_page():  # type: ignore[no-untyped-def]
        add("returned")
        return "An error page, returned", 401

    def raises():  # type: ignore[no-untyped-def]
        add("raised")
        raise RuntimeError("a bug after the write")

    def aborts():  # type: ignore[no-untyped-def]
        add("aborted")
        abort(409)

    def refuses():  # type: ignore[no-untyped-def]
        add("refused")
        refuse(redirect("/"))

    def commits():  # type: ignore[no-untyped-def]
        add("committed by the view")
        database.get_session().commit()
        return "saved"

    def keeps_a_denial():  # type: ignore[no-untyped-def]
        add("rolled back")

        def _write() -> None:
            with database.side_transaction() as writer:
                writer.add(Clinic(name="kept after the rollback", phone="555-0100"))

        database.after_close(_write)
        abort(403)

    views = (returns_a_page, raises, aborts, refuses, commits, keeps_a_denial)
    for view in views:
        app.add_url_rule(f"/test/{view.__name__}", view.__name__, view, methods=["POST"])
    monkeypatch.setattr(security, "PUBLIC_ENDPOINTS", security.PUBLIC_ENDPOINTS | {view.__name__ for view in views})
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def test_a_view_that_returns_is_committed_even_with_an_error_status(routes, db):
    assert routes.post("/test/returns_a_page").status_code == 401
    assert _clinics(db) == ["returned"]


@pytest.mark.parametrize(("route", "status"), [("raises", 500), ("aborts", 409), ("refuses", 302)])
def test_a_view_that_raises_saves_nothing(routes, db, route, status):
    assert routes.post(f"/test/{route}").status_code == status
    assert _clinics(db) == []


def test_a_view_cannot_commit_the_request_itself(routes, db):
    response = routes.post("/test/commits")
    assert response.status_code == 500  # EndedByDispatch: and so nothing of it was saved
    assert _clinics(db) == []


def test_work_after_close_is_kept_when_the_request_rolls_back(routes, db):
    assert routes.post("/test/keeps_a_denial").status_code == 403
    assert _clinics(db) == ["kept after the rollback"]


def test_no_view_or_service_ends_a_transaction_itself():
    """Only rehab/db.py commits a request; services add and flush (the CLI ends its own side transactions)."""
    offenders = []
    for path in sorted((REHAB / "views").rglob("*.py")) + sorted((REHAB / "services").rglob("*.py")) + \
            [REHAB / "once.py", REHAB / "security.py", REHAB / "errors.py"]:
        module = ".".join(path.relative_to(REHAB.parent).with_suffix("").parts).removesuffix(".__init__")
        for function in ast.parse(path.read_text()).body:
            name = f"{module}.{getattr(function, 'name', '')}"
            offenders += [f"{name}:{node.lineno}" for node in ast.walk(function)
                          if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                          and node.func.attr in ("commit", "rollback") and not node.args]
    assert offenders == []


def test_a_failed_sign_in_is_answered_with_an_error_and_still_counted(client, db, therapist):
    response = submit(client, "/login", {"email": therapist.email, "password": "not the password at all"})
    assert response.status_code == 401 and "The email or password is not right." in response.get_data(as_text=True)
    assert count_rows(db, LoginAttempt) == 1
    assert "login.failed" in [event.action for event in db.exec(select(AuditEvent))]
    db.rollback()
    assert sign_in(client, therapist.email, PASSWORD).status_code == 302


def test_a_refused_form_keeps_nothing_and_can_be_sent_again(therapist_client, db):
    """A patient form with an error: nothing saved, its one-time id neither, so the corrected form saves."""
    page = therapist_client.get("/patients/new", follow_redirects=True).get_data(as_text=True)
    fields = {**form_fields(page), **VALID}
    response = therapist_client.post("/patients/new", data={**fields, "first_name": ""})
    assert response.status_code == 422
    assert count_rows(db, Patient) == 0 and count_rows(db, FormSubmission) == 0
    assert therapist_client.post("/patients/new", data=fields).status_code == 302
    assert count_rows(db, Patient) == 1


def test_a_chart_number_taken_at_the_last_moment_is_a_message_not_an_error(therapist_client, db, clinic,
                                                                           make_patient, monkeypatch):
    """Two saves that both passed the chart-number check: the second's insert clashes in its SAVEPOINT, and it
    is answered with the form and its message (on PostgreSQL too, where the clash aborts the transaction)."""
    make_patient(clinic, chart_number=VALID["chart_number"])
    monkeypatch.setattr(patient_service, "chart_number_taken", lambda *args, **kwargs: False)
    page = therapist_client.get("/patients/new", follow_redirects=True).get_data(as_text=True)
    response = therapist_client.post("/patients/new", data={**form_fields(page), **VALID})
    assert response.status_code == 422
    assert "Another patient in this clinic already has this chart number." in response.get_data(as_text=True)
    assert count_rows(db, Patient) == 1 and count_rows(db, FormSubmission) == 0


def test_a_visit_sent_twice_is_saved_once(therapist_client, db, patient, protocol):
    page = therapist_client.get(f"/patients/{patient.id}/visits/new", follow_redirects=True).get_data(as_text=True)
    fields = {**form_fields(page), **visit_form()}
    assert therapist_client.post(f"/patients/{patient.id}/visits/new", data=fields).status_code == 302
    again = therapist_client.post(f"/patients/{patient.id}/visits/new", data=fields)
    assert again.status_code == 200 and "Already saved" in again.get_data(as_text=True)
    assert count_rows(db, Visit) == 1


def test_visits_recorded_at_once_from_two_threads_are_all_saved(app, db, therapist, patient, protocol):
    """Two therapists' browsers recording visits at the same moment: on SQLite each waits its turn for the
    write lock (a read first, then the lock from the first write to the commit); nothing is lost or refused."""
    browsers = []
    for _ in range(2):
        browser = app.test_client()
        assert sign_in(browser, therapist.email).status_code == 302
        browsers.append(browser)
    pages = [[browser.get(f"/patients/{patient.id}/visits/new", follow_redirects=True).get_data(as_text=True)
              for _ in range(6)] for browser in browsers]
    statuses: list[int] = []
    start = threading.Barrier(2)

    def record(browser, forms) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        for number, page in enumerate(forms):
            data = {**form_fields(page), **visit_form(note=f"from {id(browser)} number {number}")}
            statuses.append(browser.post(f"/patients/{patient.id}/visits/new", data=data).status_code)

    threads = [threading.Thread(target=record, args=(browser, forms)) for browser, forms in zip(browsers, pages,
                                                                                                   strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [302] * 12
    assert count_rows(db, Visit) == 12
    assert len({visit.note for visit in db.exec(select(Visit))}) == 12


def test_a_side_transaction_holds_the_write_lock_from_its_start_and_commits_its_rows(app, db, database_url):
    """An audit row written after a request (``after_close``) takes SQLite's write lock at BEGIN, before it reads
    the chain's last hash: no other writer can slip in between, and it costs no extra round trips."""
    sqlite = database_url.startswith("sqlite")  # PostgreSQL has no database-wide lock to look at from outside
    statements: list[str] = []

    def _seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0])

    with app.app_context():
        event.listen(database.get_engine(), "before_cursor_execute", _seen)
        try:
            with database.side_transaction() as writer:
                assert not sqlite or not write_lock_is_free(database_url)
                writer.add(Clinic(name="written aside", phone="555-0100"))
        finally:
            event.remove(database.get_engine(), "before_cursor_execute", _seen)
        assert not sqlite or write_lock_is_free(database_url)
    # No lock-taking read first (the lock came with BEGIN): the row, then the clinics' data generation
    # (services/clinic_changes.py), last before the commit.
    assert statements == ["INSERT", "INSERT"]
    assert _clinics(db) == ["written aside"]
