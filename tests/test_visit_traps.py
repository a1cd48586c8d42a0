"""The small traps of recording a visit: a date before the protocol started, text longer than its limit."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from rehab.dates import moment_text
from rehab.models import Visit
from tests import factories
from tests.conftest import count_rows, submit
from tests.test_visits import record

pytestmark = pytest.mark.db


def test_a_visit_dated_before_the_protocol_started_is_refused_beside_the_date(therapist_client, db, patient,
                                                                              protocol):
    started = protocol.created_at
    before = (started - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")  # the test clinic's zone is UTC
    response = record(therapist_client, patient, occurred_at=before)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert f"dated before the protocol started ({moment_text(started)})" in page
    assert 'id="occurred_at-error"' in page and "Nothing was saved" in page
    assert f'min="{started:%Y-%m-%dT%H:%M}"' in page  # the date picker starts there too
    assert count_rows(db, Visit) == 0


def test_a_visit_in_the_minute_the_protocol_was_saved_counts(therapist_client, db, patient, therapist):
    protocol = factories.protocol(db, patient, days_ago=0.001, user_id=therapist.id)  # saved a minute ago
    response = record(therapist_client, patient, occurred_at=protocol.created_at.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 302 and count_rows(db, Visit) == 1


def test_a_visit_corrected_to_before_the_protocol_is_refused_and_keeps_its_date(therapist_client, db, patient,
                                                                                protocol):
    visit = factories.visit(db, patient, protocol)
    url = f"/patients/{patient.id}/visits/{visit.id}/edit"
    before = (protocol.created_at - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    fields = {"occurred_at": before, "pain_before": "1", "pain_worst": "2", "pain_after": "1", "soreness": "none",
              "effusion": "0", "exercise": "treadmill_rails", "minutes": "5", "incline_pct": "0",
              "support": "both_rails", "stumbles": "0", "falls": "0", "version": str(visit.version)}
    response = submit(therapist_client, url, fields)
    assert response.status_code == 422 and "dated before the protocol started" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Visit, visit.id).occurred_at == visit.occurred_at


def test_a_pasted_note_over_the_limit_is_refused_whole_with_its_length_and_nothing_saved(therapist_client, db,
                                                                                          patient, protocol):
    note = ("Walked the ramp backward with light touch on the rail, then the corridor. " * 50)[:3500]
    response = record(therapist_client, patient, note=note)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This text is 3,500 characters; the limit is 2,000. Shorten it by 1,500 characters." in page
    assert 'id="note-error"' in page
    assert html.escape(note, quote=False) in page  # all of it is given back, not the first 2,000 characters
    assert 'maxlength="2000"' not in page  # a maxlength attribute would cut a paste without a word
    assert count_rows(db, Visit) == 0


def test_a_reason_over_its_limit_is_refused_with_its_length_never_cut(therapist_client, db, patient, protocol):
    visit = factories.visit(db, patient, protocol)
    response = submit(therapist_client, f"/patients/{patient.id}/visits/{visit.id}/delete", {"reason": "w" * 340},
                      form_page=f"/patients/{patient.id}/visits/{visit.id}/edit", follow_redirects=True)
    assert "This text is 340 characters; the limit is 300. Shorten it by 40 characters." in response.get_data(
        as_text=True)
    db.expire_all()
    assert db.get(Visit, visit.id).deleted_at is None  # not deleted with the first 300 characters as its reason


def test_every_free_text_field_is_free_of_maxlength(therapist_client, db, patient, protocol):
    """A maxlength attribute cuts a pasted text without a word: free text carries data-limit instead."""
    visit = factories.visit(db, patient, protocol)
    for url in (f"/patients/{patient.id}/visits/new", f"/patients/{patient.id}/visits/{visit.id}/edit",
                "/patients/new", f"/patients/{patient.id}/edit", f"/patients/{patient.id}/assessments/new",
                f"/patients/{patient.id}/protocols/{protocol.id}", f"/patients/{patient.id}"):
        page = therapist_client.get(url, follow_redirects=True).get_data(as_text=True)
        assert "maxlength=" not in page, url
        assert "data-limit=" in page or url == f"/patients/{patient.id}", url  # the page's forms may have none


def test_a_home_note_over_the_limit_comes_back_whole_with_its_counter(patient_client, db):
    from tests.test_portal import log_form

    note = "Walked by the lake, knee fine. " * 40  # 1,240 characters: over the 1,000
    response = submit(patient_client, "/p/log", log_form(note=note))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Your note is too long" in page
    assert note.strip() in html.unescape(page) and "maxlength" not in page
    assert 'data-limit="1000"' in page and "Up to 1000 characters." in page
