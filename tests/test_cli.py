"""The commands a clinic's IT person runs: create the first admin, seed the demo, verify the audit trail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from rehab import demo
from rehab.models import AuditEvent, Clinic, Membership, Patient, User
from rehab.services.audit import GENESIS, chain_key, legacy_digest
from tests.conftest import SECRET, sign_in

pytestmark = pytest.mark.db

OWNER_PASSWORD = "lakeside knees walk back"


def fetch(db: Session, statement) -> list:  # type: ignore[no-untyped-def]
    """Rows as committed now; commits at once so no transaction holds SQLite's write lock meanwhile."""
    rows = list(db.exec(statement.execution_options(populate_existing=True)))
    db.commit()
    return rows


def count(db: Session, model) -> int:  # type: ignore[no-untyped-def]
    return fetch(db, select(func.count()).select_from(model))[0]


@pytest.fixture
def cli(app, runner):  # type: ignore[no-untyped-def]
    """Run a command as `flask --app rehab ...` does. The commands are plain click commands, so (unlike under
    the `flask` script, which pushes one) the test runner needs the app context pushed for it."""

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        with app.app_context():
            return runner.invoke(args=list(args), input=input)

    return invoke


def create_user(cli, email: str, *options: str, password: str = OWNER_PASSWORD):  # type: ignore[no-untyped-def]
    return cli("create-user", email, *options, input=f"{password}\n")


# ------------------------------------------------------------------------------------------------ create-user


def test_create_user_sets_up_the_first_clinic_and_admin(app, cli, db):
    result = create_user(cli, "Olga.Owner@Lakeside.example", "--name", "Olga Owner", "--admin",
                         "--clinic", "Lakeside PT")
    assert result.exit_code == 0, result.output
    assert "Created the clinic 'Lakeside PT'" in result.output
    assert "Created admin" in result.output
    assert OWNER_PASSWORD not in result.output
    [clinic] = fetch(db, select(Clinic))
    [user] = fetch(db, select(User))
    assert (clinic.name, user.email, user.name) == ("Lakeside PT", "olga.owner@lakeside.example", "Olga Owner")
    assert fetch(db, select(Membership.clinic_id, Membership.is_admin)
                 .where(Membership.user_id == user.id)) == [(clinic.id, True)]
    browser = app.test_client()
    assert sign_in(browser, "olga.owner@lakeside.example", OWNER_PASSWORD).status_code == 302
    html = browser.get("/patients/").get_data(as_text=True)
    assert "Lakeside PT" in html and "Olga Owner" in html and "Clinic settings" in html  # admin links


def test_a_second_user_joins_the_only_clinic_as_a_therapist(app, cli, clinic, db):
    result = create_user(cli, "theo@clinic.example", "--name", "Theo Therapist")
    assert result.exit_code == 0, result.output
    assert "Created therapist theo@clinic.example." in result.output
    [user] = fetch(db, select(User))
    assert fetch(db, select(Membership.clinic_id, Membership.is_admin)
                 .where(Membership.user_id == user.id)) == [(clinic.id, False)]
    assert count(db, Clinic) == 1


def test_an_unknown_clinic_name_is_refused_once_clinics_exist(cli, clinic, db):
    result = create_user(cli, "theo@clinic.example", "--name", "Theo", "--clinic", "Riverside P.T.")
    assert result.exit_code != 0
    assert "No clinic is called 'Riverside P.T.'" in result.output
    assert count(db, User) == 0 and count(db, Clinic) == 1


def test_with_several_clinics_the_clinic_must_be_named(cli, clinic, make_clinic, db):
    make_clinic("Hillside PT")
    result = create_user(cli, "theo@clinic.example", "--name", "Theo")
    assert result.exit_code != 0 and "choose one with --clinic" in result.output
    result = create_user(cli, "theo@clinic.example", "--name", "Theo", "--clinic", "Hillside PT")
    assert result.exit_code == 0, result.output
    [user] = fetch(db, select(User))
    [clinic_name] = fetch(db, select(Clinic.name).join(Membership).where(Membership.user_id == user.id))
    assert clinic_name == "Hillside PT"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short one", "Use at least 12 characters"),
        ("", "Use at least 12 characters"),
        ("password1234", "This password is too common"),
        ("CorrectHorseBatteryStaple", "This password is too common"),
        ("olga.owner rocks", "Do not use your name or email address"),
    ],
)
def test_a_weak_password_is_refused_and_nothing_is_created(cli, db, password, message):
    result = create_user(cli, "olga.owner@lakeside.example", "--name", "Olga Owner", "--admin",
                         "--clinic", "Lakeside PT", password=password)
    assert result.exit_code != 0
    assert message in result.output
    assert "Created" not in result.output  # it must not claim a clinic or account that was rolled back
    assert count(db, User) == 0 and count(db, Clinic) == 0


def test_a_duplicate_email_is_refused(app, cli, therapist, db):
    result = create_user(cli, therapist.email.upper(), "--name", "Pat Again")
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert count(db, User) == 1
    assert sign_in(app.test_client(), therapist.email, OWNER_PASSWORD).status_code == 401  # password unchanged


def test_create_user_is_audited(cli, db):
    create_user(cli, "olga.owner@lakeside.example", "--name", "Olga Owner", "--admin", "--clinic", "Lakeside PT")
    [user] = fetch(db, select(User))
    [event] = fetch(db, select(AuditEvent))
    assert (event.action, event.object_type, event.object_id) == ("user.create", "user", user.id)


# -------------------------------------------------------------------------------------------------- seed-demo


