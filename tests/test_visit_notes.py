"""Visit notes show where visits are listed: the patient page's latest visits and the visits page, a long note
by its opening words with the whole of it in a disclosure named after the visit's date; the report reads them
through ``services.visits.notes_of``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from rehab.models import utcnow
from rehab.services.visits import notes_of
from tests import factories

pytestmark = pytest.mark.db

LONG_NOTE = ("Patient walked the ramp twice without the rails. " * 12).strip() + " Ends with the plan for Friday."


def test_notes_show_on_the_patient_page_and_the_visits_page(therapist_client, db, patient, protocol):
    at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # the test clinic's zone is UTC
    factories.visit(db, patient, protocol, at=at, note="Knee felt stable, & no swelling.")
    factories.visit(db, patient, protocol, at=at + timedelta(days=2), note=LONG_NOTE)
    for url in (f"/patients/{patient.id}", f"/patients/{patient.id}/visits"):
        page = therapist_client.get(url).get_data(as_text=True)
        assert "Knee felt stable, &amp; no swelling." in page  # whole, escaped
        long_cell = re.search(r'<details class="long-note">(.*?)</details>', page, re.DOTALL)
        assert long_cell, f"{url}: the long note is not behind a disclosure"
        summary = re.search(r"<summary>(.*?)</summary>", long_cell.group(1), re.DOTALL).group(1)
        assert "Whole note of the visit on 22 Nov 2026, 09:30" in summary  # the label names the visit
        assert "Patient walked the ramp twice" in summary and "Friday" not in summary  # its opening only
        assert "Ends with the plan for Friday." in long_cell.group(1)  # and the whole note, one click away


def test_a_visit_without_a_note_says_so_without_words_for_the_eye(therapist_client, db, patient, protocol):
    factories.visit(db, patient, protocol, note="")
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert '<th scope="col">Note</th>' in page and 'aria-label="No note"' in page


def test_notes_of_lists_dated_notes_oldest_first_without_empty_or_deleted(db, patient, protocol):
    now = utcnow()
    first = factories.visit(db, patient, protocol, at=now - timedelta(days=3), note="Started on the treadmill.")
    factories.visit(db, patient, protocol, at=now - timedelta(days=2), note="")
    gone = factories.visit(db, patient, protocol, at=now - timedelta(days=1), note="Wrong patient.")
    gone.deleted_at = now
    db.add(gone)
    db.commit()
    last = factories.visit(db, patient, protocol, at=now, note="  Walked 8 minutes, no pain.  ")
    notes = notes_of(db, patient_id=patient.id)
    assert [(note.visit_id, note.note) for note in notes] == [(first.id, "Started on the treadmill."),
                                                             (last.id, "Walked 8 minutes, no pain.")]
    assert [note.visit_id for note in notes_of(db, patient_id=patient.id, since=now - timedelta(hours=1))] == [last.id]
