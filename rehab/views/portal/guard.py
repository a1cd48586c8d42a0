"""The portal's guard: every request needs a live patient session, re-checked against the link each time.

Opening the link (``link.open``) starts a short patient session in Flask's signed cookie; every later request
re-checks the link in the database, so revoking it, rotating it or ending the protocol ends the session at
once. ``rehab.security`` leaves the portal blueprint to this guard, and nothing here ever sets ``g.user``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from rehab import db as database
from rehab import security
from rehab.db import get_session
from rehab.errors import area_error_page
from rehab.models import utcnow
from rehab.services import accounts, audit, portal_devices, portal_links, throttling
from rehab.services.portal_links import LinkState
from rehab.views.portal import phones
from rehab.views.portal.blueprint import bp
from rehab.views.portal.layout import apply_preferences, page

# Reachable with no patient session at all (listed in rehab.security.PUBLIC_ENDPOINTS too). The service worker,
# the manifest and the offline page hold no patient data (rehab/views/portal/offline.py).
OPEN_ENDPOINTS = frozenset({"portal.open", "portal.closed", "portal.code", "portal.calendar",
                            "portal.service_worker", "portal.manifest", "portal.offline"})
# Reachable while a link waits for its date-of-birth check; they change only the patient's own cookie.
PENDING_ENDPOINTS = frozenset({"portal.check", "portal.language", "portal.text_size"})
_PREFERENCE_KEYS = ("portal_language", "portal_text_size")
# After a discharge the link opens the questionnaires and nothing else: no exercises, no session logging, no sheet.
DISCHARGED_ENDPOINTS = frozenset({"portal.home", "portal.questionnaires", "portal.answer", "portal.questionnaires_done",
                                  "portal.leave", "portal.language", "portal.text_size"})


def setting(name: str) -> float:
    """A portal limit from the settings (defaults in rehab/config.py)."""
    return float(current_app.config[name])


@bp.before_request
def _guard() -> Any:
    """Every portal page needs a live patient session, except the link itself and the "closed" page."""
    g.portal = None
    apply_preferences(None)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.endpoint in PENDING_ENDPOINTS and session.get("portal_pending"):
        return None
    answer = _require_patient_session()
    return answer if answer is not None else _questionnaires_only()


def _require_patient_session() -> Any:
    """Load the patient session and re-check its link; None when the request may go on, else the answer.

    A phone the patient chose to remember starts a new session by itself when there is none or it timed
    out (``_resume_remembered_phone``); a session that came from a remembered phone ends as soon as the phone is
    forgotten."""
    link_id, patient_id = session.get("portal_link_id"), session.get("portal_patient_id")
    if not isinstance(link_id, int) or not isinstance(patient_id, int):
        return _resume_or_closed()
    now = utcnow()
    state = portal_links.link_state(get_session(), link_id=link_id, now=now)
    if not state.ok or state.patient is None or state.patient.id != patient_id:
        end_patient_session()
        phones.drop_cookie()
        return invalid_link(state, action="portal.session")
    device_id = session.get("portal_device_id")
    if isinstance(device_id, int) and not portal_devices.still_remembered(get_session(), device_id=device_id,
                                                                         link_id=link_id):
        end_patient_session(phone=state.clinic.phone if state.clinic else "")
        phones.drop_cookie()
        return redirect(url_for("portal.closed"))
    moment = int(now.timestamp())
    if _timed_out(moment):
        end_patient_session(phone=state.clinic.phone if state.clinic else "")
        return _resume_or_closed()
    g.portal, g.clinic = state, state.clinic  # g.clinic: audit rows and local times; g.user stays None
    apply_preferences(state.patient)
    session["portal_seen"] = moment
    return None


def _timed_out(moment: int) -> bool:
    started, seen = session.get("portal_started", 0), session.get("portal_seen", 0)
    return bool(moment - started > setting("PORTAL_SESSION_HOURS") * 3600
                or moment - seen > setting("PORTAL_IDLE_MINUTES") * 60)


def _questionnaires_only() -> Any:
    """After a discharge, every page but the questionnaires leads to the thank-you page (whether the session was
    just checked or a remembered phone started it); None when the request may go on."""
    state: LinkState | None = g.get("portal")
    if state is None or state.discharged is None or request.endpoint in DISCHARGED_ENDPOINTS:
        return None
    if request.method != "GET":  # a form left open from before the discharge (a session log): nothing saved
        flash(_("Your treatment has ended, so nothing was saved. If something is wrong, call the clinic."), "error")
    return redirect(url_for("portal.home"), code=303)


def _resume_or_closed() -> Any:
    """None when a remembered phone started a new session (the request goes on to the page it asked for),
    else the answer: the "closed" page, or the "no longer valid" page when the phone's link was replaced."""
    resumed = _resume_remembered_phone()
    if resumed is True:
        return None
    return resumed or redirect(url_for("portal.closed"))


def _resume_remembered_phone() -> Any:
    """A new patient session from this phone's "remember" cookie (True), when the phone is still remembered and
    its link still opens the portal; None when there is no such cookie; else the "no longer valid" page."""
    token = phones.cookie_token()
    if token is None:
        return None
    now, db = utcnow(), get_session()
    device = portal_devices.find(db, token)
    if device is None:
        phones.drop_cookie()
        return None
    state = portal_links.link_state(db, link_id=device.link_id, now=now)
    if not state.ok or state.patient is None:
        phones.drop_cookie()
        return invalid_link(state, action="portal.session")
    kept = {key: session[key] for key in _PREFERENCE_KEYS if key in session}  # the phone's own choices stay
    start_patient_session(state, pending=False, device_id=device.id)
    session.update(kept)
    phones.note_use(device.id, now)
    security.record_read("portal.phone.resume", patient_id=state.patient.id, object_type="portal_device",
                         object_id=device.id)
    g.portal, g.clinic = state, state.clinic
    apply_preferences(state.patient)
    return True