def test_seed_demo_fills_an_empty_database_and_prints_the_demo_sign_in(app, cli, db):
    result = cli("seed-demo")
    assert result.exit_code == 0, result.output
    assert f"Demo sign-in: {demo.DEMO_EMAIL} / {demo.DEMO_PASSWORD}" in result.output
    assert count(db, Patient) == len(demo._PATIENTS)
    browser = app.test_client()
    assert sign_in(browser, demo.DEMO_EMAIL, demo.DEMO_PASSWORD).status_code == 302
    html = browser.get("/patients/").get_data(as_text=True)
    first, last = demo._PATIENTS[0][:2]
    assert f"{last}, {first}" in html


def test_seed_demo_adds_nothing_once_the_install_has_accounts(cli, therapist, db):
    result = cli("seed-demo")
    assert result.exit_code == 0
    assert "already has accounts; no demo data was added" in result.output
    assert demo.DEMO_PASSWORD not in result.output
    assert count(db, Patient) == 0 and count(db, User) == 1
    assert fetch(db, select(User).where(User.email == demo.DEMO_EMAIL)) == []


def test_seed_demo_run_twice_adds_the_demo_once(cli, db):
    cli("seed-demo")
    again = cli("seed-demo")
    assert again.exit_code == 0
    assert "Demo clinic created." not in again.output
    assert count(db, Patient) == len(demo._PATIENTS) and count(db, User) == 1 and count(db, Clinic) == 1


# ------------------------------------------------------------------------------------------------ audit verify


@pytest.fixture
def audit_trail(app, therapist, admin, db) -> list[int]:  # type: ignore[no-untyped-def]
    """A few real events: sign-ins, a failed one, a patient added."""
    for email, password in ((therapist.email, None), (admin.email, "wrong password, sorry"), (admin.email, None)):
        browser = app.test_client()
        sign_in(browser, email, *(password,) if password else ())
    ids = [event_id for event_id in fetch(db, select(AuditEvent.id).order_by(col(AuditEvent.id)))]
    assert len(ids) >= 3
    return ids


def head_of(output: str) -> str:
    match = re.search(r"^Head: ([0-9a-f]{64})", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_audit_verify_reports_an_intact_trail_and_its_head(cli, db, audit_trail):
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"Audit trail intact: {len(audit_trail)} events." in result.output
    newest = fetch(db, select(AuditEvent).order_by(col(AuditEvent.id).desc()))[0]
    assert head_of(result.output) == newest.hash and f"(event {newest.id})" in result.output


def test_audit_verify_expect_passes_for_a_recorded_head_and_fails_once_it_is_cut_off(app, cli, db, audit_trail,
                                                                                      therapist):
    recorded = head_of(cli("audit", "verify").output)
    assert cli("audit", "verify", "--expect", recorded).exit_code == 0
    sign_in(app.test_client(), therapist.email)  # the trail grows after the head was written down
    later = cli("audit", "verify", "--expect", recorded)
    assert later.exit_code == 0, later.output
    assert f"The expected head is event {audit_trail[-1]}" in later.output
    # Removing the newest rows leaves an intact chain behind: only the recorded head shows the cut.
    db.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": audit_trail[-1]})
    db.commit()
    assert cli("audit", "verify").exit_code == 0
    cut = cli("audit", "verify", "--expect", recorded)
    assert cut.exit_code != 0
    assert f"The expected head {recorded} is not in the trail" in cut.output


def test_audit_verify_fails_after_deleting_an_event_and_rehashing_the_rest_with_sha256(cli, db, audit_trail):
    """The attack on the unkeyed chain: delete a row, re-hash every other row with plain SHA-256, which used to
    verify. Under the HMAC chain nobody without the key can make that pass."""
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": audit_trail[1]})
    previous = GENESIS
    for event in fetch(db, select(AuditEvent).order_by(col(AuditEvent.id))):
        event.prev_hash, event.hash = previous, legacy_digest(previous, event)
        previous = event.hash
        db.add(event)
    db.commit()
    result = cli("audit", "verify")
    assert result.exit_code != 0
    assert f"Audit trail broken at event {audit_trail[0]}." in result.output


def test_audit_rekey_moves_the_trail_to_a_new_key(app, cli, db, audit_trail):
    old_head = head_of(cli("audit", "verify").output)
    app.extensions["rehab.audit_key"] = chain_key(audit_key="the install's new audit key", secret_key="")
    assert "broken at event" in cli("audit", "verify").output  # the new key does not verify the old rows
    wrong = cli("audit", "rekey", input="a wrong old key\n")
    assert wrong.exit_code != 0 and f"broken at event {audit_trail[0]}" in wrong.output
    result = cli("audit", "rekey", input=f"secret:{SECRET}\n")  # the old chain used the key derived from it
    assert result.exit_code == 0, result.output
    assert f"Re-keyed {len(audit_trail)} events." in result.output
    verified = cli("audit", "verify")
    assert verified.exit_code == 0 and head_of(verified.output) != old_head
    assert "nothing to do" in cli("audit", "rekey", input="anything\n").output


def test_audit_verify_names_an_altered_row(cli, db, audit_trail):
    middle = audit_trail[1]
    db.execute(text("UPDATE audit_event SET action = 'login' WHERE id = :id"), {"id": middle})
    db.commit()
    result = cli("audit", "verify")
    assert result.exit_code != 0
    assert f"Audit trail broken at event {middle}." in result.output


def test_audit_verify_names_the_row_after_a_removed_one(cli, db, audit_trail):
    removed, following = audit_trail[1], audit_trail[2]
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": removed})
    db.commit()
    result = cli("audit", "verify")
    assert result.exit_code != 0
    assert f"Audit trail broken at event {following}." in result.output
