"""The dashboard's long lists show their most urgent rows with the true count and the way to all of them: from
Thursday a clinic may have a thousand patients under half this week, and none of them may go missing."""

from __future__ import annotations

import re

import pytest

from rehab.models import Alert, utcnow
from rehab.services.dashboard import UNDER_HALF_SHOWN
from tests import factories
from tests.test_adherence_pages import local, on_plan, read_on_friday, text_of

pytestmark = pytest.mark.db
__all__ = ["read_on_friday"]  # the autouse fixture: the pages are read on a Friday


def link_named(html: str, name: str) -> str:
    """The address of the link whose words are ``name``."""
    for href, words in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, flags=re.S):
        if " ".join(re.sub(r"<[^>]+>", " ", words).split()) == name:
            return href.replace("&amp;", "&")
    raise AssertionError(f"no link {name!r}")


def listed_names(section: str) -> list[str]:
    return re.findall(r"Behind\d+, Ana", section)


def test_the_card_shows_the_furthest_behind_with_the_true_count_and_a_link_to_all(therapist_client, db, clinic,
                                                                                   make_patient):
    behind = [make_patient(clinic, first_name="Ana", last_name=f"Behind{index:02}") for index in range(30)]
    for patient in behind:
        on_plan(db, patient)  # three clinic sessions a week, none done: 0 of about 2 due by Thursday
    on_track = make_patient(clinic, first_name="Tomás", last_name="Able")
    factories.visit(db, on_track, on_plan(db, on_track), at=local("UTC", 0, 10))
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    card = text_of(html, 'id="under-half-title"', "</section>")
    assert card.startswith("Under half this week 30")
    # All of them none of about 2 done: by name, the first 25.
    assert listed_names(card) == [f"Behind{index:02}, Ana" for index in range(UNDER_HALF_SHOWN)]
    assert "Able" not in card
    every = therapist_client.get(link_named(html, "See all 30 patients under half this week"))
    assert every.status_code == 200
    page = every.get_data(as_text=True)
    assert text_of(page, 'id="under-half-title"', "</section>").startswith("30 patients under half this week")
    assert listed_names(page) == [f"Behind{index:02}, Ana" for index in range(30)]
    assert "Able" not in page


def test_a_short_list_is_whole_with_no_link(therapist_client, db, clinic, make_patient):
    for index in range(3):
        on_plan(db, make_patient(clinic, first_name="Ana", last_name=f"Behind{index:02}"))
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    card = text_of(html, 'id="under-half-title"', "</section>")
    assert card.startswith("Under half this week 3") and len(listed_names(card)) == 3
    assert "See all" not in card


def test_the_full_list_pages_and_keeps_the_scope(therapist_client, db, clinic, make_patient, monkeypatch):
    monkeypatch.setattr("rehab.views.dashboard.UNDER_HALF_PER_PAGE", 20)
    for index in range(30):
        on_plan(db, make_patient(clinic, first_name="Ana", last_name=f"Behind{index:02}"))
    html = therapist_client.get("/dashboard?scope=clinic").get_data(as_text=True)
    first = therapist_client.get(link_named(html, "See all 30 patients under half this week"))
    assert "scope=clinic" in first.request.url
    page = first.get_data(as_text=True)
    assert listed_names(page) == [f"Behind{index:02}, Ana" for index in range(20)] and "Page 1 of 2" in page
    second = therapist_client.get(link_named(page, "Next page of patients under half this week")).get_data(as_text=True)
    assert listed_names(second) == [f"Behind{index:02}, Ana" for index in range(20, 30)]
    back = therapist_client.get(link_named(second, "Previous page of patients under half this week"))
    assert listed_names(back.get_data(as_text=True)) == listed_names(page) and "scope=clinic" in back.request.url
    assert "Every patient of" in second
    assert link_named(second, "Back to the dashboard").endswith("/dashboard?scope=clinic")


def quiet_names(section: str) -> list[str]:
    return re.findall(r"Quiet\d+, Ana", section)


def test_quiet_shows_the_longest_quiet_with_the_true_count_and_a_link_to_all(therapist_client, db, clinic,
                                                                              make_patient, monkeypatch):
    quiet = [make_patient(clinic, first_name="Ana", last_name=f"Quiet{index:02}") for index in range(32)]
    for index, patient in enumerate(quiet):
        factories.protocol(db, patient, days_ago=60 - index)  # no session since: Quiet00 quiet longest
    now = utcnow()
    for patient in quiet[:2]:  # the team noted the two longest quiet: off the list, not counted
        db.add(Alert(clinic_id=clinic.id, patient_id=patient.id, kind="inactive", message="No visit or home log "
                     "for 14 days.", created_at=now, acknowledged_at=now))
    db.commit()
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    card = text_of(html, 'id="alerts-title"', "</section>")
    assert card.startswith("Needs attention 30")
    assert quiet_names(card) == [f"Quiet{index:02}, Ana" for index in range(2, 27)]
    monkeypatch.setattr("rehab.views.dashboard.QUIET_PER_PAGE", 20)
    first = therapist_client.get(link_named(html, "See all 30 patients quiet 14+ days")).get_data(as_text=True)
    assert text_of(first, 'id="quiet-title"', "</section>").startswith("30 patients quiet 14+ days")
    assert quiet_names(first) == [f"Quiet{index:02}, Ana" for index in range(2, 22)] and "Page 1 of 2" in first
    second = therapist_client.get(link_named(first, "Next page of patients quiet 14+ days")).get_data(as_text=True)
    assert quiet_names(second) == [f"Quiet{index:02}, Ana" for index in range(22, 32)]
    assert 'name="back" value="dashboard"' in second  # its Acknowledge leads back to the dashboard


def test_past_the_first_hundred_open_alerts_the_card_counts_them_all_and_links_to_the_rest(
        therapist_client, db, clinic, make_patient):
    now = utcnow()
    patients = [make_patient(clinic, first_name="Ana", last_name=f"Sore{index:03}") for index in range(105)]
    for patient in patients:
        factories.protocol(db, patient, days_ago=3)  # started lately: not quiet
        db.add(Alert(clinic_id=clinic.id, patient_id=patient.id, kind="pain_high", message="Pain 7/10.",
                     created_at=now))
    db.commit()
    html = therapist_client.get("/dashboard").get_data(as_text=True)
    card = text_of(html, 'id="alerts-title"', "</section>")
    assert card.startswith("Needs attention 105")
    assert len(re.findall(r"Sore\d+, Ana", card)) == 100
    rest = therapist_client.get(link_named(html, "See all 105 open alerts: the patient list, most urgent first"))
    assert rest.status_code == 200 and "Sore000" in rest.get_data(as_text=True)
