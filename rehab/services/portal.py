"""The patient's personal link and the home sessions patients log through it (SECURITY.md 22-24).

A link is a random token; only its SHA-256 is stored, so a stolen database copy opens nothing. A link stops
working when it is revoked, rotated, locked (too many wrong birth dates), past its expiry, or when the patient
has no active protocol or is archived. Services add and flush; the view commits once. Messages meant for
patients are English msgids marked with ``N_`` and translated by the view, so this module stays Flask-free.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import ValidationError, ValidationInfo, field_validator
from sqlalchemy import bindparam, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from rehab.models import Alert, Clinic, EditRecord, HomeLog, LoginAttempt, Patient, PortalLink, Protocol
from rehab.services.advice.engine import RED_FLAGS, SessionReport, alerts_for
from rehab.services.catalogue import exercises, illustration_svg, templates
from rehab.services.dose import dose_sentence
from rehab.services.last_session import note_session
from rehab.services.protocols import Phase
from rehab.services.records import StaleEdit, apply_changes, claim_version

LinkReason = Literal["ok", "unknown", "expired", "revoked", "locked"]

DEFAULT_DAYS = 180
MAX_BIRTH_DATE_FAILURES = 5
EDIT_WINDOW = timedelta(hours=24)
LOG_DAYS_BACK = 30
# Failed link openings share the sign-in attempts table, so every worker sees the same count.
THROTTLE_ACCOUNT_KEY = "portal"
_MAX_TOKEN_LENGTH = 128


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name, found by `pybabel extract`)
    """Mark a patient-facing message for translation; the view translates it."""
    return message


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ----------------------------------------------------------------------------------------------------- links


def derive_token(secret: str, link: PortalLink) -> str:
    """The link's token: an HMAC of the link's id and creation time under the server's secret key.

    The database keeps only the token's SHA-256 (SECURITY.md 22); the server can re-derive the token to
    print it again on a home sheet's QR code, and nobody can without the secret key. A new SECRET_KEY
    therefore retires every link, which is the right outcome when a key leaks."""
    message = f"rehab-portal-link:{link.id}:{link.created_at.isoformat()}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()  # 256 bits
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_link(session: Session, *, patient: Patient, user_id: int | None, now: datetime, secret: str,
               days: int = DEFAULT_DAYS, require_birth_date: bool = False) -> tuple[PortalLink, str]:
    """A new link for the patient; any earlier live link stops at once (one live link per patient).

    Returns the row and the token. Only the token's hash is stored."""
    _revoke_live_links(session, patient_id=patient.id, now=now)  # type: ignore[arg-type]
    link = PortalLink(patient_id=patient.id, clinic_id=patient.clinic_id,  # type: ignore[arg-type]
                      token_hash=token_hash(secrets.token_urlsafe(32)),  # replaced below, once the id exists
                      created_at=now, created_by_id=user_id, expires_at=now + timedelta(days=days),
                      require_birth_date=require_birth_date)
    session.add(link)
    session.flush()
    token = derive_token(secret, link)
    link.token_hash = token_hash(token)
    session.add(link)
    session.flush()
    return link, token


def rotate(session: Session, *, link: PortalLink, patient: Patient, user_id: int | None, now: datetime,
           secret: str) -> tuple[PortalLink, str]:
    """Replace a link with a new one with the same settings (it also unlocks a locked link)."""
    return issue_link(session, patient=patient, user_id=user_id, now=now, secret=secret,
                      require_birth_date=link.require_birth_date)


def revoke(session: Session, *, link: PortalLink, now: datetime) -> None:
    if link.revoked_at is None:
        link.revoked_at = now
        session.add(link)
        session.flush()


def _revoke_live_links(session: Session, *, patient_id: int, now: datetime) -> None:
    session.execute(update(PortalLink).where(PortalLink.patient_id == patient_id, col(PortalLink.revoked_at).is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))


_LIVE_LINK = (select(PortalLink).where(PortalLink.patient_id == bindparam("patient_id"),
                                       col(PortalLink.revoked_at).is_(None)).order_by(col(PortalLink.id).desc()))


def live_link(session: Session, *, patient_id: int) -> PortalLink | None:
    """The patient's link that is not revoked (it may have expired or be locked), for the share section."""
    return session.exec(_LIVE_LINK, params={"patient_id": patient_id}).first()


def link_status(link: PortalLink, now: datetime) -> LinkReason:
    if link.revoked_at is not None:
        return "revoked"
    if link.locked_at is not None:
        return "locked"
    if now >= link.expires_at:
        return "expired"
    return "ok"


