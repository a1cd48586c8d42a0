"""The demo clinic that `make run` seeds into an empty database. Never part of a production install:
only the `seed-demo` command creates it, and only when the database has no accounts (SECURITY.md 4)."""

from __future__ import annotations

from datetime import date, timedelta

from argon2 import PasswordHasher
from sqlmodel import Session, func, select

from rehab.models import Clinic, Patient, User
from rehab.services import accounts

DEMO_EMAIL = "demo@rehab.example"
DEMO_PASSWORD = "walk-backward-demo"  # noqa: S105 (printed by `make run`; the demo only)

_PATIENTS = [
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
            language="es" if last in ("Hernández", "Delgado") else "en", updated_by_id=user.id,
            **precautions,
        ))
    session.flush()
    return True
