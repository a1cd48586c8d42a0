"""A form sent twice applies once, for every state-changing route the app has.

The routes come from the app's URL map, as in tests/test_access.py: a POST route added later without a case
here (or a reasoned place in ALLOWED) fails ``test_every_post_route_has_a_case`` by name. Each case posts
the same form twice, one after the other and then at once from two threads, and finds one change: the rows
one post adds and no more, the state one post leaves, and for the second post the "Already saved" answer
(or, where the route's answer is a download, the first post's download again).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from rehab.models import (
    AdviceDecision,
    Alert,
    ApiClient,
    Assessment,
    Clinic,
    ClinicTemplate,
    HandoutPrint,
    HomeLog,
    Membership,
    Patient,
    PortalCalendar,
    PortalDevice,
    PortalLink,
    Protocol,
    QuestionnaireResponse,
    RedFlagClearance,
    ReportPrint,
    User,
    Visit,
    utcnow,
)
from rehab.services import api_clients, portal_devices, portal_links, questionnaire_records
from rehab.services.advice.decisions import record_decision
from rehab.services.advice.inputs import advice_for
from rehab.services.assessments import latest_screen, patient_facts
from rehab.services.catalogue import templates
from rehab.services.passwords import verify_password
from rehab.services.protocol_content import content_from_template
from rehab.services.protocol_records import save_clinic_template
from tests import factories
from tests.conftest import PASSWORD, SECRET, form_fields, sign_in
from tests.test_access import POST_RULES

pytestmark = pytest.mark.db

# POST routes whose second post changes nothing by their nature, so they carry no one-time form id.
ALLOWED = {
    # Each sign-in is a new session by design; a repeat signs in again and ends the session the first one
    # started (one live session), and records nothing about patients.
    "auth.login": "a repeat is a new sign-in that ends the first one's session",
    "auth.logout": "ending a session that has ended changes nothing",
    "auth.switch_clinic": "sets the session's clinic to the chosen one; a repeat sets the same clinic",
    "auth.stay_signed_in": "moves the session's last activity to now; a repeat moves it to now again",
    "portal.leave": "closing a closed patient page changes nothing",
    "portal.language": "sets a preference in the phone's own cookie to the chosen value",
    "portal.text_size": "sets a preference in the phone's own cookie to the chosen value",
}
# Tables a request touches whatever it does: the signed-in session's "last seen" time and sign-in attempts.
BOOKKEEPING = {"user_session", "login_attempt"}


@dataclass
class World:
    """Real rows for every form to act on: a clinic, its admin (signed in) and a therapist, a colleague who
    works in another clinic, a patient with a fall-risk screen and an active protocol, a visit, an
    unacknowledged alert, a home session logged through the patient's link, an earlier print and a clinic
    template; ``phone`` is the patient's phone with the link open."""

    app: Flask
    clinic: Any
    admin: Any
    therapist: Any
    colleague: Any
    patient: Any
    protocol: Any
    screen: Any
    visit: Any
    alert: Any
    home_log: Any
    earlier_print: Any
    template: Any
    client: FlaskClient
    phone: FlaskClient
    made: dict[str, Any] = field(default_factory=dict)  # rows a case's ``prepare`` made for its form

    @property
    def p(self) -> str:
        return f"/patients/{self.patient.id}"


def _visit_form(**overrides: str) -> dict[str, str]:
    moment = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"occurred_at": moment, "pain_before": "1", "pain_worst": "2", "pain_after": "1", "soreness": "none",
            "effusion": "0", "exercise": "treadmill_rails", "minutes": "5", "speed": "1.2", "incline_pct": "0",
            "support": "both_rails", "stumbles": "0", "falls": "0"}
    return {**form, **overrides}


def _log_form(**overrides: str) -> dict[str, str]:
    form = {"session_date": datetime.now(UTC).date().isoformat(), "minutes": "10", "pain_worst": "3",
            "soreness": "none", "stumbled": "no", "fell": "no", "note": ""}
    return {**form, **overrides}


