"""Reminders without a server: the patient chooses a time, and their phone's calendar subscribes to the planned
sessions (``portal.calendar``, fetched by the calendar app without the portal's cookie).

The calendar's rules are in ``services.reminders``; its address and the facts it reads in
``services.calendar_links``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from babel.dates import get_day_names
from babel.lists import format_list
from flask import Response, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from rehab import db as database
from rehab import once, security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.patient_links import calendar_url
from rehab.services import audit, calendar_links, home_plan, portal_links, reminders, throttling
from rehab.services.adherence_records import phase_plan
from rehab.views.portal import current
from rehab.views.portal.blueprint import bp
from rehab.views.portal.current import audit_event
from rehab.views.portal.guard import count_unknown_token
from rehab.views.portal.layout import page

# A calendar app re-fetches every few hours: its reads are audited once an hour per calendar, not per fetch.
AUDIT_CALENDAR_READS_EVERY = timedelta(hours=1)


def _page(values: dict[str, str], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    state = current.state()
    calendar = calendar_links.calendar_of(get_session(), link_id=state.link.id)  # type: ignore[union-attr]
    address = None
    if calendar is not None:
        address = calendar_url(calendar_links.derive_calendar_token(current_app.secret_key, calendar))  # type: ignore[arg-type]
    content, index = current.phase()
    _, per_week = phase_plan(content.model_dump(), index)  # adherence's reading of the home plan
    names = get_day_names("wide", locale=g.patient_language)
    days = format_list([names[day] for day in reminders.session_weekdays(per_week)], locale=g.patient_language)
    webcal = re.sub(r"^https?://", "webcal://", address) if address else None
    return page("portal/reminders.html", values=values, errors=errors, calendar=calendar, address=address,
                webcal=webcal, days=days, home_sessions=home_plan.prescribed_for_home(content.phases[index]),
                morning=reminders.NEXT_MORNING.strftime("%H:%M"),
                other_language=calendar is not None and calendar.language != g.patient_language), status


@bp.route("/reminders", methods=["GET", "POST"], endpoint="reminders")
def reminders_page():  # type: ignore[no-untyped-def]
    """Reminders in the phone's own calendar: the time of day, then the calendar's address to subscribe to."""
    state = current.state()
    db = get_session()
    if request.method == "GET":
        calendar = calendar_links.calendar_of(db, link_id=state.link.id)  # type: ignore[union-attr]
        chosen = calendar.reminder_time if calendar is not None else \
            calendar_links.last_time_chosen(db, patient_id=current.patient_id())
        security.record_read("portal.view", patient_id=current.patient_id(), object_type="portal_reminders")
        return _page({"reminder_time": (chosen or reminders.DEFAULT_TIME).strftime("%H:%M")}, {})
    typed = request.form.get("reminder_time", "")
    at = reminders.parse_time(typed)
    if at is None:
        return _page({"reminder_time": typed}, {"reminder_time": _(reminders.TIME_ERROR)}, status=422)
    once.claim("portal.reminders")
    calendar = calendar_links.set_reminders(db, link=state.link, at=at, language=g.patient_language,  # type: ignore[arg-type]
                                            now=utcnow(), secret=current_app.secret_key)  # type: ignore[arg-type]
    audit_event("portal.reminders", patient_id=current.patient_id(), object_type="portal_calendar",
                object_id=calendar.id)
    target = once.leads_to(url_for("portal.reminders", _anchor="calendar"))
    flash(_("Your reminders are set for %(time)s.", time=at.strftime("%H:%M")), "success")
    return redirect(target)


@bp.get("/calendar/<string(minlength=20, maxlength=128):token>.ics")
def calendar(token: str):  # type: ignore[no-untyped-def]
    """The calendar file a phone subscribes to. No cookie: the calendar's own token is the key. A calendar whose
    link was revoked, rotated or whose protocol ended has no events; an unknown token is counted like a wrong
    link (the same limit per address)."""
    db = get_session()
    now = utcnow()
    address = (request.remote_addr or "unknown")[:64]
    found = calendar_links.find_calendar(db, token)
    if found is None:
        return _unknown_calendar(address)
    state = portal_links.link_state(db, link_id=found.link_id, now=now)
    g.clinic = state.clinic
    plan = calendar_links.reminder_plan(db, calendar=found, state=state)
    clinic = state.clinic
    if plan is not None:
        text = reminders.reminder_calendar(plan, now=now)
    else:
        text = reminders.empty_calendar(language=found.language, zone=clinic.timezone if clinic else "UTC",
                                        clinic_name=clinic.name if clinic else "", now=now)
    _audit_read_hourly(found.id, found.patient_id, state.clinic.id if state.clinic else None)
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="backward-walking.ics"'
    return response


def _audit_read_hourly(calendar_id: int, patient_id: int, clinic_id: int | None) -> None:
    now, key = utcnow(), security.audit_key()

    def _write() -> None:
        with database.side_transaction() as writer:
            if throttling.note_throttled(writer, key=f"portal-calendar:{calendar_id}", now=now,
                                         window=AUDIT_CALENDAR_READS_EVERY):
                audit.record_event(writer, key=key, action="portal.calendar", at=now, clinic_id=clinic_id,
                                   patient_id=patient_id, object_type="portal_calendar", object_id=calendar_id)

    database.after_close(_write)


def _unknown_calendar(address: str) -> Any:
    """A token issued to no one: counted with the wrong links of the address, refused once there are too many."""
    if count_unknown_token(address, utcnow(), action="portal.calendar.unknown", object_type="portal_calendar"):
        return Response("Too many tries. Please wait, then try again.\n", status=429, mimetype="text/plain")
    return Response("No such calendar.\n", status=404, mimetype="text/plain")