def start_patient_session(state: LinkState, *, pending: bool, device_id: int | None = None) -> None:
    """A fresh cookie for this patient. A therapist signed in on this browser is signed out on the server
    too, so the two kinds of session never share a cookie."""
    therapist_token = session.get("sid")
    if therapist_token:
        now = utcnow()

        def _end_therapist_session() -> None:
            with database.side_transaction() as writer:
                accounts.end_session(writer, therapist_token, now=now)

        database.after_close(_end_therapist_session)
    session.clear()
    moment = int(utcnow().timestamp())
    assert state.link is not None and state.patient is not None
    if pending:
        session.update(portal_pending=state.link.id, portal_pending_at=moment)
    else:
        session.update(portal_link_id=state.link.id, portal_patient_id=state.patient.id, portal_started=moment,
                       portal_seen=moment)
        if device_id is not None:
            session["portal_device_id"] = device_id


def end_patient_session(*, phone: str = "") -> None:
    """Forget the patient (keeping only their language and text size, and the clinic's phone for the page
    that says the session ended)."""
    kept = {key: session[key] for key in _PREFERENCE_KEYS if key in session}
    session.clear()
    session.update(kept)
    if phone:
        session["portal_phone"] = phone


def invalid_link(state: LinkState, *, action: str = "portal.open") -> tuple[str, int]:
    """The friendly "this link is no longer valid" page: 404 for a token we never issued, 410 otherwise."""
    apply_preferences(state.patient)
    g.clinic = state.clinic
    _audit_denial_once(f"{action}.{state.reason}", state)
    status = 404 if state.reason == "unknown" else 410
    return page("portal/message.html", kind=state.reason, clinic=state.clinic), status


def _audit_denial_once(action: str, state: LinkState) -> None:
    """Audit a dead link's use once per link, kind and throttle window: a revoked link, or a copied cookie of
    its session, opened again and again by anyone (no sign-in needed) must not grow the audit trail."""
    now, key = utcnow(), security.audit_key()
    window = timedelta(minutes=float(current_app.config["LOGIN_THROTTLE_WINDOW_MINUTES"]))
    link_id = state.link.id if state.link else None
    patient_id = state.patient.id if state.patient else None
    clinic_id = state.clinic.id if state.clinic else None

    def _write() -> None:
        with database.side_transaction() as writer:
            if throttling.note_throttled(writer, key=f"{action}:{link_id}", now=now, window=window):
                audit.record_event(writer, key=key, action=action, outcome="denied", at=now, clinic_id=clinic_id,
                                   patient_id=patient_id, object_type="portal_link", object_id=link_id)

    database.after_close(_write)


def count_unknown_token(address: str, now: datetime, *, action: str, object_type: str) -> timedelta | None:
    """A token issued to no one (a link, a calendar address): counted against the address and audited after the
    request (a GET's own transaction only reads). Once the address has too many, nothing more is counted and the
    pause is audited once per window. Returns the window while the address is paused, else None."""
    window = timedelta(minutes=current_app.config["LOGIN_THROTTLE_WINDOW_MINUTES"])
    limit = int(setting("PORTAL_MAX_BAD_TOKENS_PER_ADDRESS"))
    throttled = portal_links.bad_token_count(get_session(), address=address, since=now - window) >= limit
    key = security.audit_key()

    def _write() -> None:
        with database.side_transaction() as writer:
            if not throttled:
                portal_links.record_bad_token(writer, address=address, now=now)
                audit.record_event(writer, key=key, action=action, outcome="denied", at=now, object_type=object_type)
            elif throttling.note_throttled(writer, key=f"portal-address:{address}", now=now, window=window):
                audit.record_event(writer, key=key, action="portal.throttled", outcome="denied", at=now)

    database.after_close(_write)
    return window if throttled else None


# ------------------------------------------------------------------------------------------ errors under /p/


def _patient_error_page(error: Exception, error_id: str | None) -> Any:
    """Every error under /p/ in the patient's words and language, with the clinic's phone and the way back when
    the session is live: an old or mistyped address, a wrong method, an expired form, a server error. Never the
    therapist's error page and its "Go to the patient list"."""
    if "portal" not in g and error_id is None:  # no portal view was matched, so the guard never ran
        _recognise_patient()
    if isinstance(error, CSRFError):
        return page("portal/message.html", kind="form_expired"), 400
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    if code >= 500:
        return page("portal/message.html", kind="server_error", error_id=error_id), code
    return page("portal/message.html", kind="not_found" if code in (404, 405) else "bad_request"), code


def _recognise_patient() -> None:
    """The patient of a live session, read only: the page keeps its language and the way back, and neither the
    idle clock nor the audit moves for an address that leads nowhere."""
    g.portal = None
    apply_preferences(None)
    link_id, patient_id = session.get("portal_link_id"), session.get("portal_patient_id")
    if not isinstance(link_id, int) or not isinstance(patient_id, int) or _timed_out(int(utcnow().timestamp())):
        return
    state = portal_links.link_state(get_session(), link_id=link_id, now=utcnow())
    if state.ok and state.patient is not None and state.patient.id == patient_id:
        g.portal = state
        apply_preferences(state.patient)


area_error_page(bp, _patient_error_page)