@pytest.fixture
def world(app, db, clinic, admin, make_user, make_clinic, make_patient, client) -> World:  # type: ignore[no-untyped-def]
    therapist = make_user("pat.therapist@clinic.example", clinics=[clinic], name="Pat Therapist")
    colleague = make_user("sam.colleague@clinic.example", clinics=[make_clinic("Hillside PT")], name="Sam Colleague")
    patient = make_patient(clinic, chart_number="RV-1")
    protocol = factories.protocol(db, patient, days_ago=21, user_id=admin.id)
    now = utcnow()
    visit = factories.visit(db, patient, protocol, at=now - timedelta(days=2), created_by_id=admin.id)
    alert = Alert(clinic_id=clinic.id, patient_id=patient.id, kind="pain_twice",
                  message="Pain above the ceiling twice.", created_at=now)
    template = save_clinic_template(db, clinic_id=clinic.id, name="Our knee plan", condition="knee_oa",
                                    content=content_from_template(templates()["knee_oa"]), user_id=admin.id, now=now)
    # A low-risk fall screen: the builder saves only for a screened patient.
    screen = Assessment(patient_id=patient.id, clinic_id=clinic.id, occurred_at=now - timedelta(days=22),
                        backward_walk_3m_s=3.0, tug_s=9.0, created_by_id=admin.id)
    db.add_all([alert, screen])
    db.commit()
    link, token = portal_links.issue_link(db, patient=patient, user_id=admin.id, now=now, secret=SECRET)
    db.commit()
    home_log = factories.home_log(db, patient, protocol, day=now.date(), recorded=now, minutes=10, link_id=link.id)
    assert sign_in(client, admin.email).status_code == 302
    response = client.post(f"/patients/{patient.id}/sheet",
                           data={**form_fields(client.get(f"/patients/{patient.id}/sheet").get_data(as_text=True)),
                                 "paper": "letter", "language": "en"})
    assert response.status_code == 303
    earlier_print = db.exec(select(HandoutPrint)).one()
    phone = app.test_client()
    assert phone.get(f"/p/{token}").status_code == 302
    db.rollback()
    return World(app, clinic, admin, therapist, colleague, patient, protocol, screen, visit, alert, home_log,
                 earlier_print, template, client, phone)


class _Forms(HTMLParser):
    """The posting forms of a page, each as what a browser would send without touching it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form" and found.get("method", "").lower() == "post":
            self.forms.append((found.get("action", ""), {}))
        if not self.forms or "name" not in found:
            if tag == "option" and self._select and ("selected" in found or self._select not in self.forms[-1][1]):
                self.forms[-1][1][self._select] = found.get("value", "")
            return
        fields = self.forms[-1][1]
        kind = found.get("type", "text")
        if tag == "input" and kind not in ("submit", "button") and (
                kind not in ("checkbox", "radio") or "checked" in found):
            fields[found["name"]] = found.get("value", "")
        elif tag == "select":
            self._select = found["name"]
        elif tag == "textarea":
            fields.setdefault(found["name"], "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def page_form(html: str, action: str, page: str, has: dict[str, str]) -> dict[str, str]:
    """The form of the page that posts to ``action`` (and has the hidden values ``has``)."""
    parser = _Forms()
    parser.feed(html)
    for target, fields in parser.forms:
        if (target or page).split("?")[0] == action and all(fields.get(k) == v for k, v in has.items()):
            return fields
    raise AssertionError(f"no form posting to {action} on {page}")


@dataclass
class Case:
    """One route's form: the page it is on, where it posts, what it sends besides what the page filled in,
    what one post adds (rows per table; every other table keeps its count) and the state one post leaves."""

    page: Callable[[World], str]
    post: Callable[[World], str]
    grows: dict[str, int]
    data: Callable[[World], dict[str, str]] = lambda world: {}
    check: Callable[[World, Session], None] = lambda world, db: None
    prepare: Callable[[World, Session], None] = lambda world, db: None
    has: dict[str, str] = field(default_factory=dict)  # picks one of several forms posting to the same place
    patient: bool = False  # posted from the patient's phone
    download: bool = False  # the answer is the first post's download again, not the "Already saved" page
    status: int | None = None  # the first post's answer when it is not a redirect (a refused birth date)
    repeat: Callable[[Any], bool] | None = None  # what the second post answers, when not "Already saved"


def _count(db: Session, model: type[SQLModel], *where: Any) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def _visits(world: World, db: Session) -> None:
    assert _count(db, Visit, Visit.patient_id == world.patient.id) == 2  # the fixture's visit and one new


NEW_PASSWORD = "a walk by the river at dawn"
ONE = {"audit_event": 1, "form_submission": 1}  # what every applied form adds: its audit event and its id


def _fresh(db: Session, model: type[SQLModel], row_id: int) -> Any:
    db.expire_all()
    return db.get(model, row_id)


def _unarchive(world: World, db: Session) -> None:
    patient = db.get(Patient, world.patient.id)
    patient.archived_at = utcnow()  # type: ignore[union-attr]
    db.add(patient)


def _seen_today(world: World, db: Session) -> None:
    """The patient had a visit a moment ago, so the dashboard offers today's sheets (an hour ago would be
    yesterday in the first hour of the day)."""
    visit = db.get(Visit, world.visit.id)
    visit.occurred_at = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
    db.add(visit)


def _pending_phone(world: World, db: Session) -> None:
    """The patient's phone opens a link that asks for the date of birth first."""
    _, token = portal_links.issue_link(db, patient=world.patient, user_id=world.admin.id, now=utcnow(),
                                       secret=SECRET, require_birth_date=True)
    db.commit()
    assert world.phone.get(f"/p/{token}").status_code == 302


