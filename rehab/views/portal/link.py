"""Opening the personal link, the optional date-of-birth check, and what the patient does with the session
itself (leave it, choose a language or the text size).

Apart from the patient's own cookie and the audit trail, opening the link (a GET) changes nothing, because
mail scanners open links too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import get_month_names
from flask import g, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from rehab import once, security
from rehab.db import get_session
from rehab.i18n import LANGUAGES
from rehab.models import utcnow
from rehab.services import portal_devices, portal_links
from rehab.services.portal_links import LinkState
from rehab.services.submissions import AlreadySubmitted
from rehab.views.portal import phones
from rehab.views.portal.blueprint import bp
from rehab.views.portal.current import audit_event
from rehab.views.portal.guard import (
    count_unknown_token,
    end_patient_session,
    invalid_link,
    start_patient_session,
)
from rehab.views.portal.layout import TEXT_SIZES, apply_preferences, page

PENDING_MINUTES = 15


@bp.get("/<string(minlength=20, maxlength=128):token>")
def open(token: str):  # type: ignore[no-untyped-def]  # noqa: A001 (the endpoint's name: portal.open)
    """Open the patient's link: a patient session and a redirect without the token.

    A valid link always opens, however many bad ones came from the same address (a clinic's NAT, a family's
    router): only unknown tokens are counted and throttled per address. Guessing gains nothing from that:
    a token has 256 bits."""
    db = get_session()
    now = utcnow()
    address = (request.remote_addr or "unknown")[:64]
    link, _reason = portal_links.find_link(db, token, now)
    if link is None:
        return _unknown_token(address, now)
    state = portal_links.link_state(db, link_id=link.id, now=now)  # type: ignore[arg-type]
    if not state.ok:
        return invalid_link(state)
    start_patient_session(state, pending=link.require_birth_date)
    g.clinic = state.clinic
    security.record_read("portal.open", patient_id=link.patient_id, object_type="portal_link", object_id=link.id)
    return redirect(url_for("portal.check" if link.require_birth_date else "portal.home"))


def _unknown_token(address: str, now: datetime) -> Any:
    """Count the bad token, or refuse the address once it has too many: audited once per window, not per try."""
    paused = count_unknown_token(address, now, action="portal.open.unknown", object_type="portal_link")
    if paused is not None:
        return page("portal/message.html", kind="throttled", minutes=int(paused.total_seconds() // 60)), 429
    apply_preferences(None)
    return page("portal/message.html", kind="unknown"), 404


@bp.route("/check", methods=["GET", "POST"])
def check():  # type: ignore[no-untyped-def]
    """The optional date-of-birth check; the 5th wrong date locks the link and tells the therapist."""
    pending, since = session.get("portal_pending"), session.get("portal_pending_at", 0)
    now = utcnow()
    if not isinstance(pending, int) or int(now.timestamp()) - since > PENDING_MINUTES * 60:
        end_patient_session()
        return redirect(url_for("portal.closed"))
    db = get_session()
    state = portal_links.link_state(db, link_id=pending, now=now)
    if not state.ok:
        end_patient_session()
        return invalid_link(state)
    assert state.link is not None and state.patient is not None
    g.clinic = state.clinic
    apply_preferences(state.patient)
    values: dict[str, str] = {}
    error = None
    if request.method == "POST":
        values = {name: request.form.get(name, "").strip()[:10] for name in ("day", "month", "year")}
        given = _birth_date(values)
        if given is None:
            error = _("Enter your date of birth: the day, the month and the year.")
        else:
            # One try per form sent: a double tap on a wrong date must not count twice towards the lock. A
            # repeat goes where the first try left the phone (the page, or this check again).
            try:
                once.claim("portal.birth_date", patient_id=state.patient.id)
            except AlreadySubmitted:
                return redirect(url_for("portal.check" if session.get("portal_pending") else "portal.home"))
            outcome, left = portal_links.check_birth_date(db, link=state.link, patient=state.patient, given=given,
                                                          now=now)
            audit_event("portal.birth_date", patient_id=state.patient.id, object_type="portal_link",
                        object_id=state.link.id, outcome="ok" if outcome == "ok" else "failed")
            if outcome == "ok":
                start_patient_session(state, pending=False)
                answer = redirect(url_for("portal.home"))
                if request.form.get("remember") == "1":
                    remember_this_phone(state, answer, now=now)
                return answer
            if outcome == "locked":
                end_patient_session(phone=state.clinic.phone if state.clinic else "")
                return page("portal/message.html", kind="locked", clinic=state.clinic), 410
            error = _("That date of birth does not match. Tries left: %(left)s.", left=left)
    months = get_month_names("wide", locale=get_locale())
    return page("portal/check.html", clinic=state.clinic, values=values, error=error,
                months=[(number, months[number]) for number in range(1, 13)]), (422 if error else 200)


def _birth_date(values: dict[str, str]) -> date | None:
    try:
        return date(int(values["year"]), int(values["month"]), int(values["day"]))
    except (KeyError, ValueError):
        return None


@bp.get("/closed")
def closed():  # type: ignore[no-untyped-def]
    """Where a patient lands after closing their page or after it timed out."""
    return page("portal/message.html", kind="closed", phone=session.get("portal_phone", ""))


@bp.post("/leave")
def leave():  # type: ignore[no-untyped-def]
    """Close the patient's page on this phone (for shared phones); a remembered phone is forgotten too."""
    state: LinkState = g.portal
    security.record_read("portal.leave", patient_id=state.patient.id if state.patient else None)
    device_id = session.get("portal_device_id")
    if isinstance(device_id, int) and state.patient is not None \
            and portal_devices.forget(get_session(), device_id=device_id, patient_id=state.patient.id, now=utcnow()):
        audit_event("portal.phone.forget", patient_id=state.patient.id, object_type="portal_device",
                    object_id=device_id)
    phones.drop_cookie()
    end_patient_session(phone=state.clinic.phone if state.clinic else "")
    return redirect(url_for("portal.closed"))


