"""Sign-in, sign-out and switching clinic."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from rehab import security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.services import accounts, audit

bp = Blueprint("auth", __name__)

INVALID = "The email or password is not right."
THROTTLED = ("Too many failed sign-ins. Wait 15 minutes and try again, or ask your clinic's admin to reset "
             "your password.")


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot bounce a therapist to another site after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Email and password; the same answer for an unknown email and a wrong password."""
    if g.user is not None and request.method == "GET":
        return redirect(url_for("main.index"))
    error = None
    email = request.form.get("email", "")[:254]
    if request.method == "POST":
        db = get_session()
        now = utcnow()
        address = request.remote_addr or "unknown"
        config = current_app.config
        limits = accounts.ThrottleLimits(
            per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            window=timedelta(minutes=config["LOGIN_THROTTLE_WINDOW_MINUTES"]),
        )
        password = request.form.get("password", "")[:256]
        if accounts.is_throttled(db, email=email, address=address, now=now, limits=limits):
            audit.record_event(db, key=security.audit_key(), action="login.throttled", outcome="denied", at=now)
            error = THROTTLED
        else:
            user = accounts.check_credentials(db, security.hasher(), email=email, password=password)
            clinics = accounts.clinics_for(db, user.id) if user else []
            if user is None or not clinics:
                accounts.record_attempt(db, email=email, address=address, succeeded=False, now=now)
                # A known account's failures show in its clinic's audit trail; unknown emails stay anonymous.
                known_id, known_clinic = accounts.account_and_clinic(db, email)
                audit.record_event(db, key=security.audit_key(), action="login.failed", outcome="failed", at=now,
                                   user_id=known_id, clinic_id=known_clinic)
                error = INVALID
            else:
                if session.get("sid"):  # signing in again ends the session this browser had
                    accounts.end_session(db, session["sid"], now=now)
                session.clear()  # a new session at sign-in (SECURITY.md 6)
                token = accounts.start_session(db, user_id=user.id, clinic_id=clinics[0].id, now=now)
                accounts.clear_failures(db, email=email)
                accounts.record_attempt(db, email=email, address=address, succeeded=True, now=now)
                audit.record_event(db, key=security.audit_key(), action="login", user_id=user.id,
                                   clinic_id=clinics[0].id, at=now)
                db.commit()
                session["sid"] = token
                # For the clinic switcher, shown only to therapists of more than one clinic.
                session["clinics"] = [[clinic.id, clinic.name] for clinic in clinics]
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")))
        db.commit()  # keep the failed attempt: throttling counts it
    status = 200 if error is None else 401
    return render_template("auth/login.html", error=error, email=email), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End the session on the server too, so a copied cookie stops working (SECURITY.md 5)."""
    db = get_session()
    accounts.end_session(db, session["sid"], now=utcnow())
    security.record("logout")
    db.commit()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/clinic")
def switch_clinic():  # type: ignore[no-untyped-def]
    """Work in another of the therapist's clinics; every page is then scoped to it."""
    db = get_session()
    clinic_id = request.form.get("clinic_id", type=int)
    if clinic_id not in {clinic.id for clinic in accounts.clinics_for(db, g.user.id)}:
        abort(404)
    g.user_session.clinic_id = clinic_id
    db.add(g.user_session)
    security.record("clinic.switch", object_type="clinic", object_id=clinic_id)
    db.commit()
    return redirect(url_for("patients.index"))
