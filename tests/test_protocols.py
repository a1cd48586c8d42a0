"""The protocol builder as a therapist uses it: template to saved protocol, versions, safety, phases."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from rehab.forms.protocol import draft_from_content
from rehab.models import Assessment, ClinicTemplate, PhaseChange, Protocol, ProtocolVersion, utcnow
from rehab.services.catalogue import templates
from rehab.services.protocol_content import content_from_template
from tests.conftest import count_rows, form_fields, submit

pytestmark = pytest.mark.db


def builder_form(content=None, unit: str = "kmh", **overrides):  # type: ignore[no-untyped-def]
    """The builder's fields as the page would post them."""
    content = content or content_from_template(templates()["knee_oa"])
    draft = draft_from_content(content, speed_unit=unit)
    form = {"title": draft["title"], "template_key": draft["template_key"], "action": "save"}
    for i, phase in enumerate(draft["phases"]):
        for name, value in phase.items():
            if name == "rx":
                for j, rx in enumerate(value):
                    form.update({f"phases-{i}-rx-{j}-{field}": text for field, text in rx.items()})
            elif isinstance(value, bool):
                if value:
                    form[f"phases-{i}-{name}"] = "1"
            else:
                form[f"phases-{i}-{name}"] = value
    form.update(overrides)
    return form


def screened(db, patient):  # type: ignore[no-untyped-def]
    """The patient with a low-risk fall screen on record (unscreened patients: tests/test_screening.py)."""
    db.add(Assessment(patient_id=patient.id, clinic_id=patient.clinic_id, occurred_at=utcnow() - timedelta(days=1),
                      backward_walk_3m_s=3.0, tug_s=9.0))
    db.commit()
    return patient


@pytest.fixture
def patient(clinic, make_patient, db):  # type: ignore[no-untyped-def]
    return screened(db, make_patient(clinic))


def start_protocol(client, patient, **overrides):  # type: ignore[no-untyped-def]
    url = f"/patients/{patient.id}/protocols/new/build"
    return submit(client, url, builder_form(**overrides), form_page=f"{url}?source=builtin:knee_oa")