@bp.post("/remember")
def remember():  # type: ignore[no-untyped-def]
    """The patient's choice on their page: keep this phone signed in for the link's life (ticked), or not."""
    state: LinkState = g.portal
    answer = redirect(url_for("portal.home"))
    if request.form.get("remember") != "1":
        session["portal_remember_declined"] = True
        return answer
    once.claim("portal.phone.remember", patient_id=state.patient.id if state.patient else None)
    if not isinstance(session.get("portal_device_id"), int):
        remember_this_phone(state, answer, now=utcnow())
    return answer


def remember_this_phone(state: LinkState, answer: Any, *, now: datetime) -> None:
    """Remember this phone for the link: a device row, its cookie on ``answer``, the session marked with it."""
    assert state.link is not None and state.patient is not None
    device, token = portal_devices.remember(get_session(), link=state.link, now=now,
                                            user_agent=request.headers.get("User-Agent", ""))
    session["portal_device_id"] = device.id
    phones.set_cookie(answer, token, link=state.link, now=now)
    audit_event("portal.phone.remember", patient_id=state.patient.id, object_type="portal_device",
                object_id=device.id)


@bp.post("/language")
def language():  # type: ignore[no-untyped-def]
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session["portal_language"] = chosen
    return redirect(_back())


@bp.post("/text-size")
def text_size():  # type: ignore[no-untyped-def]
    chosen = request.form.get("size", "")
    if chosen in TEXT_SIZES:
        session["portal_text_size"] = chosen
    return redirect(_back())


def _back() -> str:
    """Back to the portal page the form was on; only portal paths, never another site."""
    target = request.form.get("back", "")
    if target.startswith("/p/") and "//" not in target and "\\" not in target and target.isprintable():
        return target
    return url_for("portal.home")

