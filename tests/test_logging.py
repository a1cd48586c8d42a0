"""No patient data or tokens in the application's logs (SECURITY.md 20).

A realistic day runs through the app with canary values: a failed sign-in, a sign-in, a patient added and
corrected, a search by name, a visit with a note, a printed sheet, a server error inside a database
statement that carries the patient's name, another clinic's patient asked for, a sign-out. Every logger the
app or its libraries write to is captured at DEBUG (the app's, Werkzeug's and SQLAlchemy's at INFO, which is
what an operator turns on to investigate), and none of the canaries, the birth date, the session cookie, a
CSRF token or a password may appear in any record, its arguments or its traceback. (gunicorn's access and
error logs are searched the same way by tests/load/test_concurrency.py.)
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import text
from sqlmodel import select

from rehab.db import get_session
from rehab.models import Patient, Visit
from tests import factories
from tests.conftest import CSRF_RE, PASSWORD, RequestingClient, form_fields
from tests.test_visits import visit_form

pytestmark = pytest.mark.db

FIRST, LAST = "Zyxcanary", "Qwertovich"
BIRTH_DATE = date(1937, 6, 19)
PHONE, EMAIL = "555-0199-7731", "zyx.qwerto@canary.example"
PATIENT_NOTE, VISIT_NOTE = "Lives with Blorpington the cat", "Snorkeldash after the stairs"
STRANGER = ("Vexstranger", "Canarywitz")
WRONG_EMAIL, WRONG_PASSWORD = "zyxcanary.login@nowhere.example", "Plumbus canary passphrase"
CANARIES = [FIRST, LAST, PHONE, EMAIL, PATIENT_NOTE, VISIT_NOTE, *STRANGER, WRONG_EMAIL, WRONG_PASSWORD, PASSWORD,
            BIRTH_DATE.isoformat(), BIRTH_DATE.strftime("%d/%m/%Y"), repr(BIRTH_DATE), "1937, 6, 19"]
LOGGERS = ("rehab", "werkzeug", "sqlalchemy")


class Recorder:
    """A signed-in browser that keeps every session cookie and CSRF token it was given."""

    def __init__(self, app: Flask) -> None:
        app.test_client_class = RequestingClient  # the test's checks see what each request saved
        self.client = app.test_client()
        self.secrets: set[str] = set()

    def _keep(self, response):  # type: ignore[no-untyped-def]
        cookie = self.client.get_cookie("rehab_session")
        if cookie is not None:
            self.secrets.add(cookie.value)
        if response.mimetype == "text/html":
            self.secrets.update(CSRF_RE.findall(response.get_data(as_text=True)))
        return response

    def get(self, url: str, *, follow_redirects: bool = False):  # type: ignore[no-untyped-def]
        return self._keep(self.client.get(url, follow_redirects=follow_redirects))

    def submit(self, url: str, data: dict[str, str], *, form_page: str | None = None):  # type: ignore[no-untyped-def]
        page = self.get(form_page or url, follow_redirects=True)  # a form that creates a record gets its id
        return self._keep(self.client.post(url, data={**form_fields(page.get_data(as_text=True)), **data}))


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would write it (message and traceback), plus its raw arguments."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(f"{formatter.format(record)}\n{record.args!r}\n{record.msg!r}" for record in records)


def test_a_day_in_the_clinic_logs_no_patient_data_and_no_tokens(app, clinic, therapist, make_clinic, make_patient,
                                                               db, caplog, tmp_path):
    app.config["SHEET_CACHE_DIR"] = str(tmp_path / "sheets")

    @app.get("/_test/failing/<int:patient_id>")
    def failing(patient_id: int):  # type: ignore[no-untyped-def]
        """A bug: a statement that fails inside the database while carrying the patient's name."""
        patient = get_session().get(Patient, patient_id)
        get_session().execute(text("SELECT no_such_column FROM patient WHERE last_name = :name"),
                              {"name": patient.last_name})  # type: ignore[union-attr]

    stranger = make_patient(make_clinic("Elsewhere PT"), first_name=STRANGER[0], last_name=STRANGER[1],
                            date_of_birth=BIRTH_DATE)
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.INFO, logger=name)
    browser = Recorder(app)

    refused = browser.submit("/login", {"email": WRONG_EMAIL, "password": WRONG_PASSWORD})
    assert refused.status_code == 401
    assert browser.submit("/login", {"email": therapist.email, "password": PASSWORD}).status_code == 302
    added = browser.submit("/patients/new", {
        "first_name": FIRST, "last_name": LAST, "date_of_birth": BIRTH_DATE.isoformat(), "chart_number": "ZQ-1",
        "phone": PHONE, "email": EMAIL, "affected_knee": "left", "condition": "knee_oa", "language": "en",
        "notes": PATIENT_NOTE, "anticoagulants": "1"})
    assert added.status_code == 302
    patient = db.exec(select(Patient).where(Patient.last_name == LAST)).one()
    corrected = browser.submit(f"/patients/{patient.id}/edit", {
        "first_name": FIRST, "last_name": LAST, "date_of_birth": BIRTH_DATE.isoformat(), "chart_number": "ZQ-1",
        "phone": PHONE + "0", "email": EMAIL, "affected_knee": "both", "condition": "knee_oa", "language": "en",
        "notes": PATIENT_NOTE, "version": str(patient.version)})
    assert corrected.status_code == 302
    found = browser.get(f"/patients/?q={FIRST}+{LAST}")
    assert found.status_code == 200 and LAST in found.get_data(as_text=True)
    factories.protocol(db, patient, days_ago=21, user_id=therapist.id)
    occurred = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    recorded = browser.submit(f"/patients/{patient.id}/visits/new", visit_form(note=VISIT_NOTE, occurred_at=occurred))
    assert recorded.status_code == 302
    assert db.exec(select(Visit.note)).one() == VISIT_NOTE
    assert LAST in browser.get(f"/patients/{patient.id}").get_data(as_text=True)
    sheet = browser.submit(f"/patients/{patient.id}/sheet", {"paper": "letter", "language": "en", "include_next": "1"})
    assert sheet.status_code == 303  # printed, then fetched as a download
    sheet = browser.get(sheet.headers["Location"])
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
    broken = browser.get(f"/_test/failing/{patient.id}")
    assert broken.status_code == 500
    error_id = re.search(r"\b([0-9a-f]{8})\b", broken.get_data(as_text=True).split("error id", 1)[-1])
    assert browser.get(f"/patients/{stranger.id}").status_code == 404
    assert browser.submit("/logout", {}, form_page="/patients/").status_code == 302

    logged = everything_logged(caplog.records)
    # The capture works: the server error is in the log with its id and traceback, to be quoted by the user.
    assert error_id and f"unhandled error {error_id.group(1)}" in logged
    assert "no_such_column" in logged and "Traceback" in logged
    assert len(browser.secrets) >= 3, "the session cookie and CSRF tokens to look for"
    for secret in [*CANARIES, *browser.secrets]:
        assert secret not in logged, f"{secret!r} appears in the log"
    assert not re.search(r"[?&]q=", logged)