def _remembered_phone(world: World, db: Session) -> None:
    """The patient chose "Remember this phone" on a phone (the share card lists it)."""
    link = db.exec(select(PortalLink).where(col(PortalLink.revoked_at).is_(None))).one()
    device, _token = portal_devices.remember(db, link=link, now=utcnow(), user_agent="Android Chrome/131.0")
    world.made["device"] = device.id


def _api_client(world: World, db: Session) -> None:
    client, _ = api_clients.create_client(db, clinic_id=world.clinic.id, name="Hospital records", scope="read",
                                          user_id=world.admin.id, now=utcnow())
    world.made["api_client"] = client.id


def _earlier_report(world: World, db: Session) -> None:
    """A progress report printed before, with its assessment and plan."""
    snapshot = {"layout": "1", "options": {"paper": "letter", "language": "en"}, "assessment": "Improving.",
                "plan": "Continue."}
    report = ReportPrint(patient_id=world.patient.id, clinic_id=world.clinic.id, options='{"paper": "letter"}',
                         assessment="Improving.", plan="Continue.", snapshot=json.dumps(snapshot), digest="0" * 64,
                         printed_by_id=world.admin.id)
    db.add(report)
    db.flush()
    world.made["report"] = report.id


def _red_flag(world: World, db: Session) -> None:
    """The visit two days ago reported calf pain, not yet cleared."""
    visit = db.get(Visit, world.visit.id)
    visit.flag_calf = True  # type: ignore[union-attr]
    db.add(visit)


def _nothing_waiting(world: World, db: Session) -> None:
    """No questionnaire waits for the patient (the link's first opening sends the scheduled ones)."""
    for response in db.exec(select(QuestionnaireResponse)):
        db.delete(response)


def _waiting_lefs(world: World, db: Session) -> None:
    """A LEFS waits for the patient, nothing answered yet."""
    _nothing_waiting(world, db)
    db.flush()
    response, _ = questionnaire_records.send(db, patient_id=world.patient.id, clinic_id=world.clinic.id,
                                             protocol_id=world.protocol.id, instrument="lefs", now=utcnow(),
                                             user_id=world.admin.id)
    world.made["response"] = response.id


def _walked_yesterday(world: World, db: Session) -> None:
    """The home session was yesterday: "My exercises" asks how the knee is this morning."""
    log = db.get(HomeLog, world.home_log.id)
    log.session_date = utcnow().date() - timedelta(days=1)  # type: ignore[union-attr]
    db.add(log)


def _questionnaire_page(w: World) -> str:
    return f"/p/questionnaires/{w.made['response']}"


def _answered(world: World, db: Session) -> None:
    response = _fresh(db, QuestionnaireResponse, world.made["response"])
    assert questionnaire_records.answers_of(response) == {item: 3 for item in range(1, 6)}
    assert response.version == 2  # saved once


def _is_admin(world: World, db: Session, user: Any) -> bool | None:
    db.expire_all()
    membership = db.get(Membership, (user.id, world.clinic.id))
    return None if membership is None else membership.is_admin


def _members(w: World) -> str:
    return f"/admin/clinics/{w.clinic.id}"


def _overridden(world: World, db: Session) -> None:
    """The signed-in admin overrode the advice a moment ago (the card offers them its undo)."""
    patient, protocol = db.get(Patient, world.patient.id), db.get(Protocol, world.protocol.id)
    assert patient is not None and protocol is not None
    context = advice_for(db, patient=patient, protocol=protocol, now=utcnow())
    facts = patient_facts(patient, latest_screen(db, patient_id=patient.id), today=utcnow().date())
    world.made["decision"] = record_decision(db, patient=patient, protocol=protocol, context=context, accepted=False,
                                             reason="Travelling next week", user_id=world.admin.id, now=utcnow(),
                                             facts=facts).id


def _protocol_page(w: World) -> str:
    return f"{w.p}/protocols/{w.protocol.id}"