def find_link(session: Session, token: str, now: datetime) -> tuple[PortalLink | None, LinkReason]:
    """The link for a token and whether it works. Unknown tokens are the ones to throttle."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None, "unknown"
    link = session.exec(select(PortalLink).where(PortalLink.token_hash == token_hash(token))).first()
    if link is None:
        return None, "unknown"
    return link, link_status(link, now)


@dataclass(frozen=True)
class LinkState:
    """A link with its patient, clinic and active protocol, and whether it still opens the portal."""

    reason: LinkReason
    link: PortalLink | None = None
    patient: Patient | None = None
    clinic: Clinic | None = None
    protocol: Protocol | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def link_state(session: Session, *, link_id: int, now: datetime) -> LinkState:
    """Everything a portal request needs, in one query; re-checked on every request so a revoked link, an
    ended protocol or an archived patient ends the patient's session at once."""
    row = session.exec(
        select(PortalLink, Patient, Clinic, Protocol)
        .join(Patient, Patient.id == PortalLink.patient_id)
        .join(Clinic, Clinic.id == PortalLink.clinic_id)
        .outerjoin(Protocol, (Protocol.patient_id == Patient.id) & (Protocol.status == "active"))
        .where(PortalLink.id == link_id)
    ).first()
    if row is None:
        return LinkState("unknown")
    link, patient, clinic, protocol = row
    reason = link_status(link, now)
    if reason == "ok" and (protocol is None or patient.archived_at is not None):
        reason = "expired"  # the link lasts as long as the protocol (SECURITY.md 22)
    return LinkState(reason, link, patient, clinic, protocol)


def bad_token_count(session: Session, *, address: str, since: datetime) -> int:
    return session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.account_key == THROTTLE_ACCOUNT_KEY, LoginAttempt.address == address,
        LoginAttempt.succeeded == False, LoginAttempt.at >= since)).one()  # noqa: E712 (SQL comparison)


def record_bad_token(session: Session, *, address: str, now: datetime) -> None:
    session.add(LoginAttempt(at=now, account_key=THROTTLE_ACCOUNT_KEY, address=address[:64], succeeded=False))


def check_birth_date(session: Session, *, link: PortalLink, patient: Patient, given: date, now: datetime
                     ) -> tuple[Literal["ok", "wrong", "locked"], int]:
    """Compare the typed birth date; the 5th miss locks the link and raises a "dob_lockout" alert.

    Returns the outcome and the tries left. The miss is counted with an UPDATE in the database, so two
    tries sent at once both count."""
    if given == patient.date_of_birth:
        link.birth_date_failures = 0
        session.add(link)
        return "ok", MAX_BIRTH_DATE_FAILURES
    session.execute(update(PortalLink).where(PortalLink.id == link.id)
                    .values(birth_date_failures=PortalLink.birth_date_failures + 1)
                    .execution_options(synchronize_session=False))
    failures = session.exec(select(PortalLink.birth_date_failures).where(PortalLink.id == link.id)).one()
    if failures < MAX_BIRTH_DATE_FAILURES:
        return "wrong", MAX_BIRTH_DATE_FAILURES - failures
    session.execute(update(PortalLink).where(PortalLink.id == link.id, col(PortalLink.locked_at).is_(None))
                    .values(locked_at=now).execution_options(synchronize_session=False))
    session.add(Alert(clinic_id=link.clinic_id, patient_id=link.patient_id, kind="dob_lockout", created_at=now,
                      message=f"The patient's link was locked after {MAX_BIRTH_DATE_FAILURES} wrong dates of birth. "
                              "Check with the patient, then make a new link."))
    session.flush()
    return "locked", 0


# -------------------------------------------------------------------------------------------------- home logs

SORENESS_CHOICES = ("none", "warmup_gone", "warmup_stayed", "late")
FLAG_FIELDS = tuple(RED_FLAGS)
# One plain message per field, whatever was wrong with it (the date has two, from its validator).
FIELD_MESSAGES = {
    "session_date": N_("Enter the date you walked."),
    "minutes": N_("Enter the minutes you walked backward: a number from 0.5 to 180."),
    "pain_worst": N_("Choose your worst pain: a number from 0 to 10."),
    "pain_next_morning": N_("Choose a number from 0 to 10, or choose “I don’t know yet”."),
    "soreness": N_("Choose one answer."),
    "stumbled": N_("Choose yes or no."),
    "fell": N_("Choose yes or no."),
    "note": N_("Your note is too long. Use 1000 letters or fewer."),
    **{name: N_("Choose yes or no.") for name in FLAG_FIELDS},
}


