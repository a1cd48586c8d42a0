"""Deny by default, server-side sessions, CSRF and response headers (SECURITY.md 5-8, 16-17)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from argon2 import PasswordHasher
from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from rehab import db, kept_forms
from rehab.models import Clinic, utcnow
from rehab.services import accounts, audit
from rehab.services.passwords import make_hasher

csrf = CSRFProtect()

# Endpoints reachable without signing in (SECURITY.md 8). Everything else redirects to sign-in, except the
# patient portal's blueprint, which answers to the portal's own guard (see _load_signed_in_user).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "main.health", "main.ping", "portal.open", "portal.closed",
                              "portal.code", "portal.calendar", "portal.service_worker", "portal.manifest",
                              "portal.offline", "fhir.metadata"})

# How often a session's "last seen" time is written; the idle timeout is accurate to this.
_TOUCH_EVERY = timedelta(seconds=60)
# The idle warning's lead (rehab/static/js/session.js): "Stay signed in" is offered this long before the sign-out.
WARN_BEFORE = timedelta(minutes=2)
# Asking how long the session has left is not activity: the idle warning of every open tab asks it.
_NOT_ACTIVITY = frozenset({"auth.session_status"})
# The cookie's note of a session that timed out, so a form its open pages send afterwards can be kept for its
# account (rehab/kept_forms.py). Only a session that ended by time is found by it; sign-in and sign-out clear it.
TIMED_OUT = "timed_out_sid"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.extensions["rehab.hasher"] = make_hasher(
        time_cost=app.config["PASSWORD_HASH_TIME_COST"], memory_kib=app.config["PASSWORD_HASH_MEMORY_KIB"]
    )
    app.extensions["rehab.audit_key"] = audit.chain_key(audit_key=app.config["AUDIT_KEY"],
                                                        secret_key=app.config["SECRET_KEY"])
    app.before_request(_load_signed_in_user)
    app.after_request(_set_security_headers)

    @app.context_processor
    def _inject_user() -> dict[str, Any]:
        return {"current_user": g.get("user"), "current_clinic": g.get("clinic"),
                "current_is_admin": bool(g.get("is_clinic_admin")), "session_timing": session_timing}


def hasher() -> PasswordHasher:
    hasher: PasswordHasher = current_app.extensions["rehab.hasher"]
    return hasher


def audit_key() -> bytes:
    """The key of the audit trail's HMAC chain (SECURITY.md 19), resolved once per app."""
    key: bytes = current_app.extensions["rehab.audit_key"]
    return key


def secret_key() -> str:
    """The app's SECRET_KEY (the config refuses to start without one), for what is signed or derived from it."""
    key: str = current_app.config["SECRET_KEY"]
    return key


def _load_signed_in_user() -> Any:
    g.user = g.clinic = g.user_session = None
    g.is_clinic_admin = False
    if request.endpoint == "static":
        return None
    if request.blueprint == "portal":
        # The patient portal answers to its own guard (rehab/views/portal/guard.py), which demands a live
        # patient session. A therapist's session is not even looked up here, so g.user stays None on every
        # patient page and a patient session can never pass the therapist check of any other page.
        return None
    token = session.get("sid")
    left_clinic = _resolve_session(token) if token else None
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.blueprint == "fhir":  # the FHIR API answers to its own bearer-token guard (rehab/views/fhir.py)
        return None
    if left_clinic is not None:
        return left_clinic
    if g.user is None:
        if request.method == "POST":
            _keep_form_sent_after_time_out()
        target = request.full_path.rstrip("?") if request.method == "GET" and request.path != "/" else None
        return redirect(url_for("auth.login", next=target))
    return None


def _keep_form_sent_after_time_out() -> None:
    """A form from a page whose session timed out: keep what was typed for that session's account."""
    token = session.get(TIMED_OUT)
    if not isinstance(token, str) or not token:
        return
    config = current_app.config
    owner = accounts.timed_out_owner(db.get_session(), token, now=utcnow(),
                                     idle=timedelta(minutes=config["IDLE_TIMEOUT_MINUTES"]),
                                     absolute=timedelta(hours=config["ABSOLUTE_SESSION_HOURS"]))
    if owner is None:
        return
    user_id, clinic_id = owner
    if kept_forms.keep_posted_form(user_id=user_id, clinic_id=clinic_id, audit_key=audit_key(),
                                   kept_for=timedelta(minutes=config["KEPT_FORM_MINUTES"])):
        flash("What you typed was kept, not saved. Sign in again: you will be back on the form to check it and "
              "press Save.", "info")