def test_three_clicks_from_template_to_saved_protocol(therapist_client, patient, db):
    choose = therapist_client.get(f"/patients/{patient.id}/protocols/new").get_data(as_text=True)
    assert "Knee osteoarthritis" in choose and "Matches this patient" in choose and "Expert opinion" in choose
    builder = therapist_client.get(f"/patients/{patient.id}/protocols/new/build?source=builtin:knee_oa",
                                   follow_redirects=True)  # the builder's address gets the form's one-time id
    html = builder.get_data(as_text=True)
    assert 'value="Learn"' in html and "Randomised trials" in html
    response = therapist_client.post(f"/patients/{patient.id}/protocols/new/build",
                                     data={**builder_form(), **form_fields(html)}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Protocol saved" in page and "Current phase" in page
    assert "Walk backward on the treadmill for 5 minutes, 3 times a week" in page
    protocol = db.exec(select(Protocol)).one()
    assert (protocol.status, protocol.latest_version, protocol.current_phase) == ("active", 1, 0)
    detail = therapist_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Phase 1 of 3" in detail and "Learn" in detail


def test_editing_makes_version_two_with_a_readable_summary(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    protocol = db.exec(select(Protocol)).one()
    url = f"/patients/{patient.id}/protocols/{protocol.id}/edit"
    form = builder_form(**{"seen_version": "1", "phases-0-rx-0-minutes": "6", "phases-1-rx-0-incline_pct": "5"})
    response = submit(therapist_client, url, form, follow_redirects=True)
    assert "Saved as version 2" in response.get_data(as_text=True)
    history = therapist_client.get(f"/patients/{patient.id}/protocols/{protocol.id}/history").get_data(as_text=True)
    assert "Phase 1: minutes 5 → 6" in history and "Phase 2: incline 0 → 5 %" in history
    old = therapist_client.get(f"/patients/{patient.id}/protocols/{protocol.id}/versions/1").get_data(as_text=True)
    assert "for 5 minutes" in old and "an earlier version" in old  # version 1 unchanged and viewable
    versions = db.exec(select(ProtocolVersion).order_by(ProtocolVersion.number)).all()
    assert [json.loads(v.content)["phases"][0]["prescriptions"][0]["minutes"] for v in versions] == [5, 6]


def test_saving_without_changes_makes_no_version(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    protocol = db.exec(select(Protocol)).one()
    response = submit(therapist_client, f"/patients/{patient.id}/protocols/{protocol.id}/edit",
                      builder_form(seen_version="1"), follow_redirects=True)
    assert "No changes to save" in response.get_data(as_text=True)
    assert count_rows(db, ProtocolVersion) == 1


def test_mph_clinic_types_speeds_in_mph_and_stores_kmh(therapist_client, patient, clinic, db):
    clinic.speed_unit = "mph"
    db.add(clinic)
    db.commit()
    content = content_from_template(templates()["knee_oa"])
    form = builder_form(content, unit="mph", **{"phases-0-rx-0-speed": "1.0"})
    response = start_protocol(therapist_client, patient, **{k: v for k, v in form.items()})
    assert response.status_code == 302
    version = db.exec(select(ProtocolVersion)).one()
    assert json.loads(version.content)["phases"][0]["prescriptions"][0]["speed_kmh"] == 1.61


def test_stale_edit_is_refused_and_keeps_input(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    protocol = db.exec(select(Protocol)).one()
    url = f"/patients/{patient.id}/protocols/{protocol.id}/edit"
    submit(therapist_client, url, builder_form(seen_version="1", **{"phases-0-rx-0-minutes": "7"}))
    response = submit(therapist_client, url, builder_form(seen_version="1", **{"phases-0-rx-0-minutes": "9"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else saved this protocol" in html
    assert 'value="9"' in html  # what this therapist typed is still on screen
    assert count_rows(db, ProtocolVersion) == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("phases-0-rx-0-minutes", "-5", "Enter minutes between 0.5 and 120."),
    ("phases-0-rx-0-speed", "9", "between 0.1 and 8 km/h"),
    ("phases-0-rx-0-incline_pct", "25", "between 0 and 20 %"),
    ("phases-0-rx-0-sessions_per_week", "15", "1 to 14 sessions"),
    ("phases-0-rx-0-pain_ceiling", "11", "pain ceiling from 0 to 10"),
    ("phases-0-name", "", "This field is required"),
    ("title", "", "This field is required"),
])
def test_bad_doses_are_explained_and_nothing_is_saved(therapist_client, patient, db, field, value, message):
    response = start_protocol(therapist_client, patient, **{field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and f'id="{field}-error"' in html
    assert count_rows(db, Protocol) == 0


def test_an_empty_phase_is_refused(therapist_client, patient, db):
    form = {k: v for k, v in builder_form().items() if not k.startswith("phases-1-rx-")}
    url = f"/patients/{patient.id}/protocols/new/build"
    response = submit(therapist_client, url, form, form_page=f"{url}?source=builtin:knee_oa")
    assert "This phase has no exercise" in response.get_data(as_text=True)
    assert count_rows(db, Protocol) == 0


def test_add_phase_round_trip_keeps_typed_values(therapist_client, patient, db):
    response = start_protocol(therapist_client, patient, action="add_phase", **{"phases-0-rx-0-minutes": "7"})
    html = response.get_data(as_text=True)
    assert 'value="Phase 4"' in html
    assert 'id="phases-0-rx-0-minutes" name="phases-0-rx-0-minutes" type="number" value="7"' in html
    assert count_rows(db, Protocol) == 0


def test_safety_warning_needs_a_reason_then_saves_it(therapist_client, clinic, make_patient, db):
    walker_user = screened(db, make_patient(clinic, uses_walker=True))
    first = start_protocol(therapist_client, walker_user)
    html = first.get_data(as_text=True)
    assert first.status_code == 422 and "rollator" in html and "PMC10995100" in html
    assert count_rows(db, Protocol) == 0
    # Phase 1 holds both rails (no warning); a light touch in phases 2 and 3 and the walk at home do not.
    fingerprints = re.findall(r'name="override-(\d+)-rule" value="([^"]+)"', html)
    assert [value.split("|")[:2] for _, value in fingerprints] == [
        ["walker", "Phase 2, backward walking on a treadmill"],
        ["walker", "Phase 3, backward walking uphill on a treadmill"],
        ["walker", "Phase 3, backward walking with a partner"]]
    rules = {f"override-{n}-rule": value for n, value in fingerprints}
    second = start_protocol(therapist_client, walker_user, warnings_shown="1",
                            **rules, **{f"override-{n}-reason": "" for n, _ in fingerprints})
    assert "Give a reason to go ahead" in second.get_data(as_text=True)
    assert count_rows(db, Protocol) == 0
    third = start_protocol(therapist_client, walker_user, warnings_shown="1", **rules,
                           **{f"override-{n}-reason": "Parallel bars only, PT at side" for n, _ in fingerprints})
    assert third.status_code == 302
    version = db.exec(select(ProtocolVersion)).one()
    assert {item["reason"] for item in json.loads(version.safety_overrides)} == {"Parallel bars only, PT at side"}


def test_recent_knee_replacement_home_work_is_warned(therapist_client, clinic, make_patient):
    patient = make_patient(clinic, condition="post_tka", surgery_date=date.today() - timedelta(days=40))
    response = start_protocol(therapist_client, patient)  # knee OA template has home walking in phase 3
    assert "less than 6 months ago" in response.get_data(as_text=True)


def test_pain_ceiling_six_is_warned_five_is_not(therapist_client, patient):
    assert start_protocol(therapist_client, patient, **{"phases-0-rx-0-pain_ceiling": "5"}).status_code == 302


def test_pain_ceiling_above_five_is_warned(therapist_client, patient):
    response = start_protocol(therapist_client, patient, **{"phases-0-rx-0-pain_ceiling": "6"})
    assert response.status_code == 422 and "Pain ceiling 6/10 is above 5" in response.get_data(as_text=True)


def test_phase_moves_need_a_reason_and_are_kept(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    protocol = db.exec(select(Protocol)).one()
    base = f"/patients/{patient.id}/protocols/{protocol.id}"
    refused = submit(therapist_client, f"{base}/phase", {"from_phase": "0", "to_phase": "1", "reason": ""},
                     form_page=base,
                     follow_redirects=True)
    assert "Give a reason" in refused.get_data(as_text=True)
    moved = submit(therapist_client, f"{base}/phase", {"from_phase": "0", "to_phase": "1",
                                                       "reason": "2 sessions, pain 2/10"},
                   form_page=base, follow_redirects=True)
    assert "Moved to phase 2: Load" in moved.get_data(as_text=True)
    submit(therapist_client, f"{base}/phase", {"from_phase": "1", "to_phase": "0", "reason": "Flare-up"},
           form_page=base)
    db.expire_all()
    assert db.get(Protocol, protocol.id).current_phase == 0
    assert [c.reason for c in db.exec(select(PhaseChange).order_by(PhaseChange.id))] == ["2 sessions, pain 2/10",
                                                                                         "Flare-up"]
    past_start = submit(therapist_client, f"{base}/phase", {"from_phase": "0", "to_phase": "-1", "reason": "again"},
                        form_page=base,
                        follow_redirects=True)
    assert "no phase in that direction" in past_start.get_data(as_text=True)


def test_a_new_protocol_ends_the_active_one(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    start_protocol(therapist_client, patient, title="Second try")
    statuses = sorted((p.title, p.status) for p in db.exec(select(Protocol)))
    assert statuses == [("Knee osteoarthritis", "ended"), ("Second try", "active")]


def test_save_as_clinic_template_then_start_from_it(therapist_client, patient, clinic, make_patient, db):
    start_protocol(therapist_client, patient, **{"phases-0-rx-0-minutes": "4", "phases-0-rx-0-minutes_goal": "8"})
    protocol = db.exec(select(Protocol)).one()
    base = f"/patients/{patient.id}/protocols/{protocol.id}"
    submit(therapist_client, f"{base}/save-template", {"name": "Riverside OA"}, form_page=base)
    template = db.exec(select(ClinicTemplate)).one()
    other = make_patient(clinic, first_name="Ruth")
    choose = therapist_client.get(f"/patients/{other.id}/protocols/new").get_data(as_text=True)
    assert "Riverside OA" in choose
    builder = therapist_client.get(f"/patients/{other.id}/protocols/new/build?source=clinic:{template.id}",
                                   follow_redirects=True)
    assert 'name="phases-0-rx-0-minutes" type="number" value="4"' in builder.get_data(as_text=True)


def test_another_clinics_patients_and_templates_are_not_found(therapist_client, make_clinic, make_patient, patient,
                                                              db):
    other_clinic = make_clinic("Elsewhere")
    stranger = make_patient(other_clinic)
    assert therapist_client.get(f"/patients/{stranger.id}/protocols/new").status_code == 404
    theirs = ClinicTemplate(clinic_id=other_clinic.id, name="Theirs", content="{}")
    db.add(theirs)
    db.commit()
    assert "Theirs" not in therapist_client.get(f"/patients/{patient.id}/protocols/new").get_data(as_text=True)
    url = f"/patients/{patient.id}/protocols/new/build?source=clinic:{theirs.id}"
    assert therapist_client.get(url).status_code == 404


def test_protocol_of_another_patient_is_not_found(therapist_client, clinic, make_patient, db):
    first, second = screened(db, make_patient(clinic)), make_patient(clinic, first_name="Ruth")
    start_protocol(therapist_client, first)
    protocol = db.exec(select(Protocol)).one()
    for path in ("", "/edit", "/history", "/versions/1"):
        assert therapist_client.get(f"/patients/{second.id}/protocols/{protocol.id}{path}").status_code == 404


def test_admin_renames_and_retires_clinic_templates(admin_client, clinic, make_patient, db):
    template = ClinicTemplate(clinic_id=clinic.id, name="Old name",
                              content=content_from_template(templates()["pfp"]).model_dump_json())
    db.add(template)
    db.commit()
    submit(admin_client, f"/admin/templates/{template.id}", {"action": "rename", "name": "PFP, runners",
                                                              "version": "1"}, form_page="/admin/templates")
    submit(admin_client, f"/admin/templates/{template.id}", {"action": "retire"}, form_page="/admin/templates",
           follow_redirects=True)
    patient = make_patient(clinic)
    choose = admin_client.get(f"/patients/{patient.id}/protocols/new").get_data(as_text=True)
    assert "PFP, runners" not in choose  # retired templates are not offered
    listing = admin_client.get("/admin/templates").get_data(as_text=True)
    assert "PFP, runners" in listing and "Retired" in listing
    db.expire_all()
    assert db.get(ClinicTemplate, template.id).archived_at is not None


def test_therapists_cannot_manage_templates(therapist_client, clinic, db):
    template = ClinicTemplate(clinic_id=clinic.id, name="Keep", content="{}")
    db.add(template)
    db.commit()
    assert therapist_client.get("/admin/templates").status_code == 403
    response = submit(therapist_client, f"/admin/templates/{template.id}", {"action": "retire"},
                      form_page="/patients/")
    assert response.status_code == 403
    db.expire_all()
    assert db.get(ClinicTemplate, template.id).archived_at is None


def test_a_dose_raised_by_hand_beyond_one_level_a_week_is_warned(therapist_client, patient, db):
    start_protocol(therapist_client, patient)
    protocol = db.exec(select(Protocol)).one()
    url = f"/patients/{patient.id}/protocols/{protocol.id}/edit"
    jump = submit(therapist_client, url, builder_form(**{"seen_version": "1", "phases-0-rx-0-minutes": "10"}))
    page = jump.get_data(as_text=True)
    assert jump.status_code == 422 and "faster than one level a week" in page
    assert "minutes 5 → 10 is more than one level" in page and count_rows(db, ProtocolVersion) == 1
    one_level = submit(therapist_client, url, builder_form(**{"seen_version": "1", "phases-0-rx-0-minutes": "7"}),
                       follow_redirects=True)
    assert "Saved as version 2" in one_level.get_data(as_text=True)
    # A second level in the same week: against the dose of a week ago (5 minutes) it is two levels.
    again = submit(therapist_client, url, builder_form(**{"seen_version": "2", "phases-0-rx-0-minutes": "9"}))
    assert again.status_code == 422 and "minutes 5 → 9 is more than one level" in again.get_data(as_text=True)
    # Later phases are not the patient's dose yet: changing them warns of nothing.
    later = submit(therapist_client, url, builder_form(**{"seen_version": "2", "phases-0-rx-0-minutes": "7",
                                                          "phases-1-rx-0-minutes": "14"}), follow_redirects=True)
    assert "Saved as version 3" in later.get_data(as_text=True)