class HomeLogForm(SQLModel):
    """A home session as the patient logs it. Validate with ``validate_home_log`` (it passes today's date)."""

    session_date: date
    minutes: float = Field(ge=0.5, le=180)
    pain_worst: int = Field(ge=0, le=10)
    pain_next_morning: int | None = Field(default=None, ge=0, le=10)
    soreness: Literal["none", "warmup_gone", "warmup_stayed", "late"] = "none"
    stumbled: bool  # asked as yes or no, never assumed: a fall must not be missed by an unticked box
    fell: bool
    flag_calf: bool = False
    flag_chest: bool = False
    flag_infection: bool = False
    flag_locking: bool = False
    flag_sudden_pain: bool = False
    note: str = Field(default="", max_length=1000)

    @field_validator("session_date")
    @classmethod
    def _recent_past(cls, value: date, info: ValidationInfo) -> date:
        today = (info.context or {}).get("today") or datetime.now(UTC).date()
        if value > today:
            raise ValueError(N_("The date cannot be in the future."))
        if value < today - timedelta(days=LOG_DAYS_BACK):
            raise ValueError(N_("Choose a date in the last 30 days. Tell your therapist about older sessions."))
        return value


def home_log_data(form: Any) -> dict[str, Any]:
    """Plain data from a submitted form: empty means "not given", a decimal comma is accepted."""
    data: dict[str, Any] = {}
    for name in HomeLogForm.model_fields:
        if name in FLAG_FIELDS:
            data[name] = form.get(name) in ("1", "on", "yes")
            continue
        value = str(form.get(name, "")).strip()
        if name == "minutes":
            value = value.replace(",", ".")
        if value != "" or name == "note":
            data[name] = value
    return data


def validate_home_log(data: dict[str, Any], *, today: date) -> tuple[HomeLogForm | None, dict[str, str]]:
    """The shape, or None and one message (an English msgid) per field."""
    try:
        return HomeLogForm.model_validate(data, context={"today": today}), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "session_date"
            own = str((error.get("ctx") or {}).get("error", "")) if error["type"] == "value_error" else ""
            errors.setdefault(field, own or FIELD_MESSAGES.get(field, N_("Check this answer.")))
        return None, errors


def create_home_log(session: Session, *, patient: Patient, protocol: Protocol, form: HomeLogForm,
                    link_id: int | None, now: datetime) -> HomeLog:
    log = HomeLog(patient_id=patient.id, clinic_id=patient.clinic_id, protocol_id=protocol.id,  # type: ignore[arg-type]
                  protocol_version=protocol.latest_version, phase_index=protocol.current_phase,
                  created_at=now, updated_at=now, link_id=link_id, **form.model_dump())
    session.add(log)
    session.flush()
    note_session(session, patient_id=log.patient_id, at=log.created_at)
    return log


class TooLate(Exception):
    """The entry is older than the 24 hours in which a patient may correct it."""


def can_correct(log: HomeLog, now: datetime) -> bool:
    return now - log.created_at < EDIT_WINDOW


def correct_home_log(session: Session, *, log: HomeLog, form: HomeLogForm, seen_version: int, now: datetime
                     ) -> dict[str, list[Any]]:
    """Apply the patient's correction, keeping old and new values in EditRecord (entity "home_log").

    Raises TooLate after 24 hours and StaleEdit when the entry changed since the form was opened."""
    if not can_correct(log, now):
        raise TooLate
    if log.version != seen_version:
        raise StaleEdit
    changes = apply_changes(log, form.model_dump())
    if changes:
        claim_version(session, log, column="version", seen=seen_version)
        log.updated_at = now
        session.add(log)
        session.add(EditRecord(entity="home_log", entity_id=log.id, patient_id=log.patient_id, user_id=None,  # type: ignore[arg-type]
                               at=now, changes=json.dumps(changes)))
        session.flush()
        # No last-session upkeep: a log counts from when it was logged (created_at), which a correction keeps.
    return changes


# The patient page reads these on every view: built once, bound per request.
_HOME_LOGS = (select(HomeLog).where(HomeLog.patient_id == bindparam("patient_id"))
              .order_by(col(HomeLog.session_date).desc(), col(HomeLog.id).desc()))