def _resolve_session(token: str) -> Any:
    """Find the live server-side session for the cookie, in the request's session (a read: no write lock).

    Returns a redirect when the session's clinic is no longer one of the user's (see _leave_clinic)."""
    now = utcnow()
    config = current_app.config
    active, reason = accounts.find_session(
        db.get_session(), token, now=now,
        idle=timedelta(minutes=config["IDLE_TIMEOUT_MINUTES"]),
        absolute=timedelta(hours=config["ABSOLUTE_SESSION_HOURS"]),
    )
    if active is None:
        csrf_token = session.get("csrf_token")
        session.clear()
        if reason in ("idle", "expired"):
            # The pages still open may send their forms: their CSRF token stays valid and the timed-out session
            # is noted, so what they send is kept for its account rather than lost (rehab/kept_forms.py).
            session[TIMED_OUT] = token
            if csrf_token:
                session["csrf_token"] = csrf_token
        if reason == "idle":
            flash(f"You were signed out after {config['IDLE_TIMEOUT_MINUTES']} minutes without activity. "
                  "Sign in again to continue.", "info")
        elif reason == "expired":
            flash("Your session reached its time limit. Sign in again to continue.", "info")
        return None
    if active.is_admin is None:
        return _leave_clinic(active, now)
    touching = now - active.record.last_seen_at >= _TOUCH_EVERY and request.endpoint not in _NOT_ACTIVITY
    seen = now if touching else active.record.last_seen_at
    g.session_ends = min(seen + timedelta(minutes=config["IDLE_TIMEOUT_MINUTES"]),
                         active.record.created_at + timedelta(hours=config["ABSOLUTE_SESSION_HOURS"]))
    if touching:
        session_id = active.record.id

        def _touch() -> None:
            with db.side_transaction() as writer:
                accounts.touch_session(writer, session_id=session_id, now=now)

        # After the request's own session is closed: a second connection writing while it is open would hold
        # two connections (PostgreSQL) or wait on the request's own write lock (SQLite). Never rolled back.
        db.after_close(_touch)
    g.user, g.clinic, g.user_session = active.user, active.clinic, active.record
    g.is_clinic_admin = active.is_admin
    return None


def _leave_clinic(active: accounts.ActiveSession, now: Any) -> Any:
    """The user was removed from the clinic this session works in: the session moves to another of their
    clinics, or ends when they have none. The request itself does not run: a form filled in for the old
    clinic must not be saved into the new one, so the browser goes to the new clinic's first page."""
    clinics = accounts.clinics_for(db.get_session(), active.user.id)
    session_id = active.record.id
    new_clinic = clinics[0] if clinics else None

    def _move() -> None:
        with db.side_transaction() as writer:
            accounts.move_session(writer, session_id=session_id, clinic_id=new_clinic.id if new_clinic else None,
                                  now=now)

    db.after_close(_move)  # as for _touch: after the request's own session is closed
    if new_clinic is None:
        session.clear()
        flash(f"You no longer work at {active.clinic.name} and belong to no other clinic, so you were signed "
              "out. Ask your clinic's admin to add you again.", "info")
        return redirect(url_for("auth.login"))
    _set_clinic_list(clinics)
    flash(f"You no longer work at {active.clinic.name}. You are now working at {new_clinic.name}.", "info")
    return redirect(url_for("main.index"))


def session_timing(*, seen: datetime | None = None) -> dict[str, Any]:
    """How long the signed-in session has left (for the idle warning), ``seen`` being a touch made just now.

    ``limit`` says it ends at its absolute limit, which "Stay signed in" cannot move."""
    config, record = current_app.config, g.user_session
    idle = timedelta(minutes=config["IDLE_TIMEOUT_MINUTES"])
    limit = record.created_at + timedelta(hours=config["ABSOLUTE_SESSION_HOURS"])
    ends = min(seen + idle, limit) if seen is not None else g.session_ends
    left = max(0, round((ends - utcnow()).total_seconds()))
    warn = int(min(WARN_BEFORE, idle / 2).total_seconds())
    return {"signed_in": True, "seconds_left": left, "warn_seconds": warn, "limit": ends >= limit}


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins (of the clinic they are working in) may use this view (SECURITY.md 11)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None or not g.get("is_clinic_admin"):
            record_denial("admin.denied")
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def record(action: str, *, patient_id: int | None = None, object_type: str = "",
           object_id: int | None = None) -> None:
    """Audit a successful action in the request's own transaction (committed with the change)."""
    audit.record_event(db.get_session(), key=audit_key(), action=action, user_id=_user_id(), clinic_id=_clinic_id(),
                       patient_id=patient_id, object_type=object_type, object_id=object_id)