CASES: dict[str, Case] = {
    "visits.create": Case(
        page=lambda w: f"{w.p}/visits/new", post=lambda w: f"{w.p}/visits/new", data=lambda w: _visit_form(),
        grows={"visit": 1, **ONE}, check=_visits),
    "visits.edit": Case(
        page=lambda w: f"{w.p}/visits/{w.visit.id}/edit", post=lambda w: f"{w.p}/visits/{w.visit.id}/edit",
        data=lambda w: {"minutes": "7"}, grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, Visit, w.visit.id).minutes == 7)),
    "visits.delete": Case(
        page=lambda w: f"{w.p}/visits/{w.visit.id}/edit", post=lambda w: f"{w.p}/visits/{w.visit.id}/delete",
        data=lambda w: {"reason": "Entered for the wrong patient"}, grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, Visit, w.visit.id).deleted_at is not None)),
    "visits.decide": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/advice", has={"decision": "override"},
        data=lambda w: {"reason": "Flare-up after gardening"}, grows={"advice_decision": 1, **ONE}),
    "visits.undo": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/advice/{w.made['decision']}/undo", prepare=_overridden, grows=ONE,
        check=lambda w, db: _check(_fresh(db, AdviceDecision, w.made["decision"]).undone_at is not None)),
    "visits.acknowledge": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/alerts/{w.alert.id}/ack", grows=ONE,
        check=lambda w, db: _check(_fresh(db, Alert, w.alert.id).acknowledged_at is not None)),
    "dashboard.acknowledge_inactive": Case(
        page=lambda w: "/dashboard", post=lambda w: f"{w.p}/inactive/ack", grows={"alert": 1, **ONE}),
    "patients.create": Case(
        page=lambda w: "/patients/new", post=lambda w: "/patients/new",
        data=lambda w: {"first_name": "Nora", "last_name": "Quinn", "date_of_birth": "1950-01-02",
                        "affected_knee": "left", "condition": "knee_oa", "language": "en"},  # no chart number
        # The form assigns the patient to whoever adds them: its own audit event.
        grows={"patient": 1, **ONE, "audit_event": 2},
        check=lambda w, db: _check(_count(db, Patient, Patient.last_name == "Quinn") == 1)),
    "patients.edit": Case(
        page=lambda w: f"{w.p}/edit", post=lambda w: f"{w.p}/edit", data=lambda w: {"last_name": "Okafor-Reyes"},
        grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, Patient, w.patient.id).version == 2)),
    "patients.archive": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/archive", grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, Patient, w.patient.id).archived_at is not None)),
    "patients.unarchive": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/unarchive", grows={"edit_record": 1, **ONE},
        prepare=_unarchive, check=lambda w, db: _check(_fresh(db, Patient, w.patient.id).archived_at is None)),
    "protocols.build": Case(
        page=lambda w: f"{w.p}/protocols/new/build?source=builtin:knee_oa",
        post=lambda w: f"{w.p}/protocols/new/build", data=lambda w: {"action": "save"},
        grows={"protocol": 1, "protocol_version": 1, "phase_plan": 3, **ONE},  # knee OA: three phases
        check=lambda w, db: _check(_count(db, Protocol, Protocol.status == "active") == 1)),
    "protocols.edit": Case(
        page=lambda w: f"{_protocol_page(w)}/edit", post=lambda w: f"{_protocol_page(w)}/edit",
        data=lambda w: {"action": "save", "title": "Knee plan, slower"},
        grows={"protocol_version": 1, "phase_plan": 3, **ONE},
        check=lambda w, db: _check(_fresh(db, Protocol, w.protocol.id).latest_version == 2)),
    "protocols.move_phase": Case(
        page=_protocol_page, post=lambda w: f"{_protocol_page(w)}/phase",
        data=lambda w: {"to_phase": "1", "reason": "Two sessions within the pain rules"},
        grows={"phase_change": 1, **ONE},
        # Phase 2, not 3: the second post does not move the patient again.
        check=lambda w, db: _check(_fresh(db, Protocol, w.protocol.id).current_phase == 1)),
    "protocols.end": Case(
        page=_protocol_page, post=lambda w: f"{_protocol_page(w)}/end", data=lambda w: {"reason": "Discharged"},
        grows=ONE, check=lambda w, db: _check(_fresh(db, Protocol, w.protocol.id).status == "ended")),
    "protocols.save_template": Case(
        page=_protocol_page, post=lambda w: f"{_protocol_page(w)}/save-template",
        data=lambda w: {"name": "Second plan"}, grows={"clinic_template": 1, **ONE}),
    "handouts.print_sheet": Case(
        page=lambda w: f"{w.p}/sheet", post=lambda w: f"{w.p}/sheet", grows={"handout_print": 1, **ONE}),
    "handouts.reprint": Case(
        page=lambda w: f"{w.p}/sheet", post=lambda w: f"{w.p}/sheets/{w.earlier_print.id}",
        grows={"handout_print": 1, **ONE}),
    # A batch is a print job: its sheet is printed (and audited) by the render worker, here in the request's end.
    "handouts.batch": Case(
        page=lambda w: "/dashboard", post=lambda w: "/dashboard/sheets", prepare=_seen_today,
        grows={"print_job": 1, "print_job_item": 1, "handout_print": 1, "audit_event": 2, "form_submission": 1}),
    "print_jobs.start": Case(
        page=lambda w: "/print-jobs/", post=lambda w: "/print-jobs/", data=lambda w: {"scope": "caseload"},
        grows={"print_job": 1, "print_job_item": 1, "handout_print": 1, "audit_event": 2, "form_submission": 1}),
    "handouts.report": Case(
        page=lambda w: f"{w.p}/report", post=lambda w: f"{w.p}/report",
        data=lambda w: {"assessment": "Pain settled; walking longer.", "plan": "Continue phase 1."},
        grows={"report_print": 1, **ONE}),
    "handouts.report_reprint": Case(
        page=lambda w: f"{w.p}/report", post=lambda w: f"{w.p}/reports/{w.made['report']}", prepare=_earlier_report,
        grows={"report_print": 1, **ONE}),
    "portal.sheet": Case(
        page=lambda w: "/p/home", post=lambda w: "/p/sheet", grows={"handout_print": 1, **ONE}, patient=True,
        download=True),
    "sharing.share": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/portal/share", grows={"portal_link": 1, **ONE},
        prepare=lambda w, db: portal_links.revoke(db, link=db.exec(select(PortalLink)).one(), now=utcnow())),
    "sharing.rotate": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/portal/rotate", grows={"portal_link": 1, **ONE}),
    "sharing.revoke": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/portal/revoke", grows=ONE,
        check=lambda w, db: _check(_count(db, PortalLink, col(PortalLink.revoked_at).is_(None)) == 0)),
    "admin.new_user": Case(
        page=lambda w: "/admin/users/new", post=lambda w: "/admin/users/new",
        data=lambda w: {"email": "nia.new@clinic.example", "name": "Nia New", "password": "a long new password 123"},
        grows={"user_account": 1, "membership": 1, **ONE}),
    "admin.set_active": Case(
        page=lambda w: "/admin/users", post=lambda w: f"/admin/users/{w.therapist.id}/active", has={"active": "0"},
        grows=ONE, check=lambda w, db: _check(not _fresh(db, User, w.therapist.id).is_active)),
    "admin.reset_password": Case(
        page=lambda w: f"/admin/users/{w.therapist.id}/password",
        post=lambda w: f"/admin/users/{w.therapist.id}/password",
        data=lambda w: {"password": "another long password 456"}, grows=ONE),
    "account.change_password": Case(
        page=lambda w: "/account", post=lambda w: "/account/password",
        data=lambda w: {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
        grows=ONE, check=lambda w, db: _check(verify_password(w.app.extensions["rehab.hasher"],
                                                              _fresh(db, User, w.admin.id).password_hash,
                                                              NEW_PASSWORD))),
    "admin.clinic": Case(
        page=lambda w: "/admin/clinic", post=lambda w: "/admin/clinic", data=lambda w: {"phone": "555-0199"},
        grows=ONE),
    "admin.update_template": Case(
        page=lambda w: "/admin/templates", post=lambda w: f"/admin/templates/{w.template.id}",
        has={"action": "rename"}, data=lambda w: {"name": "Renamed plan"}, grows=ONE,
        check=lambda w, db: _check(_fresh(db, ClinicTemplate, w.template.id).name == "Renamed plan")),
    "assessments.create": Case(
        page=lambda w: f"{w.p}/assessments/new", post=lambda w: f"{w.p}/assessments/new",
        data=lambda w: {"tug_s": "10.5"}, grows={"assessment": 1, **ONE},
        check=lambda w, db: _check(_count(db, Assessment, Assessment.tug_s == 10.5) == 1)),
    "assessments.remove": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/assessments/{w.screen.id}/remove",
        data=lambda w: {"reason": "Entered for the wrong patient"}, grows=ONE,
        check=lambda w, db: _check(_fresh(db, Assessment, w.screen.id).deleted_at is not None)),
    "questionnaires.send": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/questionnaires/send", prepare=_nothing_waiting,
        has={"instrument": "lefs"}, grows={"questionnaire_response": 1, **ONE},
        check=lambda w, db: _check(_count(db, QuestionnaireResponse, QuestionnaireResponse.instrument == "lefs") == 1)),
    "questionnaires.total": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/questionnaires/total",
        data=lambda w: {"instrument": "oxford_knee", "total": "31", "taken_on": utcnow().date().isoformat()},
        grows={"questionnaire_response": 1, **ONE},
        check=lambda w, db: _check(_count(db, QuestionnaireResponse, QuestionnaireResponse.score == 31) == 1)),
    "red_flags.clear": Case(
        page=lambda w: f"{w.p}/red-flags", post=lambda w: f"{w.p}/red-flags", prepare=_red_flag,
        data=lambda w: {"action": "called", "note": "Called: calf pain gone, no swelling"},
        grows={"red_flag_clearance": 1, **ONE},
        check=lambda w, db: _check(_count(db, RedFlagClearance) == 1)),
    "admin.clinics": Case(
        page=lambda w: "/admin/clinics", post=lambda w: "/admin/clinics", data=lambda w: {"name": "Cedar PT"},
        # Audited in both clinics; the new clinic's data generation begins (services/clinic_changes.py).
        grows={"clinic": 1, "membership": 1, **ONE, "audit_event": 2, "clinic_generation": 1},
        check=lambda w, db: _check(_count(db, Clinic, Clinic.name == "Cedar PT") == 1)),
    "admin.add_member": Case(
        page=_members, post=lambda w: f"{_members(w)}/members", data=lambda w: {"email": w.colleague.email},
        grows={"membership": 1, **ONE}, check=lambda w, db: _check(_is_admin(w, db, w.colleague) is False)),
    "admin.change_member": Case(
        page=_members, post=lambda w: f"{_members(w)}/members/{w.therapist.id}", has={"action": "make_admin"},
        grows=ONE, check=lambda w, db: _check(_is_admin(w, db, w.therapist) is True)),
    "api_clients.create": Case(
        page=lambda w: "/admin/api-clients", post=lambda w: "/admin/api-clients",
        data=lambda w: {"name": "Hospital records", "scope": "read"}, grows={"api_client": 1, **ONE},
        check=lambda w, db: _check(_count(db, ApiClient) == 1)),
    "api_clients.revoke": Case(
        page=lambda w: "/admin/api-clients", post=lambda w: f"/admin/api-clients/{w.made['api_client']}/revoke",
        prepare=_api_client, grows=ONE,
        check=lambda w, db: _check(_fresh(db, ApiClient, w.made["api_client"]).revoked_at is not None)),
    "portal.log": Case(
        # The knee-OA plan's first phase is clinic-only: a home session alerts the therapist, once.
        page=lambda w: "/p/log", post=lambda w: "/p/log", data=lambda w: _log_form(), patient=True,
        grows={"home_log": 1, "alert": 1, **ONE},
        check=lambda w, db: _check(_count(db, HomeLog) == 2)),
    "portal.edit": Case(
        page=lambda w: f"/p/log/{w.home_log.id}/edit", post=lambda w: f"/p/log/{w.home_log.id}/edit",
        data=lambda w: {"minutes": "12"}, patient=True, grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, HomeLog, w.home_log.id).minutes == 12)),
    "portal.morning": Case(
        page=lambda w: "/p/home", post=lambda w: "/p/morning", prepare=_walked_yesterday, patient=True,
        data=lambda w: {"log_id": str(w.home_log.id), "pain": "3", "sore": "no"}, grows={"edit_record": 1, **ONE},
        check=lambda w, db: _check(_fresh(db, HomeLog, w.home_log.id).pain_next_morning == 3)),
    "portal.answer": Case(
        page=_questionnaire_page, post=_questionnaire_page, prepare=_waiting_lefs, patient=True,
        data=lambda w: {**{f"item-{n}": "3" for n in range(1, 6)}, "action": "next"},
        grows=ONE, check=_answered),  # the answers are kept on the questionnaire's row
    "portal.reminders": Case(
        page=lambda w: "/p/reminders", post=lambda w: "/p/reminders", data=lambda w: {"reminder_time": "18:30"},
        patient=True, grows={"portal_calendar": 1, **ONE},
        check=lambda w, db: _check(db.exec(select(PortalCalendar)).one().reminder_time == time(18, 30))),
    "portal.code": Case(
        page=lambda w: "/p/code", post=lambda w: "/p/code", data=lambda w: {"code": "ZZZZ-ZZZZ"}, patient=True,
        status=422, grows=ONE,  # a wrong code: one try towards the limits (login_attempt), not two
        repeat=lambda second: second.status_code == 422 and "does not match" in second.get_data(as_text=True)),
    "portal.remember": Case(
        page=lambda w: "/p/home", post=lambda w: "/p/remember", data=lambda w: {"remember": "1"}, patient=True,
        grows={"portal_device": 1, **ONE}),
    "sharing.forget_phone": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/portal/phones/{w.made['device']}/forget",
        prepare=_remembered_phone, grows=ONE,
        check=lambda w, db: _check(_fresh(db, PortalDevice, w.made["device"]).forgotten_at is not None)),
    "sharing.forget_all_phones": Case(
        page=lambda w: w.p, post=lambda w: f"{w.p}/portal/phones/forget", prepare=_remembered_phone, grows=ONE,
        check=lambda w, db: _check(_fresh(db, PortalDevice, w.made["device"]).forgotten_at is not None)),
    "portal.check": Case(
        page=lambda w: "/p/check", post=lambda w: "/p/check", prepare=_pending_phone, patient=True, status=422,
        repeat=lambda second: second.status_code == 302 and second.headers["Location"] == "/p/check",
        data=lambda w: {"day": "1", "month": "1", "year": "1990"}, grows=ONE,  # a wrong date: one try, not two
        check=lambda w, db: _check(db.exec(select(PortalLink).where(col(PortalLink.revoked_at).is_(None))).one()
                                   .birth_date_failures == 1)),
}