def home_logs_of(session: Session, *, patient_id: int, limit: int | None = None) -> list[HomeLog]:
    """A patient's home logs, newest first."""
    return list(session.exec(_HOME_LOGS.limit(limit) if limit else _HOME_LOGS, params={"patient_id": patient_id}))


def get_home_log(session: Session, *, patient_id: int, log_id: int) -> HomeLog | None:
    """The log only if it is this patient's: another patient's id is simply not found."""
    return session.exec(select(HomeLog).where(HomeLog.id == log_id, HomeLog.patient_id == patient_id)).first()


def session_time(log: HomeLog) -> datetime:
    """When a home session happened, for ordering it among visits: the time it was logged when it was logged
    the same day, otherwise noon of its date (a patient gives a date, not a time)."""
    if log.created_at.date() <= log.session_date:
        return log.created_at
    return datetime.combine(log.session_date, time(12), tzinfo=UTC)


def report_of_log(log: HomeLog) -> SessionReport:
    return SessionReport(
        at=session_time(log), source="home", pain_worst=log.pain_worst, pain_next_morning=log.pain_next_morning,
        soreness=log.soreness, stumbles=int(log.stumbled), falls=int(log.fell), minutes=log.minutes,
        red_flags=tuple(name for name in FLAG_FIELDS if getattr(log, name)), recorded_at=log.updated_at,
        day=log.session_date,
    )


def home_ceiling(phase: Phase) -> int:
    """The pain ceiling for home sessions: the lowest of the phase's home exercises (of all, if none is at
    home), so an alert is never later than the strictest dose allows."""
    home = [rx.pain_ceiling for rx in phase.prescriptions if rx.setting != "clinic"]
    return min(home or [rx.pain_ceiling for rx in phase.prescriptions])


def raise_home_alerts(session: Session, *, log: HomeLog, previous: SessionReport | None, ceiling: int,
                      now: datetime) -> list[Alert]:
    """Dashboard alerts from a home log (red flag, fall, pain above the ceiling twice), with home_log_id set.

    After a correction only kinds not already raised for this log are added."""
    raised = set(session.exec(select(Alert.kind).where(Alert.home_log_id == log.id)))
    alerts = [Alert(clinic_id=log.clinic_id, patient_id=log.patient_id, kind=kind, home_log_id=log.id,
                    created_at=now, message=f"Home session {log.session_date.isoformat()}: {message}"[:300])
              for kind, message in alerts_for(report_of_log(log), previous, ceiling=ceiling) if kind not in raised]
    session.add_all(alerts)
    session.flush()
    return alerts


def previous_report(reports: list[SessionReport], *, before: datetime) -> SessionReport | None:
    """The latest session strictly before a moment, from reports in any order."""
    earlier = [report for report in reports if report.at < before]
    return max(earlier, key=lambda report: report.at) if earlier else None


# ------------------------------------------------------------------------------------------- what the patient reads


def phase_text(phase: Phase, *, template_key: str, language: str) -> dict[str, str]:
    """A phase's name and goal in the patient's language: the template's translation when the therapist kept
    the template's wording, the therapist's own words otherwise."""
    template = templates().get(template_key)
    if template is not None and phase.key:
        for raw in template.phases:
            english = raw["en"]
            if raw["key"] == phase.key and english.get("name") == phase.name:
                text = raw.get(language) or english
                kept_goal = phase.goal == english.get("goal", "")
                return {"name": text.get("name", phase.name),
                        "goal": text.get("goal", english.get("goal", "")) if kept_goal else phase.goal}
    return {"name": phase.name, "goal": phase.goal}


def exercise_items(phase: Phase, *, language: str, speed_unit: str) -> list[dict[str, Any]]:
    """The current phase's exercises as plain values for the "my exercises" page. ``illustration`` is our own
    SVG file (safe to inline); ``therapist_cues`` is the therapist's free text (escaped like any input)."""
    items = []
    for rx in phase.prescriptions:
        exercise = exercises()[rx.exercise]
        text = exercise.text(language)
        items.append({
            "key": rx.exercise, "name": text.name, "purpose": text.purpose, "steps": text.steps, "cues": text.cues,
            "safety": text.safety, "therapist_cues": rx.cues, "setting": rx.setting, "pain_ceiling": rx.pain_ceiling,
            "sentence": dose_sentence(rx, language=language, speed_unit=speed_unit),
            "illustration": illustration_svg(rx.exercise),
        })
    return items
