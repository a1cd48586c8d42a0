"""Clinic settings and clinic templates changed from pages that may have gone stale, without the app."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from rehab.models import Clinic, ClinicTemplate, utcnow
from rehab.services import clinic_settings, protocol_records
from rehab.services.edits import StaleEdit


@pytest.fixture
def clinic(session: Session) -> Clinic:
    row = Clinic(name="Riverside PT", phone="555-0100")
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def template(session: Session, clinic: Clinic) -> ClinicTemplate:
    row = ClinicTemplate(clinic_id=clinic.id, name="Our knee plan", content="{}")
    session.add(row)
    session.commit()
    return row


def test_settings_saved_from_the_current_version_apply_and_move_it_on(session, clinic):
    changes = clinic_settings.update_settings(session, clinic=clinic, seen_version=1,
                                              values={"phone": "555-0199", "name": "Riverside PT"})
    session.commit()
    assert changes == {"phone": ["555-0100", "555-0199"]} and clinic.version == 2
    assert clinic_settings.update_settings(session, clinic=clinic, values={"phone": "555-0199"}, seen_version=2) == {}
    assert clinic.version == 2  # nothing changed, so a page opened now is still current


def test_settings_from_an_older_version_change_nothing(session, clinic):
    clinic_settings.update_settings(session, clinic=clinic, values={"phone": "555-0199"}, seen_version=1)
    session.commit()
    with pytest.raises(StaleEdit):
        clinic_settings.update_settings(session, clinic=clinic, values={"address": "12 Mill Road"}, seen_version=1)
    session.rollback()
    session.refresh(clinic)
    assert (clinic.phone, clinic.address, clinic.version) == ("555-0199", "", 2)


def test_a_rename_from_before_another_change_is_refused(session, template):
    assert protocol_records.rename_template(session, template=template, name="Knee plan A", seen_version=1)
    assert protocol_records.set_template_retired(session, template=template, retired=True, now=utcnow())
    session.commit()
    assert template.version == 3
    with pytest.raises(StaleEdit):  # the page showed version 2, before the retirement
        protocol_records.rename_template(session, template=template, name="Knee plan B", seen_version=2)
    session.rollback()
    session.refresh(template)
    assert template.name == "Knee plan A"
    assert not protocol_records.rename_template(session, template=template, name="Knee plan A", seen_version=3)


def test_retiring_a_retired_template_changes_nothing(session, template):
    assert protocol_records.set_template_retired(session, template=template, retired=True, now=utcnow())
    assert not protocol_records.set_template_retired(session, template=template, retired=True, now=utcnow())
    assert protocol_records.set_template_retired(session, template=template, retired=False, now=utcnow())
    assert not protocol_records.set_template_retired(session, template=template, retired=False, now=utcnow())
    assert template.version == 3 and template.archived_at is None
