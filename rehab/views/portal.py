"""The patient portal: opening the personal link, the patient session and its guard (SECURITY.md 9, 22-24).

Patients have no account. Opening the link (``GET /p/<token>``) starts a short patient session in Flask's
signed cookie and redirects to a URL without the token; apart from that cookie and the audit trail the GET
changes nothing, because mail scanners open links too. Every later request re-checks the link in the
database, so revoking it, rotating it or ending the protocol ends the session at once. Portal pages are not
therapist pages: ``rehab.security`` leaves them to the guard here, and nothing here ever sets ``g.user``.
The pages themselves are in ``portal_pages``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from babel.dates import get_month_names
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from rehab import db as database
from rehab import once, security
from rehab.db import get_session
from rehab.i18n import LANGUAGES
from rehab.models import Patient, utcnow
from rehab.services import accounts, audit, home_plan, portal_links, protocol_records, throttling
from rehab.services.portal_links import LinkState
from rehab.services.protocol_content import Phase
from rehab.services.submissions import AlreadySubmitted

bp = Blueprint("portal", __name__, url_prefix="/p")

# Reachable with no patient session at all (listed in rehab.security.PUBLIC_ENDPOINTS too).
OPEN_ENDPOINTS = frozenset({"portal.open", "portal.closed"})
# Reachable while a link waits for its date-of-birth check; they change only the patient's own cookie.
PENDING_ENDPOINTS = frozenset({"portal.check", "portal.language", "portal.text_size"})
TEXT_SIZES = ("normal", "large")
_PREFERENCE_KEYS = ("portal_language", "portal_text_size")

PENDING_MINUTES = 15


def _setting(name: str) -> float:
    """A portal limit from the settings (defaults in rehab/config.py)."""
    return float(current_app.config[name])


# -------------------------------------------------------------------------------------------------- the guard


@bp.before_request
def _guard() -> Any:
    """Every portal page needs a live patient session, except the link itself and the "closed" page."""
    g.portal = None
    apply_preferences(None)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.endpoint in PENDING_ENDPOINTS and session.get("portal_pending"):
        return None
    return require_patient_session()


def portal_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """For a patient page outside this blueprint (e.g. the home-sheet download): the same guard, and the mark
    that tells ``rehab.security`` to leave the request to it."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.portal = None
        apply_preferences(None)
        denied = require_patient_session()
        return denied if denied is not None else view(*args, **kwargs)

    wrapped.portal_guarded = True  # type: ignore[attr-defined]
    return wrapped


def require_patient_session() -> Any:
    """Load the patient session and re-check its link; None when the request may go on, else the answer."""
    link_id, patient_id = session.get("portal_link_id"), session.get("portal_patient_id")
    if not isinstance(link_id, int) or not isinstance(patient_id, int):
        return redirect(url_for("portal.closed"))
    now = utcnow()
    state = portal_links.link_state(get_session(), link_id=link_id, now=now)
    if not state.ok or state.patient is None or state.patient.id != patient_id:
        end_patient_session()
        return invalid_link(state, action="portal.session")
    moment = int(now.timestamp())
    started, seen = session.get("portal_started", 0), session.get("portal_seen", 0)
    if moment - started > _setting("PORTAL_SESSION_HOURS") * 3600 \
            or moment - seen > _setting("PORTAL_IDLE_MINUTES") * 60:
        end_patient_session(phone=state.clinic.phone if state.clinic else "")
        return redirect(url_for("portal.closed"))
    g.portal, g.clinic = state, state.clinic  # g.clinic: audit rows and local times; g.user stays None
    apply_preferences(state.patient)
    session["portal_seen"] = moment
    return None


def apply_preferences(patient: Patient | None) -> None:
    """The patient's language (their choice, else the clinic's record, else the browser's) and text size."""
    language = session.get("portal_language")
    if language not in LANGUAGES:
        language = patient.language if patient is not None and patient.language in LANGUAGES else None
    if language is None:
        language = request.accept_languages.best_match(list(LANGUAGES)) or "en"
    g.patient_language = language
    g.text_size = session.get("portal_text_size") if session.get("portal_text_size") in TEXT_SIZES else "normal"


def start_patient_session(state: LinkState, *, pending: bool) -> None:
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