def _check(condition: bool) -> None:
    assert condition


def _snapshot(db: Session) -> dict[str, list[tuple]]:
    db.expire_all()
    state = {table.name: [tuple(row) for row in db.execute(sa_select(table).order_by(*table.primary_key.columns))]
             for table in SQLModel.metadata.sorted_tables if table.name not in BOOKKEEPING}
    db.rollback()
    return state


def _growth(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, int]:
    return {name: len(after[name]) - len(rows) for name, rows in before.items() if len(after[name]) != len(rows)}


def _form(world: World, db: Session, case: Case) -> tuple[FlaskClient, str, dict[str, str]]:
    """The browser that posts, the URL, and the form as its page rendered it, with the case's answers."""
    case.prepare(world, db)
    db.commit()
    browser = world.phone if case.patient else world.client
    page = browser.get(case.page(world), follow_redirects=True)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    url = case.post(world)
    fields = page_form(page.get_data(as_text=True), url, page.request.path, case.has)
    assert "form_id" in fields, f"the form posting to {url} carries no one-time form id"
    return browser, url, {**fields, **case.data(world)}


def _is_repeat_answer(case: Case, first: Any, second: Any) -> bool:
    if case.repeat is not None:
        return case.repeat(second)
    if case.download:
        return second.status_code == first.status_code and second.headers.get("Location") == \
            first.headers.get("Location")
    return second.status_code == 200 and "Already saved" in second.get_data(as_text=True)


