"""The demo clinic that `make run` seeds into an empty database. Never part of a production install:
only the `seed-demo` command creates it, and only when the database has no accounts (SECURITY.md 4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlmodel import Session, func, select

from rehab.models import Clinic, Patient, User, Visit, utcnow
from rehab.services import accounts
from rehab.services.assessments import latest_screen, patient_facts
from rehab.services.catalogue import templates
from rehab.services.last_session import refresh_all_last_sessions
from rehab.services.protocol_content import ProtocolContent, content_from_template
from rehab.services.protocol_records import Override, create_protocol
from rehab.services.safety import check_protocol

DEMO_EMAIL = "demo@rehab.example"
DEMO_PASSWORD = "walk-backward-demo"  # noqa: S105 (printed by `make run`; the demo only)

_PATIENTS: list[tuple[str, str, int, str, str, str, dict[str, Any]]] = [
    # first, last, birth year, knee, condition, chart, precautions
    ("Margaret", "Okafor", 1951, "left", "knee_oa", "RV-1001", {"anticoagulants": True}),
    ("Luis", "Hernández", 1958, "right", "post_tka", "RV-1002", {}),
    ("Dorothy", "Whitfield", 1944, "both", "knee_oa", "RV-1003", {"uses_walker": True}),
    ("Samuel", "Reyes", 1989, "right", "post_aclr", "RV-1004", {}),
    ("Priya", "Natarajan", 1996, "left", "pfp", "RV-1005", {}),
    ("Harold", "Kowalski", 1947, "left", "knee_oa", "RV-1006", {"peripheral_neuropathy": True}),
    ("Carmen", "Delgado", 1962, "right", "post_tka", "RV-1007", {}),
    ("Ethan", "Brooks", 2001, "left", "post_aclr", "RV-1008", {}),
    ("Ruth", "Abernathy", 1939, "both", "knee_oa", "RV-1009", {"vestibular_disorder": True}),
    ("Ana", "Souza", 1970, "right", "other", "RV-1010", {}),
    ("George", "Lindqvist", 1955, "left", "knee_oa", "RV-1011", {}),
    ("Fatima", "Haddad", 1966, "right", "pfp", "RV-1012", {}),
]


def seed(session: Session, *, hasher: PasswordHasher) -> bool:
    """Create the demo clinic, its admin-therapist and patients. Returns False if accounts exist."""
    if session.exec(select(func.count()).select_from(User)).one() > 0:
        return False
    clinic = Clinic(name="Riverside Physical Therapy", address="210 River Road, Springfield",
                    phone="(555) 010-2030", paper_size="letter", speed_unit="mph",
                    timezone="America/Chicago")
    session.add(clinic)
    session.flush()
    user = accounts.create_user(session, hasher, email=DEMO_EMAIL, name="Jordan Avery, PT",
                                password=DEMO_PASSWORD, clinic_ids=[clinic.id], is_admin=True)
    today = date.today()
    for first, last, year, knee, condition, chart, precautions in _PATIENTS:
        surgery = today - timedelta(weeks=5) if condition in ("post_tka", "post_aclr") else None
        session.add(Patient(
            clinic_id=clinic.id, first_name=first, last_name=last, date_of_birth=date(year, 3, 14),
            chart_number=chart, affected_knee=knee, condition=condition, surgery_date=surgery,
            condition_other="Meniscus repair, conservative care" if condition == "other" else "",
            language="es" if last in ("Hernández", "Delgado") else "en", updated_by_id=user.id, therapist_id=user.id,
            **precautions,
        ))
    session.flush()
    _seed_programs(session, clinic=clinic, user_id=user.id)
    return True


# (chart number, template, days of history, starting worst pain) for patients with a program under way.
_PROGRAMS = [("RV-1001", "knee_oa", 27, 5), ("RV-1002", "post_tka", 20, 4), ("RV-1004", "post_aclr", 13, 3),
             ("RV-1005", "pfp", 24, 4), ("RV-1006", "knee_oa", 40, 4)]


def _demo_reasons(session: Session, patient: Patient, content: ProtocolContent, *, today: date) -> list[Override]:
    """A reason for each safety warning the program trips, as the builder asks before it saves one: the demo's
    protocols are ones the app could have saved, so accepting their advice works as it would in a clinic."""
    facts = patient_facts(patient, latest_screen(session, patient_id=patient.id), today=today)
    return [Override.of(warning, "Reviewed with the patient: a family member walks beside them at home", 1)
            for warning in check_protocol(content, facts, start_phase=-1)]


def _seed_programs(session: Session, *, clinic: Clinic, user_id: int) -> None:
    """Protocols with a few weeks of visits, so the dashboard, advice and charts have something to show."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    by_chart = {patient.chart_number: patient for patient in session.exec(select(Patient))}
    for chart, template_key, days, pain in _PROGRAMS:
        patient = by_chart[chart]
        content = content_from_template(templates()[template_key])
        started = now - timedelta(days=days + 1)
        protocol = create_protocol(session, patient=patient, content=content, user_id=user_id, now=started,
                                   overrides=_demo_reasons(session, patient, content, today=started.date()))
        session.flush()
        rx = content.phases[0].prescriptions[0]
        # Kowalski's last visit was weeks ago: he shows as "quiet" on the dashboard.
        visit_days = range(days, 20, -3) if chart == "RV-1006" else range(days, -1, -3)
        for step, ago in enumerate(visit_days):
            worst = max(1, pain - step // 2)
            session.add(Visit(
                patient_id=patient.id, clinic_id=clinic.id, protocol_id=protocol.id, protocol_version=1,
                phase_index=0, occurred_at=now - timedelta(days=ago, hours=2), pain_before=max(0, worst - 2),
                pain_worst=worst, pain_after=max(0, worst - 1), exercise=rx.exercise,
                minutes=min(rx.minutes_goal or rx.minutes, rx.minutes + step), speed_kmh=rx.speed_kmh,
                incline_pct=rx.incline_pct, support=rx.support, created_by_id=user_id,
                tug_s=(13.2 - step * 0.3) if step in (0, 8) else None,
                backward_walk_3m_s=(5.1 - step * 0.2) if step in (0, 8) else None,
            ))
    session.flush()
    # The visits above are history written directly, not through the visit service that keeps each patient's
    # last session: the dashboard's "quiet" and "recently seen" read it.
    refresh_all_last_sessions(session)
