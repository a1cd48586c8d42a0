"""Sign-in, sign-out and switching clinic."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from rehab import kept_forms, known_devices, security
from rehab.db import get_session
from rehab.known_devices import KnownDevice
from rehab.models import utcnow
from rehab.request_guard import bounded_id
from rehab.services import accounts, audit, throttling

bp = Blueprint("auth", __name__)

INVALID = "The email or password is not right."
THROTTLED = ("Too many failed sign-ins. Wait 15 minutes and try again, or ask your clinic's admin to reset "
             "your password.")


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot bounce a therapist to another site after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and target.isprintable():  # a line break would break the redirect's header (a 500)
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Email and password; the same answer for an unknown email and a wrong password.

    The password is verified (argon2, about 135 ms) before anything is written, so on SQLite no other write
    waits for it (rehab/db.py takes the write lock at the first write). The throttle is then counted again
    under the account's lock (``lock_account``), so parallel guesses never get past the limit. A failed
    sign-in answers with an error page and is saved with it: throttling counts it."""
    if g.user is not None and request.method == "GET":
        return redirect(url_for("main.index"))
    error = None
    email = request.form.get("email", "")[:254]
    if request.method == "POST":
        db = get_session()
        now = utcnow()
        address = (request.remote_addr or "unknown")[:64]
        config = current_app.config
        limits = throttling.ThrottleLimits(
            per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            window=timedelta(minutes=config["LOGIN_THROTTLE_WINDOW_MINUTES"]),
        )
        password = request.form.get("password", "")[:256]
        known = known_devices.device_for(request.cookies.get(known_devices.COOKIE), email,
                                         secret=security.secret_key())
        device = known.key if known else None
        over = throttling.throttled_by(db, email=email, address=address, device=device, now=now, limits=limits)
        user = rehashed = None
        if over is None:
            user, rehashed = accounts.check_credentials(db, security.hasher(), email=email, password=password)
        clinics = accounts.clinics_for(db, user.id) if user else []
        if over is None:
            throttling.lock_account(db, email)
            over = throttling.throttled_by(db, email=email, address=address, device=device, now=now, limits=limits)
        if over is not None:
            _note_throttled(db, over, email=email, address=address, known=known, now=now, window=limits.window)
            error = THROTTLED
        elif user is None or not clinics:
            throttling.record_attempt(db, email=email, address=address, device=device, succeeded=False, now=now)
            # A known account's failures show in its clinic's audit trail; unknown emails stay anonymous.
            known_id, known_clinic = accounts.account_and_clinic(db, email)
            audit.record_event(db, key=security.audit_key(), action="login.failed", outcome="failed", at=now,
                               user_id=known_id, clinic_id=known_clinic)
            error = INVALID
        else:
            if rehashed:
                user.password_hash = rehashed
                db.add(user)
            if session.get("sid"):  # signing in again ends the session this browser had
                accounts.end_session(db, session["sid"], now=now)
            session.clear()  # a new session at sign-in (SECURITY.md 6)
            # A form this account sent after its session timed out: back to it, in the clinic it was sent in.
            kept = kept_forms.after_sign_in(user.id)
            clinic_id = kept[1] if kept and kept[1] in {clinic.id for clinic in clinics} else clinics[0].id
            token = accounts.start_session(db, user_id=user.id, clinic_id=clinic_id, now=now)
            accounts.clear_failures(db, email=email, device=device)
            throttling.record_attempt(db, email=email, address=address, device=None, succeeded=True, now=now)
            audit.record_event(db, key=security.audit_key(), action="login", user_id=user.id,
                               clinic_id=clinic_id, at=now)
            session["sid"] = token
            # For the clinic switcher, shown only to therapists of more than one clinic.
            session["clinics"] = [[clinic.id, clinic.name] for clinic in clinics]
            session.permanent = True
            response = redirect(kept[0] if kept and clinic_id == kept[1] else _safe_next(request.args.get("next")))
            known_devices.remember(response, request.cookies.get(known_devices.COOKIE), email,
                                   secret=security.secret_key(),
                                   secure=config["SESSION_COOKIE_SECURE"] or request.is_secure)
            return response
    status = 200 if error is None else 401
    return render_template("auth/login.html", error=error, email=email), status


def _note_throttled(db: Session, over: str, *, email: str, address: str, known: KnownDevice | None, now: datetime,
                    window: timedelta) -> None:
    """One audit event per throttled address, account or device per window, however often it retries."""
    subject = {"address": address, "account": throttling.account_key(email),
               "device": known.key if known else ""}[over]
    if throttling.note_throttled(db, key=f"login-{over}:{subject}", now=now, window=window):
        known_id, known_clinic = accounts.account_and_clinic(db, email) if over != "address" else (None, None)
        audit.record_event(db, key=security.audit_key(), action="login.throttled", outcome="denied", at=now,
                           user_id=known_id, clinic_id=known_clinic)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session on the server too, so a copied cookie stops working (SECURITY.md 5)."""
    db = get_session()
    accounts.end_session(db, session["sid"], now=utcnow())
    security.record("logout")
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/session")
def session_status() -> ResponseReturnValue:
    """How long this browser's session has left, for the idle warning of each open tab. Asking is not activity:
    it does not move the sign-out (rehab/security.py). Signed out, the answer is the usual redirect to sign-in."""
    return jsonify(security.session_timing())


@bp.post("/session/stay")
def stay_signed_in() -> ResponseReturnValue:
    """"Stay signed in" on the idle warning: counts as activity now, in every tab of this browser."""
    now = utcnow()
    accounts.touch_session(get_session(), session_id=g.user_session.id, now=now)
    return jsonify(security.session_timing(seen=now))


@bp.post("/clinic")
def switch_clinic() -> ResponseReturnValue:
    """Work in another of the therapist's clinics; every page is then scoped to it."""
    db = get_session()
    clinic_id = request.form.get("clinic_id", type=bounded_id)
    if clinic_id not in {clinic.id for clinic in accounts.clinics_for(db, g.user.id)}:
        abort(404)
    g.user_session.clinic_id = clinic_id
    db.add(g.user_session)
    security.record("clinic.switch", object_type="clinic", object_id=clinic_id)
    return redirect(url_for("patients.index"))
