"""The patient's calendar address: its token, the chosen time, and the facts its reminders are made from.

A calendar app fetches the calendar on its own, without the portal's cookie, so the calendar has a token of its
own, never the personal link's: a calendar address copied into a cloud calendar opens no patient page. Like the
link's, the token is an HMAC under the server's secret of the calendar's id and creation time (256 bits), so the
portal can show the same address again, and only its SHA-256 is stored (SECURITY.md 22). One calendar per link:
rotating the link gives a new link without one, and a revoked or rotated link's calendar answers with no events.
Services add and flush; the view commits once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from rehab.models import PhaseChange, PortalCalendar, PortalLink
from rehab.services import home_logs, protocol_records
from rehab.services.adherence_records import phase_plan
from rehab.services.advice.inputs import waiting_red_flags
from rehab.services.dose import dose_sentence
from rehab.services.portal_links import LinkState
from rehab.services.reminders import ReminderPlan
from rehab.services.tokens import token_hash

_MAX_TOKEN_LENGTH = 128


def derive_calendar_token(secret: str, calendar: PortalCalendar) -> str:
    """The calendar's token: an HMAC of its id and creation time under the server's secret key."""
    message = f"rehab-portal-calendar:{calendar.id}:{calendar.created_at.isoformat()}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def calendar_of(session: Session, *, link_id: int) -> PortalCalendar | None:
    return session.exec(select(PortalCalendar).where(PortalCalendar.link_id == link_id)).first()


def last_time_chosen(session: Session, *, patient_id: int) -> time | None:
    """The time the patient chose for an earlier link's calendar (offered again after the link was rotated)."""
    return session.exec(select(col(PortalCalendar.reminder_time)).where(PortalCalendar.patient_id == patient_id)
                        .order_by(col(PortalCalendar.id).desc())).first()


def set_reminders(session: Session, *, link: PortalLink, at: time, language: str, now: datetime,
                  secret: str) -> PortalCalendar:
    """The link's calendar at the chosen time (made on first use; its address stays the same after)."""
    calendar = calendar_of(session, link_id=link.id)
    if calendar is None:
        calendar = PortalCalendar(link_id=link.id, patient_id=link.patient_id, reminder_time=at, language=language,
                                  token_hash=token_hash(secrets.token_urlsafe(32)),  # replaced once the id exists
                                  created_at=now, updated_at=now)
        session.add(calendar)
        session.flush()
        calendar.token_hash = token_hash(derive_calendar_token(secret, calendar))
    else:
        calendar.reminder_time, calendar.language, calendar.updated_at = at, language, now
    session.add(calendar)
    session.flush()
    return calendar


def find_calendar(session: Session, token: str) -> PortalCalendar | None:
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return session.exec(select(PortalCalendar).where(PortalCalendar.token_hash == token_hash(token))).first()


def reminder_plan(session: Session, *, calendar: PortalCalendar, state: LinkState) -> ReminderPlan | None:
    """What the calendar of a live link is made from; None when the link no longer opens (no events then)."""
    if not state.ok or state.protocol is None or state.patient is None or state.clinic is None:
        return None
    protocol, clinic = state.protocol, state.clinic
    version = protocol_records.get_version(session, protocol_id=protocol.id, number=protocol.latest_version)
    assert version is not None
    content = protocol_records.load_content(version)
    phase = content.phases[protocol.current_phase]
    _, home = phase_plan(content.model_dump(), protocol.current_phase)  # adherence's definition: one home
    moved = session.exec(select(func.max(PhaseChange.at)).where(
        PhaseChange.protocol_id == protocol.id, col(PhaseChange.undone_at).is_(None))).one()
    started = _aware(protocol.created_at) if moved is None else max(_aware(moved), _aware(protocol.created_at))
    zone = _zone(clinic.timezone)
    language = calendar.language
    dose = tuple(dose_sentence(rx, language=language, speed_unit=clinic.speed_unit)
                 for rx in phase.prescriptions if rx.setting != "clinic")
    stopped = bool(waiting_red_flags(session, patient_ids=[state.patient.id]))
    ended = _aware(protocol.ended_at).astimezone(ZoneInfo(zone)).date() if protocol.ended_at else None
    return ReminderPlan(uid_base=calendar.token_hash[:20], language=language, zone=zone, at=calendar.reminder_time,
                        home_per_week=home, phase_start=started.astimezone(ZoneInfo(zone)).date(),
                        phase_weeks=phase.weeks, ended=ended, stopped=stopped, clinic_name=clinic.name,
                        clinic_phone=clinic.phone, ceiling=home_logs.home_ceiling(phase), dose=dose)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


def _zone(name: str | None) -> str:
    """The clinic's zone name, UTC when it is unknown (a clinic's setting is checked when saved)."""
    try:
        ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return "UTC"
    return name or "UTC"