def _twin(app: Flask, browser: FlaskClient) -> FlaskClient:
    """A second client with the same cookies: the same browser sending from a second connection."""
    twin = FlaskClient(app, app.response_class, use_cookies=True)
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = browser.get_cookie(name)
    assert cookie is not None
    twin.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)
    return twin


POSTED = [rule for rule in POST_RULES if rule.endpoint not in ALLOWED]


# Routes that are not forms (API requests without a page), each with the tests below that send one twice.
API = {"fhir.create_patient": ("test_a_fhir_patient_sent_twice_one_after_the_other_is_created_once",
                               "test_a_fhir_patient_sent_twice_at_once_is_created_once")}


# Routes that do not claim the one-time form id yet. Empty, and kept empty: a route named here fails the test
# below until it has ``once.claim`` in its view and a case above (then it comes off this list).
NOT_YET_COVERED: frozenset[str] = frozenset()


def test_every_post_route_has_a_case():
    """A new POST route needs a double-submit case here, or a reasoned place in ALLOWED."""
    endpoints = {rule.endpoint for rule in POST_RULES}
    missing = sorted(endpoints - set(CASES) - set(ALLOWED) - set(API))
    assert all(name in globals() for names in API.values() for name in names)
    assert not missing, f"POST routes with no double-submit case: {missing}"
    assert not NOT_YET_COVERED, f"routes that do not apply once: {sorted(NOT_YET_COVERED)}"
    assert not set(CASES) & set(ALLOWED)
    assert set(CASES) | set(ALLOWED) | set(API) <= endpoints  # no case for a route that is gone


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_the_same_form_twice_one_after_the_other_applies_once(world, db, endpoint):
    case = CASES[endpoint]
    browser, url, form = _form(world, db, case)
    before = _snapshot(db)
    first = browser.post(url, data=form)
    assert first.status_code == case.status if case.status else first.status_code < 400, \
        first.get_data(as_text=True)[:2000]
    once = _snapshot(db)
    assert _growth(before, once) == case.grows
    second = browser.post(url, data=form)
    assert _is_repeat_answer(case, first, second), second.get_data(as_text=True)[:2000]
    assert _snapshot(db) == once  # the second post changed nothing at all
    case.check(world, db)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_the_same_form_twice_at_once_applies_once(world, db, endpoint):
    case = CASES[endpoint]
    browser, url, form = _form(world, db, case)
    twin = _twin(world.app, browser)
    before = _snapshot(db)
    start = threading.Barrier(2)
    answers: list[Any] = []

    def send(sender: FlaskClient) -> None:
        start.wait()
        answers.append(sender.post(url, data=form))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in (browser, twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer.status_code < 500 for answer in answers), [a.get_data(as_text=True)[:500] for a in answers]
    assert _growth(before, _snapshot(db)) == case.grows
    case.check(world, db)


