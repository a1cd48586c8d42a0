"""Screen before sending home: the baseline fall-risk screen on the patient page, the builder reading the newest
screen, reasons that stand until the facts change, and where a new protocol starts after surgery."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from rehab.dates import day_text
from rehab.models import Assessment, Protocol, ProtocolVersion, utcnow
from rehab.services.assessments import latest_screen
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from tests import factories
from tests.conftest import count_rows, submit
from tests.test_protocols import builder_form

pytestmark = pytest.mark.db


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")  # the test clinic's time zone is UTC


def record_screen(client, patient, **measures):  # type: ignore[no-untyped-def]
    form = {"occurred_at": local(datetime.now(UTC) - timedelta(minutes=5)), "backward_walk_3m_s": "",
            "tug_s": "", "gait_speed_ms": "", "note": "", **measures}
    return submit(client, f"/patients/{patient.id}/assessments/new", form)


def build(client, patient, key="knee_oa", **overrides):  # type: ignore[no-untyped-def]
    url = f"/patients/{patient.id}/protocols/new/build"
    return submit(client, url, builder_form(content_from_template(templates()[key]), **overrides),
                  form_page=f"{url}?source=builtin:{key}")


def warning_rules(html: str) -> list[tuple[str, str]]:
    return re.findall(r'name="override-(\d+)-rule" value="([^"]+)"', html)


def test_a_baseline_screen_is_recorded_on_the_patient_page_before_any_protocol(therapist_client, clinic,
                                                                               make_patient, db):
    patient = make_patient(clinic)
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Not screened." in page and "Record fall-risk screen" in page and "No active protocol" in page
    empty = record_screen(therapist_client, patient)
    assert empty.status_code == 422 and "Enter at least one measure" in empty.get_data(as_text=True)
    wrong = record_screen(therapist_client, patient, backward_walk_3m_s="0.2", tug_s="abc")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "Enter 1 to 120 seconds" in html and "Enter 1 to 300 seconds" in html
    tomorrow = local(datetime.now(UTC) + timedelta(days=2))
    future = record_screen(therapist_client, patient, tug_s="9", occurred_at=tomorrow)
    assert future.status_code == 422 and "cannot be in the future" in future.get_data(as_text=True)
    assert count_rows(db, Assessment) == 0  # nothing saved by a bad form
    assert record_screen(therapist_client, patient, backward_walk_3m_s="5,1", tug_s="10").status_code == 302
    page = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "High fall risk" in page and "3-metre backward walk 5.1 s (4.5 s or more)" in page
    assert db.exec(select(Assessment)).one().backward_walk_3m_s == 5.1  # a decimal comma is read


@pytest.mark.parametrize(("measures", "expected"), [
    ({}, "No fall-risk screen recorded"),
    ({"tug_s": "12"}, "High fall-risk screen (Timed Up and Go 12 s (12 s or more))"),
    ({"gait_speed_ms": "1.2"}, "No fall-risk screen recorded"),  # gait speed alone is not a screen
    ({"backward_walk_3m_s": "3", "tug_s": "9"}, None),
])
def test_the_builder_reads_the_baseline_screen(therapist_client, clinic, make_patient, measures, expected, db):
    patient = make_patient(clinic)
    if measures:
        record_screen(therapist_client, patient, **measures)
    response = build(therapist_client, patient)
    if expected is None:
        assert response.status_code == 302
        return
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and expected in html
    assert "Phase 3, backward walking with a partner" in html  # the walk at home, not the clinic treadmill
    assert count_rows(db, Protocol) == 0


def test_the_newest_value_of_each_measure_counts_baseline_or_visit(db, clinic, make_patient):
    patient = make_patient(clinic)
    protocol = factories.protocol(db, patient, days_ago=30)
    now = utcnow()
    db.add(Assessment(patient_id=patient.id, clinic_id=clinic.id, occurred_at=now - timedelta(days=20),
                      backward_walk_3m_s=5.0, tug_s=13.0))
    factories.visit(db, patient, protocol, at=now - timedelta(days=5), tug_s=9.0)  # re-tested the TUG only
    factories.visit(db, patient, protocol, at=now - timedelta(days=2), backward_walk_3m_s=2.9,
                    deleted_at=now)  # removed
    db.commit()
    screen = latest_screen(db, patient_id=patient.id)  # type: ignore[arg-type]
    assert (screen.backward_walk_3m_s.value, screen.backward_walk_3m_s.source) == (5.0, "baseline")  # type: ignore[union-attr]
    assert (screen.tug_s.value, screen.tug_s.source) == (9.0, "visit")  # type: ignore[union-attr]
    assert screen.gait_speed_ms is None


def test_a_screen_entered_by_mistake_is_removed_with_a_reason_and_kept(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic)
    record_screen(therapist_client, patient, backward_walk_3m_s="45")  # meant 4.5
    assessment = db.exec(select(Assessment)).one()
    url = f"/patients/{patient.id}/assessments/{assessment.id}/remove"
    submit(therapist_client, url, {"reason": ""}, form_page=f"/patients/{patient.id}")
    db.refresh(assessment)
    assert assessment.deleted_at is None
    submit(therapist_client, url, {"reason": "Typed 45 for 4.5"}, form_page=f"/patients/{patient.id}")
    db.refresh(assessment)
    assert assessment.deleted_at is not None and assessment.delete_reason == "Typed 45 for 4.5"
    assert "Not screened." in therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)


def test_a_reason_given_stands_for_later_versions_until_the_facts_change(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic, uses_walker=True)
    record_screen(therapist_client, patient, backward_walk_3m_s="3", tug_s="9")
    first = build(therapist_client, patient)
    rules = warning_rules(first.get_data(as_text=True))
    assert len(rules) == 3  # light touch in phases 2 and 3, the walk at home
    reasons = {f"override-{n}-reason": "Therapist at the side in the clinic; partner trained" for n, _ in rules}
    saved = build(therapist_client, patient, warnings_shown="1",
                  **{f"override-{n}-rule": value for n, value in rules}, **reasons)
    assert saved.status_code == 302
    protocol = db.exec(select(Protocol)).one()
    edit_url = f"/patients/{patient.id}/protocols/{protocol.id}/edit"
    # A dose change: the same warnings on the same facts. Saved at once, the reasons carried with their version.
    changed = submit(therapist_client, edit_url, builder_form(**{"phases-0-rx-0-minutes": "6", "seen_version": "1"}))
    assert changed.status_code == 302
    version = db.exec(select(ProtocolVersion).where(ProtocolVersion.number == 2)).one()
    carried = json.loads(version.safety_overrides)
    assert len(carried) == 3 and {item["given_in"] for item in carried} == {1}
    assert {item["reason"] for item in carried} == {"Therapist at the side in the clinic; partner trained"}
    # A new fact: a vestibular disorder. Only its warning asks for a reason; the others show as still valid.
    patient.vestibular_disorder = True
    db.add(patient)
    db.commit()
    asked = submit(therapist_client, edit_url, builder_form(**{"phases-0-rx-0-minutes": "7", "seen_version": "2"}))
    html = asked.get_data(as_text=True)
    assert asked.status_code == 422
    assert html.count("still valid (nothing it rests on has changed)") == 3
    assert html.count('<label for="override-') == 1 and "Vestibular disorder" in html
    # A new screen result: the standing walker reasons still stand (they do not rest on the screen).
    record_screen(therapist_client, patient, backward_walk_3m_s="3.2", tug_s="9")
    patient.vestibular_disorder = False
    db.add(patient)
    db.commit()
    again = submit(therapist_client, edit_url, builder_form(**{"phases-0-rx-0-minutes": "7", "seen_version": "2"}))
    assert again.status_code == 302


@pytest.mark.parametrize(("weeks_ago", "selected", "phase_name"), [
    (13, 2, "Endurance"), (4, 0, "Parallel bars"), (7, 1, "Treadmill")])
def test_a_new_protocol_starts_in_the_phase_the_weeks_since_surgery_allow(therapist_client, clinic, make_patient,
                                                                         db, weeks_ago, selected, phase_name):
    surgery = date.today() - timedelta(weeks=weeks_ago)
    patient = make_patient(clinic, condition="post_tka", surgery_date=surgery)
    page = therapist_client.get(f"/patients/{patient.id}/protocols/new/build?source=builtin:post_tka",
                                follow_redirects=True)
    html = page.get_data(as_text=True)
    assert f'<option value="{selected}" selected>Phase {selected + 1}: {phase_name}' in html
    assert f"Week {weeks_ago} after surgery on {day_text(surgery)}" in html
    saved = build(therapist_client, patient, "post_tka", start_phase=str(selected))
    assert saved.status_code == 302  # all work in the clinic: no warning
    protocol = db.exec(select(Protocol)).one()
    assert protocol.current_phase == selected
    summary = json.loads(db.exec(select(ProtocolVersion)).one().summary)
    assert summary[0] == "First version."
    assert summary[1] == f"Starts in phase {selected + 1} ({phase_name}): week {weeks_ago} after surgery on " \
                         f"{day_text(surgery)}."


def test_starting_before_the_phases_week_is_warned(therapist_client, clinic, make_patient, db):
    patient = make_patient(clinic, condition="post_tka", surgery_date=date.today() - timedelta(weeks=4))
    response = build(therapist_client, patient, "post_tka", start_phase="1")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Phase 2 starts in week 6 after surgery; the patient is in week 4" in html
    assert count_rows(db, Protocol) == 0
