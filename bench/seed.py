"""Seed a clinic chain quickly for `make bench`: bulk inserts (Core executemany), not ORM objects.

5 clinics, 50 therapists, 10,000 patients with active protocols, 200,000 visits and 50,000 home logs; one
patient per clinic has 200 visits over 16 months (the patient-detail benchmark). Prints what it made and how
long it took.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, text

from rehab import create_app
from rehab.db import get_engine
from rehab.migrate import upgrade
from rehab.models import (
    Clinic,
    HomeLog,
    Membership,
    Patient,
    PhasePlan,
    Protocol,
    ProtocolVersion,
    QuestionnaireResponse,
    User,
    Visit,
)
from rehab.models.patients import patient_search_key
from rehab.services.adherence_records import phase_plan_rows
from rehab.services.catalogue import templates
from rehab.services.last_session import refresh_all_last_sessions
from rehab.services.passwords import hash_password, make_hasher
from rehab.services.protocol_content import content_from_template

CLINICS, THERAPISTS, PATIENTS, VISITS, HOME_LOGS = 5, 50, 10_000, 200_000, 50_000
BENCH_PASSWORD = "bench-password-2026"  # noqa: S105 (a throwaway benchmark database)
FIRST_NAMES = ["Margaret", "Luis", "Dorothy", "Samuel", "Priya", "Harold", "Carmen", "Ethan", "Ruth", "Ana",
               "George", "Fatima", "Helen", "Joseph", "Maria", "Robert", "Linda", "James", "Aiko", "Omar"]
LAST_NAMES = ["Okafor", "Hernandez", "Whitfield", "Reyes", "Natarajan", "Kowalski", "Delgado", "Brooks",
              "Abernathy", "Souza", "Lindqvist", "Haddad", "Nguyen", "Smith", "Garcia", "Muller", "Rossi", "Tanaka",
              "Ivanova", "Cohen"]


def chunks(rows: list[dict], size: int = 20_000):  # type: ignore[no-untyped-def, type-arg]
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def seed(database_url: str) -> dict[str, float | int]:
    started = time.perf_counter()
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-not-for-production-0123",
                      "DATABASE_URL": database_url})
    rng = random.Random(2026)  # noqa: S311 (fake data; the same database every run)
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        upgrade()
        engine = get_engine()
        content = {key: content_from_template(template).model_dump_json() for key, template in templates().items()}
        conditions = list(content)
        password_hash = hash_password(make_hasher(time_cost=1, memory_kib=8), BENCH_PASSWORD)
        with engine.begin() as connection:
            connection.execute(insert(Clinic), [
                {"id": c + 1, "name": f"Riverside PT {c + 1}", "address": f"{c + 10} River Road", "phone": "555-0100",
                 "paper_size": "letter", "speed_unit": "kmh", "timezone": "America/Chicago", "created_at": now}
                for c in range(CLINICS)])
            connection.execute(insert(User), [
                {"id": u + 1, "email": f"therapist{u + 1}@bench.example", "name": f"Therapist {u + 1}",
                 "password_hash": password_hash, "is_active": True, "created_at": now,
                 "password_changed_at": now} for u in range(THERAPISTS)])
            connection.execute(insert(Membership), [
                {"user_id": u + 1, "clinic_id": u % CLINICS + 1, "is_admin": u < CLINICS} for u in range(THERAPISTS)])
            patients, protocols, versions = [], [], []
            for p in range(PATIENTS):
                condition = conditions[p % len(conditions)]
                protocol_start = now - timedelta(days=520 if p < CLINICS else 180)  # before the first visit
                first_name, last_name = rng.choice(FIRST_NAMES), f"{rng.choice(LAST_NAMES)}{p // 400 or ''}"
                patients.append({
                    "id": p + 1, "clinic_id": p % CLINICS + 1, "first_name": first_name, "last_name": last_name,
                    "search_key": patient_search_key(first_name, last_name, f"C{p + 1:06d}"),
                    "date_of_birth": date(1940 + p % 45, 1 + p % 12, 1 + p % 28),
                    "chart_number": f"C{p + 1:06d}", "affected_knee": ("left", "right", "both")[p % 3],
                    "condition": {"knee_oa": "knee_oa", "post_tka": "post_tka", "post_aclr": "post_aclr",
                                  "pfp": "pfp"}[condition], "language": "es" if p % 7 == 0 else "en",
                    "created_at": now, "updated_at": now, "version": 1})
                protocols.append({"id": p + 1, "patient_id": p + 1, "clinic_id": p % CLINICS + 1,
                                  "title": condition, "template_key": condition, "status": "active",
                                  "current_phase": 0, "latest_version": 1, "created_at": protocol_start})
                versions.append({"protocol_id": p + 1, "number": 1, "created_at": protocol_start,
                                 "summary": json.dumps(["First version."]), "content": content[condition],
                                 "safety_overrides": "[]"})
            plans = [row for version in versions
                     for row in phase_plan_rows(version["protocol_id"], version["number"], version["created_at"],
                                                 version["content"])]
            for table, rows in ((Patient, patients), (Protocol, protocols), (ProtocolVersion, versions),
                                (PhasePlan, plans)):
                for chunk in chunks(rows):
                    connection.execute(insert(table), chunk)
        with engine.begin() as connection:
            heavy = list(range(1, CLINICS + 1))  # patients 1..5: 200 visits each, one per clinic
            visits = []
            for v in range(VISITS):
                patient_id = heavy[v % CLINICS] if v < 200 * CLINICS else rng.randint(CLINICS + 1, PATIENTS)
                worst = rng.randint(0, 7)
                visits.append({
                    "patient_id": patient_id, "clinic_id": (patient_id - 1) % CLINICS + 1, "protocol_id": patient_id,
                    "protocol_version": 1, "phase_index": 0,
                    # A heavy patient's 200 visits are two or three a week over 16 months, as in a long course of
                    # care (about 11 fall in the advice's 28-day window); the others' in the last 5 1/2 months.
                    "occurred_at": now - (timedelta(hours=60 * (v // CLINICS)) if v < 200 * CLINICS
                                          else timedelta(hours=v % 4000)) - timedelta(minutes=v % 60),
                    "pain_before": max(0, worst - 2),
                    "pain_worst": worst, "pain_after": max(0, worst - 1), "soreness": "none", "effusion": "0",
                    "exercise": "treadmill_rails", "minutes": 5 + v % 10, "speed_kmh": 1.2, "incline_pct": 0,
                    "support": "both_rails", "stumbles": 0, "falls": 0, "note": "", "created_at": now,
                    "updated_at": now, "version": 1, "tug_s": 12.0 - (v % 30) / 10 if v % 25 == 0 else None})
            for chunk in chunks(visits):
                connection.execute(insert(Visit), chunk)
            logs = [{"patient_id": (patient_id := rng.randint(1, PATIENTS)),
                     "clinic_id": (patient_id - 1) % CLINICS + 1,
                     "protocol_id": patient_id, "protocol_version": 1, "phase_index": 0,
                     "session_date": (now - timedelta(days=h % 90)).date(), "minutes": 10, "pain_worst": h % 6,
                     "soreness": "none", "note": "", "created_at": now - timedelta(days=h % 90), "updated_at": now,
                     "version": 1} for h in range(HOME_LOGS)]
            for chunk in chunks(logs):
                connection.execute(insert(HomeLog), chunk)
            # Questionnaires: LEFS and the pain rating at the start and at 6 weeks of every protocol, so the
            # outcomes page aggregates a realistic number of scores per clinic.
            answers = []
            for p in range(PATIENTS):
                opened = now - timedelta(days=520 if p < CLINICS else 180)  # as the protocol's start above
                for day, lefs, pain in ((0, 30 + p % 30, 3 + p % 5), (42, 38 + p % 35, 1 + p % 5)):
                    for instrument, total in (("lefs", lefs), ("nprs", pain)):
                        at = opened + timedelta(days=day, hours=p % 12)
                        answers.append({"patient_id": p + 1, "clinic_id": p % CLINICS + 1, "protocol_id": p + 1,
                                        "instrument": instrument, "occasion": "scheduled", "sent_at": at,
                                        "answers": "{}", "language": "en", "started_at": at, "completed_at": at,
                                        "score": float(total), "version": 1})
            for chunk in chunks(answers):
                connection.execute(insert(QuestionnaireResponse), chunk)
            # Core inserts bypass the services that keep each patient's last session (the dashboard reads it).
            refresh_all_last_sessions(connection)
            if engine.dialect.name == "postgresql":
                for table in ("clinic", "user_account", "patient", "protocol", "protocol_version", "visit", "home_log",
                              "questionnaire_response"):
                    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                            f"(SELECT max(id) FROM {table}))"))
                connection.execute(text("ANALYZE"))
            else:
                connection.execute(text("ANALYZE"))
                # ANALYZE leaves an index holding no row without statistics, and SQLite's planner then takes it
                # for a large one: the partial indexes of the sessions that stopped the walking (none here; a
                # few in a clinic's database) would lose to the patient's whole history. Say they are small,
                # as ANALYZE does once they hold a row.
                connection.execute(text(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT tbl_name, name, '1 1 1' FROM sqlite_master"
                    " WHERE type = 'index' AND sql LIKE '% WHERE %' AND name NOT IN (SELECT idx FROM sqlite_stat1"
                    " WHERE idx IS NOT NULL)"))
        engine.dispose()
    return {"clinics": CLINICS, "therapists": THERAPISTS, "patients": PATIENTS, "visits": VISITS,
            "home_logs": HOME_LOGS, "seconds": round(time.perf_counter() - started, 1)}


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))