def end_patient_session(*, phone: str = "") -> None:
    """Forget the patient (keeping only their language and text size, and the clinic's phone for the page
    that says the session ended)."""
    kept = {key: session[key] for key in _PREFERENCE_KEYS if key in session}
    session.clear()
    session.update(kept)
    if phone:
        session["portal_phone"] = phone


def page(template: str, **context: Any) -> str:
    """Render a portal page with what every portal page shows (clinic phone, language, text size)."""
    if "patient_language" not in g:  # an error raised before the guard ran (e.g. an expired form)
        apply_preferences(None)
    state: LinkState | None = g.get("portal")
    clinic = context.pop("clinic", None)
    clinic = state.clinic if state is not None else clinic
    sheet = None
    # Whether the current phase has anything for home: without it the pages offer no "Log a session".
    home_prescribed = home_plan.prescribed_for_home(_current_phase(state)) if state is not None and \
        state.protocol is not None else True
    if state is not None and "handouts.portal_sheet" in current_app.view_functions:
        sheet = url_for("handouts.portal_sheet")  # the home sheet download, once the handouts feature has it
    return render_template(template, portal=state, clinic=clinic, lang=g.patient_language,
                           text_size=g.get("text_size", "normal"), languages=LANGUAGES, sheet_url=sheet,
                           pending=bool(session.get("portal_pending")), home_prescribed=home_prescribed, **context)


def _current_phase(state: LinkState) -> Phase:
    protocol = state.protocol
    version = protocol_records.get_version(get_session(), protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[union-attr, arg-type]
    return protocol_records.load_content(version).phases[protocol.current_phase]  # type: ignore[union-attr, arg-type]


def link_url(token: str) -> str:
    """A patient's personal link, as printed on sheets and QR codes and shown on the share page.

    From ``PUBLIC_URL`` when the install sets it, else from the request's address: a link built from whatever
    Host header a request carried could send patients (and their token) to another site."""
    public = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    if public:
        return public + url_for("portal.open", token=token)
    return url_for("portal.open", token=token, _external=True)


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


def audit_event(action: str, *, patient_id: int | None, object_type: str = "", object_id: int | None = None,
                outcome: str = "ok") -> None:
    """An audit row in the request's own transaction (committed with the change it describes)."""
    audit.record_event(get_session(), key=security.audit_key(), action=action,
                       clinic_id=g.clinic.id if g.get("clinic") else None, patient_id=patient_id,
                       object_type=object_type, object_id=object_id, outcome=outcome)


@bp.errorhandler(404)
def _not_found(_error: Any) -> Any:
    return page("portal/message.html", kind="not_found"), 404


@bp.errorhandler(CSRFError)
def expired_form(_error: Any) -> Any:
    """The patient's version of "this form has expired": plain words, the clinic's phone."""
    return page("portal/message.html", kind="form_expired"), 400


# ------------------------------------------------------------------------------------------ opening the link


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
    window = timedelta(minutes=current_app.config["LOGIN_THROTTLE_WINDOW_MINUTES"])
    limit = int(_setting("PORTAL_MAX_BAD_TOKENS_PER_ADDRESS"))
    throttled = portal_links.bad_token_count(get_session(), address=address, since=now - window) >= limit
    key = security.audit_key()

    def _write() -> None:  # a GET request's own transaction only reads
        with database.side_transaction() as writer:
            if not throttled:
                portal_links.record_bad_token(writer, address=address, now=now)
                audit.record_event(writer, key=key, action="portal.open.unknown", outcome="denied", at=now,
                                   object_type="portal_link")
            elif throttling.note_throttled(writer, key=f"portal-address:{address}", now=now, window=window):
                audit.record_event(writer, key=key, action="portal.throttled", outcome="denied", at=now)

    database.after_close(_write)
    if throttled:
        return page("portal/message.html", kind="throttled", minutes=int(window.total_seconds() // 60)), 429
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
            db.commit()
            if outcome == "ok":
                start_patient_session(state, pending=False)
                return redirect(url_for("portal.home"))
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
    """Close the patient's page on this phone (for shared phones)."""
    state: LinkState = g.portal
    security.record_read("portal.leave", patient_id=state.patient.id if state.patient else None)
    end_patient_session(phone=state.clinic.phone if state.clinic else "")
    return redirect(url_for("portal.closed"))


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


# The pages' routes (exercises, progress, home log; questionnaires) live on this blueprint.
from rehab.views import portal_pages, portal_questionnaires  # noqa: E402, F401