def test_a_phase_move_from_an_out_of_date_page_is_refused_with_the_current_phase(world, db):
    """Two therapists open the protocol in phase 1 and both press "Next phase": the patient goes to phase 2
    only, and the second is told the phase is now 2."""
    case = CASES["protocols.move_phase"]
    first_tab = _form(world, db, case)
    second_tab = _form(world, db, case)  # a second page, its own form id, also made in phase 1
    assert first_tab[2]["from_phase"] == second_tab[2]["from_phase"] == "0"
    assert first_tab[0].post(first_tab[1], data=first_tab[2]).status_code == 302
    refused = second_tab[0].post(second_tab[1], data=second_tab[2], follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "Not moved: this page showed phase 1, but the protocol is now in phase 2" in text
    assert _fresh(db, Protocol, world.protocol.id).current_phase == 1
    assert "Next phase (phase 2 to 3)" in text  # the page now offers the move from where the patient is


def test_a_red_flag_home_log_sent_twice_alerts_the_therapist_once(world, db):
    """From the patient's phone, a double tap on a session with calf pain: one entry, one alert."""
    case = CASES["portal.log"]
    browser, url, form = _form(world, db, case)
    form["flag_calf"] = "1"
    alerts = _count(db, Alert)
    db.rollback()
    first = browser.post(url, data=form)
    after_first = _count(db, Alert)
    db.rollback()
    second = browser.post(url, data=form, follow_redirects=True)
    assert first.status_code == 302 and "Already saved" in second.get_data(as_text=True)
    assert after_first > alerts and _count(db, Alert) == after_first and _count(db, HomeLog) == 2


def test_a_form_without_its_one_time_id_changes_nothing(world, db):
    """A post made without the page (or from a page older than this check) is refused, not applied."""
    before = _snapshot(db)
    fields = form_fields(world.client.get(f"{world.p}/visits/new", follow_redirects=True).get_data(as_text=True))
    answer = world.client.post(f"{world.p}/visits/new", data={**_visit_form(), "csrf_token": fields["csrf_token"]})
    assert answer.status_code == 400 and _snapshot(db) == before


def test_the_same_id_from_someone_else_is_not_shown_what_it_did(world, db, app, make_user):
    """A form id is shown only to whoever sent it: another therapist with a copy learns nothing."""
    browser, url, form = _form(world, db, CASES["patients.create"])
    assert browser.post(url, data=form).status_code == 302
    other_user = make_user("other@clinic.example", clinics=[world.clinic], name="Other Therapist")
    other = app.test_client()
    sign_in(other, other_user.email)
    token = form_fields(other.get("/patients/new", follow_redirects=True).get_data(as_text=True))["csrf_token"]
    answer = other.post(url, data={**form, "csrf_token": token})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "This form was already sent" in text and "/patients/2" not in text


def test_the_patient_reads_already_saved_in_their_language(world, db):
    case = CASES["portal.log"]
    fields = form_fields(world.phone.get("/p/home").get_data(as_text=True))
    world.phone.post("/p/language", data={**fields, "language": "es", "back": "/p/home"})
    browser, url, form = _form(world, db, case)
    assert browser.post(url, data=form).status_code == 302
    again = browser.post(url, data=form).get_data(as_text=True)
    assert "Ya está guardado" in again and "Ver lo que se guardó" in again


def _fhir_retry(world: World, db: Session) -> tuple[dict[str, str], dict[str, Any]]:
    """A records system's token and the transaction Bundle it sends (and sends again after a lost answer)."""
    from tests.test_fhir import new_patient_bundle, token_for

    return token_for(db, world.clinic), new_patient_bundle(patient_identifier=None)  # no chart number to clash


def test_a_fhir_patient_sent_twice_one_after_the_other_is_created_once(world, db):
    headers, bundle = _fhir_retry(world, db)
    patients = _count(db, Patient)
    db.rollback()
    first = world.app.test_client().post("/fhir/Patient", json=bundle, headers=headers)
    again = world.app.test_client().post("/fhir/Patient", json=bundle, headers=headers)
    assert first.status_code == 201 and again.status_code == 200, again.get_data(as_text=True)
    assert again.headers["Location"] == first.headers["Location"]  # the first one's patient, as a conditional create
    assert _count(db, Patient) == patients + 1
    other = dict(bundle, entry=[dict(bundle["entry"][0], resource=dict(bundle["entry"][0]["resource"],
                                                                         birthDate="1960-01-01")),
                                *bundle["entry"][1:]])
    assert world.app.test_client().post("/fhir/Patient", json=other, headers=headers).status_code == 201


def test_a_fhir_patient_sent_twice_at_once_is_created_once(world, db):
    headers, bundle = _fhir_retry(world, db)
    patients = _count(db, Patient)
    db.rollback()
    start = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        sender = world.app.test_client()
        start.wait()
        answers.append(sender.post("/fhir/Patient", json=bundle, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert _count(db, Patient) == patients + 1


def test_my_questionnaires_opened_twice_at_once_sends_each_scheduled_one_once(world, db):
    """Not a form but the same cause: opening "My questionnaires" sends the scheduled ones, read then written.
    Two taps at once send LEFS and the pain rating once each, and both pages open."""
    _nothing_waiting(world, db)
    db.commit()
    twin = _twin(world.app, world.phone)
    start = threading.Barrier(2)
    answers: list[int] = []

    def open_page(phone: FlaskClient) -> None:
        start.wait()
        answers.append(phone.get("/p/questionnaires").status_code)

    threads = [threading.Thread(target=open_page, args=(phone,)) for phone in (world.phone, twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.expire_all()
    assert answers == [200, 200]
    assert sorted(db.exec(select(QuestionnaireResponse.instrument)).all()) == ["lefs", "nprs"]