def test_a_line_break_or_nul_in_a_path_cannot_forge_an_access_log_line(monkeypatch):
    """gunicorn decodes %0a in a path into a real line break; the access log must keep one line a request."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from rehab.logredact import RedactingLogger

    monkeypatch.setenv("REHAB_PRODUCTION", "0")  # importing the gunicorn settings must not switch the tests to it
    from rehab import gunicorn_conf

    forged = '/patients/\n203.0.113.1 "GET /admin/audit" 200 512 3ms\x00'
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/patients/%0aforged", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": forged, "REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "x\ry"}
    atoms = RedactingLogger(Config()).atoms(SimpleNamespace(status="404 NOT FOUND", sent=10, headers=[]),
                                            SimpleNamespace(headers=[("USER-AGENT", "x\ry")]), environ,
                                            timedelta(milliseconds=3))
    line = gunicorn_conf.access_log_format % atoms
    assert "\n" not in line and "\x00" not in line and "\r" not in atoms["a"]
    assert '/patients/\\x0a203.0.113.1 "GET /admin/audit"' in line and line.endswith("ms")


def test_a_token_or_a_name_in_what_the_access_log_format_writes_is_redacted(monkeypatch):
    """Only the atoms the access-log format names are cleaned (gunicorn offers every header as one): a token or
    a query string in any of them, a header the format logs included, never reaches the line."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from rehab.logredact import RedactingLogger

    token, calendar_token = "tok" + "A1b2C3d4E5" * 4, "cal" + "Z9y8X7w6V5" * 4
    config = Config()
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s "%({X-Original-URI}i)s" "%({referer}i)s" %(q)s')
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/p/{token}?q=Qwertovich&t={token}",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": f"/p/{token}", "QUERY_STRING": f"q=Qwertovich&t={token}",
               "REMOTE_ADDR": "127.0.0.1"}
    headers = [("X-ORIGINAL-URI", f"/p/calendar/{calendar_token}.ics"), ("REFERER", f"https://mail.example/p/{token}")]
    atoms = RedactingLogger(config).atoms(SimpleNamespace(status="200 OK", sent=10, headers=[]),
                                          SimpleNamespace(headers=headers), environ, timedelta(milliseconds=3))
    from gunicorn.glogging import SafeAtoms

    line = config.access_log_format % SafeAtoms(atoms)
    assert token not in line and calendar_token not in line and "Qwertovich" not in line
    assert line == ('127.0.0.1 "GET /p/<token> HTTP/1.1" 200 "/p/calendar/<token>.ics" '
                    '"https://mail.example/p/<token>" ')
