"""The portal's link and home-log rules, without the app (SECURITY.md 22-24). A plain SQLite file with the
tables from the models is enough here."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from rehab.models import Alert, EditRecord, HomeLog, Patient, PortalLink, Protocol, RedFlagClearance
from rehab.services import home_logs, patient_text, portal_links
from rehab.services.advice.inputs import gather, uncleared_stops
from rehab.services.catalogue import templates
from rehab.services.edits import StaleEdit
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import end_protocol
from tests import factories

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SECRET = "unit-test-secret-key-0123456789-abcdef"
TODAY = NOW.date()


@pytest.fixture
def patient(session: Session) -> Patient:
    return factories.patient(session, factories.clinic(session))


@pytest.fixture
def protocol(session: Session, patient: Patient) -> Protocol:
    return factories.protocol(session, patient, days_ago=20, now=NOW)


def form(**overrides: str) -> dict[str, str]:
    values = {"session_date": TODAY.isoformat(), "minutes": "10", "pain_worst": "3", "soreness": "none",
              "stumbled": "no", "fell": "no", "note": ""}
    values.update(overrides)
    return values


def valid(**overrides: str) -> home_logs.HomeLogInput:
    shape, errors = home_logs.validate_home_log(home_logs.home_log_data(form(**overrides)), today=TODAY)
    assert shape is not None, errors
    return shape


# ------------------------------------------------------------------------------------------------------- links


def test_a_link_stores_only_the_hash_of_a_256_bit_token(session, patient, protocol):
    link, token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    session.commit()
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    stored = session.exec(select(PortalLink)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(stored.model_dump(), default=str)
    assert portal_links.find_link(session, token, NOW) == (link, "ok")


def test_links_expire_after_180_days_by_default(session, patient, protocol):
    link, token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    assert link.expires_at == NOW + timedelta(days=180)
    assert portal_links.find_link(session, token, NOW + timedelta(days=179))[1] == "ok"
    assert portal_links.find_link(session, token, NOW + timedelta(days=180))[1] == "expired"


def test_rotating_stops_the_old_link_at_once_and_keeps_its_settings(session, patient, protocol):
    old, old_token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET,
                                             require_birth_date=True)
    new, new_token = portal_links.rotate(session, link=old, patient=patient, user_id=None, now=NOW, secret=SECRET)
    session.commit()
    session.refresh(old)
    assert portal_links.find_link(session, old_token, NOW)[1] == "revoked"
    assert portal_links.find_link(session, new_token, NOW) == (new, "ok")
    assert new.require_birth_date and new_token != old_token
    assert portal_links.live_link(session, patient_id=patient.id) == new


def test_a_revoked_or_unknown_token_does_not_open(session, patient, protocol):
    link, token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    portal_links.revoke(session, link=link, now=NOW)
    assert portal_links.find_link(session, token, NOW)[1] == "revoked"
    assert portal_links.find_link(session, "not-a-token-" * 3, NOW) == (None, "unknown")
    assert portal_links.find_link(session, "x" * 10_000, NOW) == (None, "unknown")


def test_the_link_ends_with_the_protocol_or_when_the_patient_is_archived(session, patient, protocol):
    link, _ = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    session.commit()
    assert portal_links.link_state(session, link_id=link.id, now=NOW).ok
    end_protocol(session, protocol=protocol, reason="Discharged", now=NOW)
    session.commit()
    assert portal_links.link_state(session, link_id=link.id, now=NOW).reason == "expired"


def test_five_wrong_birth_dates_lock_the_link_and_alert_the_therapist(session, patient, protocol):
    link, _ = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET,
                                       require_birth_date=True)
    outcomes = [portal_links.check_birth_date(session, link=link, patient=patient, given=date(1960, 1, 1), now=NOW)
                for _ in range(5)]
    session.commit()
    assert outcomes == [("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1), ("locked", 0)]
    session.refresh(link)
    assert link.locked_at is not None and portal_links.link_status(link, NOW) == "locked"
    alert = session.exec(select(Alert)).one()
    assert (alert.kind, alert.patient_id) == ("dob_lockout", patient.id)


def test_the_right_birth_date_resets_the_misses(session, patient, protocol):
    link, _ = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET,
                                       require_birth_date=True)
    portal_links.check_birth_date(session, link=link, patient=patient, given=date(1960, 1, 1), now=NOW)
    session.refresh(link)
    outcome, _ = portal_links.check_birth_date(session, link=link, patient=patient, given=date(1951, 3, 14), now=NOW)
    assert outcome == "ok"
    session.commit()
    session.refresh(link)
    assert link.birth_date_failures == 0


# --------------------------------------------------------------------------------------------------- home logs


@pytest.mark.parametrize(("field", "value", "message"), [
    ("pain_worst", "11", "Choose your worst pain: a number from 0 to 10."),
    ("pain_worst", "", "Choose your worst pain: a number from 0 to 10."),
    ("minutes", "-5", "Enter the minutes you walked backward: a number from 0.5 to 180."),
    ("minutes", "181", "Enter the minutes you walked backward: a number from 0.5 to 180."),
    ("session_date", (TODAY + timedelta(days=1)).isoformat(), "The date cannot be in the future."),
    ("session_date", (TODAY - timedelta(days=31)).isoformat(), "Choose a date in the last 30 days."),
    ("session_date", "yesterday", "Enter the date you walked."),
    ("note", "n" * 1_000_000, "Your note is too long. Use 1000 letters or fewer."),
    ("soreness", "agony", "Choose one answer."),
    ("fell", "", "Choose yes or no."),
    ("pain_next_morning", "12", "Choose a number from 0 to 10"),
])
def test_home_log_validation_explains_each_field(field, value, message):
    shape, errors = home_logs.validate_home_log(home_logs.home_log_data(form(**{field: value})), today=TODAY)
    assert shape is None
    assert errors[field].startswith(message)


def test_a_decimal_comma_and_a_day_30_days_back_are_fine():
    shape = valid(minutes="10,5", session_date=(TODAY - timedelta(days=30)).isoformat())
    assert shape.minutes == 10.5


def test_correcting_within_24_hours_keeps_history_and_later_is_refused(session, patient, protocol):
    log = home_logs.create_home_log(session, patient=patient, protocol=protocol, form=valid(pain_worst="6"),
                                    link_id=None, now=NOW)
    changes = home_logs.correct_home_log(session, log=log, form=valid(pain_worst="3"), seen_version=1,
                                         now=NOW + timedelta(hours=23))
    session.commit()
    assert changes == {"pain_worst": [6, 3]} and log.version == 2
    record = session.exec(select(EditRecord).where(EditRecord.entity == "home_log")).one()
    assert (record.entity_id, record.user_id, json.loads(record.changes)) == (log.id, None, {"pain_worst": [6, 3]})
    with pytest.raises(StaleEdit):
        home_logs.correct_home_log(session, log=log, form=valid(pain_worst="4"), seen_version=1,
                                   now=NOW + timedelta(hours=23))
    with pytest.raises(home_logs.TooLate):
        home_logs.correct_home_log(session, log=log, form=valid(pain_worst="4"), seen_version=2,
                                   now=NOW + timedelta(hours=24))


def test_home_logs_become_home_session_reports_for_the_advice(session, patient, protocol):
    same_day = home_logs.create_home_log(session, patient=patient, protocol=protocol, link_id=None, now=NOW,
                                         form=valid(pain_worst="4", stumbled="yes", flag_calf="1"))
    home_logs.create_home_log(session, patient=patient, protocol=protocol, link_id=None, now=NOW,
                              form=valid(session_date=(TODAY - timedelta(days=3)).isoformat()))
    home_logs.create_home_log(session, patient=patient, protocol=protocol, link_id=None, now=NOW - timedelta(days=30),
                              form=valid(session_date=(TODAY - timedelta(days=30)).isoformat()))
    session.commit()
    reports = [report for report in gather(session, patient=patient, protocol=protocol, now=NOW).sessions
               if report.source == "home"]  # the advice window: 28 days
    assert [report.at for report in reports] == [datetime.combine(TODAY - timedelta(days=3), datetime.min.time(),
                                                                  tzinfo=UTC) + timedelta(hours=12), NOW]
    latest = reports[-1]
    assert (latest.source, latest.pain_worst, latest.stumbles, latest.falls, latest.red_flags, latest.minutes) == \
        ("home", 4, 1, 0, ("flag_calf",), 10)
    assert home_logs.session_time(same_day) == NOW


def test_alerts_from_a_home_log_carry_its_id_and_are_not_raised_twice(session, patient, protocol):
    log = home_logs.create_home_log(session, patient=patient, protocol=protocol, form=valid(fell="yes", flag_chest="1"),
                                    link_id=None, now=NOW)
    first = home_logs.raise_home_alerts(session, log=log, previous=None, ceiling=5, now=NOW)
    again = home_logs.raise_home_alerts(session, log=log, previous=None, ceiling=5, now=NOW)
    session.commit()
    assert sorted(alert.kind for alert in first) == ["fall", "red_flag"] and again == []
    assert {alert.home_log_id for alert in session.exec(select(Alert))} == {log.id}


def test_pain_above_the_ceiling_twice_counts_the_previous_session(session, patient, protocol):
    earlier = home_logs.create_home_log(session, patient=patient, protocol=protocol, form=valid(pain_worst="7"),
                                        link_id=None, now=NOW - timedelta(days=1))
    log = home_logs.create_home_log(session, patient=patient, protocol=protocol, form=valid(pain_worst="6"),
                                    link_id=None, now=NOW)
    previous = home_logs.previous_report([home_logs.report_of_log(earlier)], before=home_logs.session_time(log))
    alerts = home_logs.raise_home_alerts(session, log=log, previous=previous, ceiling=5, now=NOW)
    assert [alert.kind for alert in alerts] == ["pain_twice"]
    assert session.exec(select(HomeLog)).all()


def test_the_patient_reads_the_phase_in_their_language():
    content = content_from_template(templates()["knee_oa"])
    assert patient_text.phase_text(content.phases[0], template_key="knee_oa", language="es")["name"] == "Aprender"
    renamed = content.phases[0].model_copy(update={"name": "Getting started"})
    assert patient_text.phase_text(renamed, template_key="knee_oa", language="es")["name"] == "Getting started"
    items = patient_text.exercise_items(content.phases[0], language="es", speed_unit="kmh")
    assert items[0]["sentence"].startswith("Camine hacia atrás en la caminadora")
    assert items[0]["illustration"].lstrip().startswith("<svg")
    assert home_logs.home_ceiling(content.phases[2]) == 5



def test_the_token_is_derived_from_the_secret_and_only_its_hash_is_stored(session, patient):
    link, token = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET)
    assert portal_links.derive_token(SECRET, link) == token  # the server can print it again (QR on the sheet)
    assert portal_links.derive_token("another-secret-key-0123456789-abcdef", link) != token  # nobody else can
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
    assert len(token) >= 43  # 256 bits, URL-safe


def test_the_therapists_table_shows_the_newest_home_logs_with_the_patients_corrections(session, patient, protocol):
    logs = [home_logs.create_home_log(session, patient=patient, protocol=protocol, link_id=None, now=NOW,
                                      form=valid(session_date=(TODAY - timedelta(days=days)).isoformat()))
            for days in (3, 2, 1)]
    home_logs.correct_home_log(session, log=logs[2], form=valid(session_date=(TODAY - timedelta(days=1)).isoformat(),
                                                                pain_worst="5"), seen_version=1, now=NOW)
    session.commit()
    newest_two = home_logs.home_log_table(session, patient_id=patient.id, limit=2)
    assert [row.id for row in newest_two.rows] == [logs[2].id, logs[1].id] and newest_two.more
    assert newest_two.rows[0].pain_worst == 5 and newest_two.rows[0].corrections == [(NOW, {"pain_worst": [3, 5]})]
    assert newest_two.rows[1].corrections == []
    everything = home_logs.home_log_table(session, patient_id=patient.id)
    assert len(everything.rows) == 3 and not everything.more


def test_the_share_card_says_whether_the_current_link_works(session, patient, protocol):
    assert portal_links.link_card(session, patient_id=patient.id, now=NOW) is None
    link, _ = portal_links.issue_link(session, patient=patient, user_id=None, now=NOW, secret=SECRET,
                                      require_birth_date=True)
    card = portal_links.link_card(session, patient_id=patient.id, now=NOW)
    assert (card.id, card.status, card.expires_at, card.require_birth_date) == \
        (link.id, "ok", NOW + timedelta(days=180), True)
    assert portal_links.link_card(session, patient_id=patient.id, now=NOW + timedelta(days=181)).status == "expired"
    portal_links.revoke(session, link=link, now=NOW)
    assert portal_links.link_card(session, patient_id=patient.id, now=NOW) is None  # a revoked link is no card


# ------------------------------------------------------------------------------------------- the portal's stop


def test_the_portals_stop_reads_the_same_uncleared_sessions_as_the_advice(session, patient, protocol):
    """``uncleared_stops`` (what the portal asks on every page) answers as ``gather(...).uncleared`` did: old and
    new red flags and falls, at visits and at home, a deleted visit, a clearance and what was recorded after it."""
    def both() -> tuple[list[object], list[object]]:
        session.expire_all()
        return (uncleared_stops(session, patient_id=patient.id),
                gather(session, patient=patient, protocol=protocol, now=NOW).uncleared)

    assert both() == ([], [])
    factories.visit(session, patient, protocol, at=NOW - timedelta(days=1))  # nothing to stop for
    factories.home_log(session, patient, protocol, day=TODAY - timedelta(days=2))
    assert both() == ([], [])
    factories.visit(session, patient, protocol, at=NOW - timedelta(days=60), recorded=NOW - timedelta(days=60),
                    falls=1)  # long before the advice window: still stops
    factories.visit(session, patient, protocol, at=NOW - timedelta(days=3), recorded=NOW - timedelta(days=3),
                    flag_calf=True, flag_chest=True)
    factories.visit(session, patient, protocol, at=NOW - timedelta(days=4), flag_locking=True,
                    deleted_at=NOW - timedelta(days=1))
    factories.home_log(session, patient, protocol, day=TODAY - timedelta(days=5), recorded=NOW - timedelta(days=2),
                       fell=True, flag_sudden_pain=True)
    fast, advice = both()
    assert fast == advice and len(fast) == 3
    session.add(RedFlagClearance(patient_id=patient.id, clinic_id=patient.clinic_id, action="cleared", note="ok",
                                 covers="[]", at=NOW - timedelta(days=2, hours=12)))
    session.add(RedFlagClearance(patient_id=patient.id, clinic_id=patient.clinic_id, action="called", note="-",
                                 covers="[]", at=NOW - timedelta(hours=1)))  # a call clears nothing
    session.commit()
    fast, advice = both()
    assert fast == advice and [report.source for report in fast] == ["home"]  # recorded after the clearing
    factories.home_log(session, patient, protocol, day=TODAY - timedelta(days=10), recorded=NOW,
                       flag_infection=True)  # back-dated, recorded after the clearing: not covered by it
    fast, advice = both()
    assert fast == advice and len(fast) == 2
