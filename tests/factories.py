"""Rows as the app keeps them, for arranging a test: clinics, users, patients, protocols, visits and home logs.

Plain functions over a session: each adds its row, commits (so the app under test, on connections of its own,
sees it) and returns it. The defaults describe an ordinary patient on an ordinary day; keyword arguments change
any field, so a test names only what it is about.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlmodel import Session

from rehab.models import Clinic, HomeLog, Patient, Protocol, User, Visit, utcnow
from rehab.services import accounts, portal_links
from rehab.services.assessments import latest_screen, patient_facts
from rehab.services.catalogue import templates
from rehab.services.protocol_content import ProtocolContent, content_from_template
from rehab.services.protocol_records import Override, create_protocol
from rehab.services.safety import check_protocol

PASSWORD = "correct horse battery"  # satisfies the policy; used by every factory-made account
SECRET = "test-secret-key-that-is-long-enough-0123456789"  # the test apps' SECRET_KEY (portal tokens derive from it)


def clinic(session: Session, name: str = "Riverside PT", **fields: Any) -> Clinic:
    row = Clinic(name=name, phone=fields.pop("phone", "555-0100"), **fields)
    session.add(row)
    session.commit()
    return row


def user(session: Session, hasher: PasswordHasher, *, email: str, clinics: list[Clinic], is_admin: bool = False,
         name: str = "Alex Therapist", password: str = PASSWORD) -> User:
    """An account made as the admin page makes it (hashed password, memberships in ``clinics``)."""
    row = accounts.create_user(session, hasher, email=email, name=name, password=password,
                               clinic_ids=[clinic.id for clinic in clinics], is_admin=is_admin)
    session.commit()
    return row


def patient(session: Session, clinic: Clinic, **fields: Any) -> Patient:
    values: dict[str, Any] = {
        "first_name": "Margaret", "last_name": "Okafor", "date_of_birth": date(1951, 3, 14),
        "affected_knee": "left", "condition": "knee_oa",
    }
    values.update(fields)
    row = Patient(clinic_id=clinic.id, **values)
    session.add(row)
    session.commit()
    return row


def home_treadmill(template: str = "knee_oa") -> ProtocolContent:
    """A built-in template with phase 1 on a treadmill at home, so the sheet has home advice and the portal a log
    (a clinic-only phase has neither: tests/test_clinic_only.py)."""
    content = content_from_template(templates()[template])
    content.phases[0].prescriptions[0].setting = "home_alone"
    return content


REVIEWED = "Reviewed with the patient in clinic"


def builder_reasons(session: Session, patient: Patient, content: ProtocolContent, *, today: date) -> list[Override]:
    """The reasons the builder would have asked for before saving ``content`` for this patient (one for each
    safety warning it trips), so a protocol made here is one the app could have saved."""
    facts = patient_facts(patient, latest_screen(session, patient_id=patient.id), today=today)
    return [Override.of(warning, REVIEWED, 1) for warning in check_protocol(content, facts, start_phase=-1)]


def protocol(session: Session, patient: Patient, template: str = "knee_oa", *, days_ago: float = 21,
             now: datetime | None = None, user_id: int | None = None, home: bool = False,
             content: ProtocolContent | None = None, start_phase: int = 0) -> Protocol:
    """A protocol from a built-in template (or ``content``), started ``days_ago`` days before ``now``.

    Three weeks by default, so one-level-a-week does not hold the advice back; ``home`` puts phase 1 on a
    treadmill at home."""
    if content is None:
        content = home_treadmill(template) if home else content_from_template(templates()[template])
    started = (now or utcnow()) - timedelta(days=days_ago)
    row = create_protocol(session, patient=patient, content=content, user_id=user_id, now=started,
                          overrides=builder_reasons(session, patient, content, today=started.date()),
                          start_phase=start_phase)
    session.commit()
    return row


def visit(session: Session, patient: Patient, protocol: Protocol, *, at: datetime | None = None,
          recorded: datetime | None = None, **fields: Any) -> Visit:
    """A clinic visit in the protocol's first phase: mild steady pain (1, 2, 1), five minutes holding both rails.

    ``at`` is when it happened (now by default); ``recorded`` when it was entered (the row's creation, now by
    default), for rules that read the order of entry."""
    values: dict[str, Any] = {
        "protocol_version": 1, "phase_index": 0, "pain_before": 1, "pain_worst": 2, "pain_after": 1,
        "exercise": "treadmill_rails", "minutes": 5, "support": "both_rails",
    }
    if recorded is not None:
        values.update(created_at=recorded, updated_at=recorded)
    values.update(fields)
    row = Visit(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
                occurred_at=at or utcnow(), **values)
    session.add(row)
    session.commit()
    return row


def home_log(session: Session, patient: Patient, protocol: Protocol, *, day: date | None = None,
             recorded: datetime | None = None, **fields: Any) -> HomeLog:
    """A home session in the protocol's first phase: five minutes at pain 2, nothing else to report.

    ``day`` is the session's date (today by default); ``recorded`` when the patient sent it (now by default)."""
    values: dict[str, Any] = {"protocol_version": 1, "phase_index": 0, "minutes": 5, "pain_worst": 2}
    if recorded is not None:
        values.update(created_at=recorded, updated_at=recorded)
    values.update(fields)
    row = HomeLog(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,
                  session_date=day or utcnow().date(), **values)
    session.add(row)
    session.commit()
    return row


def portal_link(session: Session, patient: Patient, **options: Any) -> str:
    """A personal link made as the share button makes it (for an app with the tests' SECRET); returns its token."""
    _, token = portal_links.issue_link(session, patient=patient, user_id=None, now=utcnow(), secret=SECRET,
                                       **options)
    session.commit()
    return token