def record_in_clinics(action: str, clinic_ids: set[int], *, object_type: str = "",
                      object_id: int | None = None) -> None:
    """Audit one action in each of these clinics' trails (an account's password or status concerns every
    clinic it works in, and each clinic's admins must see it)."""
    for clinic_id in sorted(clinic_ids):
        audit.record_event(db.get_session(), key=audit_key(), action=action, user_id=_user_id(),
                           clinic_id=clinic_id, object_type=object_type, object_id=object_id)


def refresh_clinic_list(user_id: int) -> None:
    """The clinic switcher's list in the cookie, after the signed-in user's own memberships changed."""
    _set_clinic_list(accounts.clinics_for(db.get_session(), user_id))


def _set_clinic_list(clinics: list[Clinic]) -> None:
    session["clinics"] = [[clinic.id, clinic.name] for clinic in clinics]


def record_read(action: str, *, patient_id: int | None = None, object_type: str = "",
                object_id: int | None = None) -> None:
    """Audit a page that shows records: its row is written once the view has returned, in the request's own
    transaction, and committed with it (``db.before_commit``).

    A read used to be audited in a write transaction of its own after the request (a second connection,
    session and commit on every patient page). In the request's one commit instead, no row is lost and none
    is made up:

    - A page that is served has its row. The row is committed before the page can leave the app (the body
      is sent once the view's commit, the response hooks and the request's teardown are done); when writing
      it or the commit fails, the answer is an error page, not the records. A worker that crashes after
      sending has nothing left to write: there is no buffer outside the database to lose.
    - No row without a page. A view that raises after recording (a template that fails) rolls its row back
      with everything else of the request.
    - Reads at once each take the chain's lock (``audit.record_event``) only for their commit's last
      statements, and chain in the order they commit.

    A denial is different: the request usually rolls back after it, so ``record_denial`` writes afterwards. So
    is a read recorded by a hook before the view (which may answer instead of it, so that no view commits):
    it is written after the request, as a denial is."""
    if not db.in_view():
        _record_after(action, patient_id=patient_id, object_type=object_type, object_id=object_id, outcome="ok")
        return
    user_id, clinic_id, key = _user_id(), _clinic_id(), audit_key()

    def _write() -> None:
        audit.record_event(db.get_session(), key=key, action=action, user_id=user_id, clinic_id=clinic_id,
                           patient_id=patient_id, object_type=object_type, object_id=object_id)

    db.before_commit(_write)


def record_denial(action: str, *, patient_id: int | None = None, object_type: str = "",
                  object_id: int | None = None) -> None:
    """Audit a refusal after the request's transaction is closed, so the rollback that follows it (an abort)
    does not lose it."""
    _record_after(action, patient_id=patient_id, object_type=object_type, object_id=object_id, outcome="denied")


def _record_after(action: str, *, patient_id: int | None, object_type: str, object_id: int | None,
                  outcome: str) -> None:
    """Audit in a transaction of its own once the request's session is closed (``db.after_close``)."""
    user_id, clinic_id, key = _user_id(), _clinic_id(), audit_key()

    def _write() -> None:
        with db.side_transaction() as writer:
            audit.record_event(writer, key=key, action=action, user_id=user_id, clinic_id=clinic_id,
                               patient_id=patient_id, object_type=object_type, object_id=object_id,
                               outcome=outcome)

    db.after_close(_write)


def _user_id() -> int | None:
    return g.user.id if g.get("user") is not None else None


def _clinic_id() -> int | None:
    return g.clinic.id if g.get("clinic") is not None else None


def _set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "static":
        # Pages carry patient data: never keep them in a shared or browser cache (SECURITY.md 17).
        headers["Cache-Control"] = "no-store"
    return response
