"""Requests no view should ever see: huge or cut bodies, control characters, ids past any column, cross-site
posts. Each used to crash a worker, hold every clinic's writes, or save something nobody typed."""

from __future__ import annotations

import io
import time
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from rehab.models import Patient, Protocol
from rehab.views import protocols as protocol_views
from tests.conftest import count_rows, form_fields, submit, write_lock_is_free
from tests.test_patients import VALID
from tests.test_protocols import builder_form, screened

pytestmark = pytest.mark.db
# A body sent in chunks as gunicorn passes it on: no length, and the server marks the stream as framed.
CHUNKED = {"wsgi.input_terminated": True, "CONTENT_LENGTH": None}


def _token(client, path: str = "/patients/new") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The page's CSRF token and its form's one-time id (following the redirect that gives the form its id)."""
    return form_fields(client.get(path, follow_redirects=True).get_data(as_text=True))


# ------------------------------------------------------------------------------- the builder's 2 MB form


def test_a_2_mb_builder_form_of_100000_phase_names_is_refused_within_a_second(therapist_client, clinic,
                                                                               make_patient, db):
    patient = make_patient(clinic)
    url = f"/patients/{patient.id}/protocols/new/build"
    token = _token(therapist_client, f"{url}?source=builtin:knee_oa")
    body = f"{urlencode(token)}&action=save&" + "&".join(f"phases-{i}-name=x" for i in range(100_000))
    assert 1_900_000 < len(body) <= 2 * 1024 * 1024
    started = time.perf_counter()
    response = therapist_client.post(url, data=body, content_type="application/x-www-form-urlencoded")
    elapsed = time.perf_counter() - started
    assert response.status_code == 413 and "too much to send at once" in response.get_data(as_text=True)
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert count_rows(db, Protocol) == 0


def test_a_builder_form_with_more_phases_than_a_protocol_holds_is_refused(therapist_client, clinic, make_patient,
                                                                          db):
    patient = make_patient(clinic)
    url = f"/patients/{patient.id}/protocols/new/build"
    form = builder_form(**{f"phases-{i}-name": f"Phase {i}" for i in range(3, 13)})  # 13 phases
    response = submit(therapist_client, url, form, form_page=f"{url}?source=builtin:knee_oa")
    assert response.status_code == 413 and count_rows(db, Protocol) == 0


def test_a_5000_digit_builder_index_or_action_is_not_a_crash(therapist_client, clinic, make_patient):
    patient = make_patient(clinic)
    url = f"/patients/{patient.id}/protocols/new/build"
    digits = "9" * 5000
    form = builder_form(**{f"phases-{digits}-name": "x", "action": f"remove_phase-{digits}"})
    response = submit(therapist_client, url, form, form_page=f"{url}?source=builtin:knee_oa")
    assert response.status_code == 200 and "Learn" in response.get_data(as_text=True)  # the draft, unchanged


def test_the_builder_reads_and_checks_the_form_without_holding_the_write_lock(app, therapist_client, clinic,
                                                                              make_patient, db, monkeypatch):
    """Validating and safety-checking a protocol is CPU work: on SQLite no other write may wait for it."""
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    patient = screened(db, make_patient(clinic))  # screened: the template walks at home in phase 3
    real_check = protocol_views.check_protocol
    lock_free: list[bool] = []

    def check_while_probing_the_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        lock_free.append(write_lock_is_free(app.config["DATABASE_URL"]))
        return real_check(*args, **kwargs)

    monkeypatch.setattr(protocol_views, "check_protocol", check_while_probing_the_lock)
    url = f"/patients/{patient.id}/protocols/new/build"
    response = submit(therapist_client, url, builder_form(), form_page=f"{url}?source=builtin:knee_oa")
    assert response.status_code == 302 and lock_free == [True]
    assert count_rows(db, Protocol) == 1


# --------------------------------------------------------------------------------------- bodies and fields


def test_a_form_with_more_fields_than_allowed_is_refused_before_parsing(therapist_client, db):
    token = _token(therapist_client)
    body = urlencode({**VALID, **token}) + "&" + "&".join(f"x{i}=" for i in range(2000))
    response = therapist_client.post("/patients/new", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and count_rows(db, Patient) == 0


def test_a_chunked_body_over_the_limit_gets_413_and_nothing_is_saved(app, therapist_client, db):
    """Werkzeug cuts a chunked body at MAX_CONTENT_LENGTH and parses what it read: the form looked whole."""
    token = _token(therapist_client)
    body = (urlencode({**VALID, **token}) + "&padding=" + "x" * app.config["MAX_CONTENT_LENGTH"]).encode()
    response = therapist_client.post(
        "/patients/new", input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides=CHUNKED)
    assert response.status_code == 413 and count_rows(db, Patient) == 0


def test_a_chunked_body_within_the_limit_is_saved_whole(therapist_client, db):
    token = _token(therapist_client)
    body = urlencode({**VALID, **token, "notes": "Knee pain on stairs."}).encode()
    response = therapist_client.post(
        "/patients/new", input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides=CHUNKED)
    assert response.status_code == 302
    assert db.exec(select(Patient.notes)).one() == "Knee pain on stairs."


@pytest.mark.parametrize("value", ["Dor\x00othy", "Dorothy\x1b[2J", "Do\x7frothy"])
def test_control_characters_in_a_field_are_refused_and_nothing_is_saved(therapist_client, db, value):
    response = submit(therapist_client, "/patients/new", {**VALID, "first_name": value})
    assert response.status_code == 400 and count_rows(db, Patient) == 0


def test_a_nul_byte_at_sign_in_is_refused_not_a_crash(client, therapist):
    response = submit(client, "/login", {"email": therapist.email + "\x00", "password": "x\x00"})
    assert response.status_code == 400 and "not right" in response.get_data(as_text=True)


def test_notes_keep_their_line_breaks_and_tabs(therapist_client, db):
    response = submit(therapist_client, "/patients/new", {**VALID, "notes": "Line one\r\n\tLine two"})
    assert response.status_code == 302


# --------------------------------------------------------------------------------------------- ids and pages


@pytest.mark.parametrize("path", ["/patients/99999999999999999999999999999", "/patients/2147483648",
                                  "/patients/1/visits/99999999999999999999/edit"])
def test_ids_past_any_database_column_are_not_found(therapist_client, path):
    assert therapist_client.get(path).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999999", "9" * 5000, "-5", "x"])
def test_any_page_number_gets_a_page(therapist_client, page):
    assert therapist_client.get(f"/patients/?page={page}").status_code == 200


@pytest.mark.parametrize("page", ["99999999999999999999999", "9" * 5000])
def test_any_audit_page_number_gets_a_page(admin_client, page):
    response = admin_client.get(f"/admin/audit?page={page}&user_id={page}&patient_id={page}")
    assert response.status_code == 200


def test_an_oversized_clinic_id_is_not_a_crash(therapist_client):
    response = submit(therapist_client, "/clinic", {"clinic_id": "9" * 40}, form_page="/patients/")
    assert response.status_code == 404


@pytest.mark.parametrize("target", ["/patients/\r\nSet-Cookie: x=1", "/patients/%0d%0aX: y", "/p/home\nX: y"])
def test_line_breaks_in_next_or_back_never_reach_a_header(client, therapist, target):
    response = submit(client, f"/login?{urlencode({'next': target})}",
                      {"email": therapist.email, "password": "correct horse battery"})
    assert response.status_code == 302 and "\n" not in response.headers["Location"]


# -------------------------------------------------------------------------------------------------- origin


def test_a_post_the_browser_marks_as_cross_site_is_refused(therapist_client, db):
    token = _token(therapist_client)
    response = therapist_client.post("/patients/new", data={**VALID, **token},
                                     headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and count_rows(db, Patient) == 0
    response = therapist_client.post("/patients/new", data={**VALID, **token},
                                     headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 302 and count_rows(db, Patient) == 1


# ------------------------------------------------------------------------------------ what PostgreSQL refuses


def test_a_name_that_folds_long_is_saved_and_found(therapist_client, db):
    """U+FDFA folds into 18 letters: the search key stays within its column (PostgreSQL refused it: a 500)."""
    response = submit(therapist_client, "/patients/new", {**VALID, "first_name": "\ufdfa" * 100})
    assert response.status_code == 302
    key = db.exec(select(Patient.search_key)).one()
    assert len(key) <= 260 and key.startswith("whitfield")
    assert "Whitfield" in therapist_client.get("/patients/?q=whitfield").get_data(as_text=True)


def test_two_saves_racing_for_one_chart_number_get_the_field_message(therapist_client, clinic, make_patient, db,
                                                                     monkeypatch, caplog):
    """Both passed the "is it taken" check; the database's unique constraint refuses the second."""
    from rehab.services import patients as patient_service

    make_patient(clinic, chart_number="RV-77")
    monkeypatch.setattr(patient_service, "chart_number_taken", lambda *args, **kwargs: False)
    response = submit(therapist_client, "/patients/new", VALID)
    assert response.status_code == 422
    assert "Another patient in this clinic already has this chart number." in response.get_data(as_text=True)
    assert count_rows(db, Patient) == 1
    assert "RV-77" not in caplog.text


def test_a_database_error_is_logged_without_the_values_it_quotes(app, client, caplog, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from rehab import security

    class UniqueViolation(Exception):
        sqlstate = "23505"

    @app.get("/test-db-error")
    def raise_db_error():  # type: ignore[no-untyped-def]
        raise IntegrityError("INSERT INTO patient ...", {}, UniqueViolation(
            'duplicate key value violates unique constraint "uq_patient_clinic_chart"\n'
            "DETAIL:  Key (clinic_id, chart_number)=(1, RV-77) already exists."))

    monkeypatch.setattr(security, "PUBLIC_ENDPOINTS", security.PUBLIC_ENDPOINTS | {"raise_db_error"})
    response = client.get("/test-db-error")
    assert response.status_code == 500
    assert "UniqueViolation (SQLSTATE 23505)" in caplog.text and "raise_db_error" in caplog.text  # where
    assert "RV-77" not in caplog.text and "DETAIL" not in caplog.text
