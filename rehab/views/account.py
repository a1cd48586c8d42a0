"""The signed-in user's own account: who they are, where they work, and changing their own password."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from rehab import db as database
from rehab import once, security
from rehab.db import get_session
from rehab.models import User, utcnow
from rehab.services import accounts, memberships, throttling
from rehab.views import refuse

bp = Blueprint("account", __name__)

SIGNED_OUT = (f"The current password was wrong {throttling.PASSWORD_CHECK_LIMIT} times, so this browser was signed "
              "out. Sign in again to change your password.")


def _page(errors: dict[str, str] | None = None) -> str:
    db = get_session()
    return render_template("account/index.html", errors=errors or {},
                           work_places=memberships.clinics_with_roles(db, g.user.id))


@bp.get("/account")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/account/password")
def change_password() -> ResponseReturnValue:
    """Change one's own password: the current one is asked; every other session of the account ends, this one
    stays. Nothing is saved on error, but a wrong current password is counted (``_count_wrong_current``)."""
    db = get_session()
    once.claim("account.password")
    user: User = g.user
    now = utcnow()
    window = timedelta(minutes=current_app.config["LOGIN_THROTTLE_WINDOW_MINUTES"])
    key = throttling.password_check_key(user.email)
    earlier = throttling.recent_failures(db, key=key, now=now, window=window)
    if earlier >= throttling.PASSWORD_CHECK_LIMIT:  # guessed from another session of the account meanwhile
        _sign_out()
    password = request.form.get("password", "")
    errors = accounts.own_password_problems(
        security.hasher(), user, current=request.form.get("current_password", "")[:256], password=password,
        repeat=request.form.get("password_repeat", ""))
    if "current_password" in errors:
        _count_wrong_current(key)
        if earlier + 1 >= throttling.PASSWORD_CHECK_LIMIT:
            _sign_out()
    if errors:
        refuse(_page(errors), 422)
    accounts.set_password(db, security.hasher(), user, password=password, now=now,
                          keep_session_id=g.user_session.id)
    security.record_in_clinics("user.password_change", memberships.clinic_ids_of(db, user.id),
                               object_type="user", object_id=user.id)
    flash("Your password was changed. You stay signed in here; every other browser or device signed in as you "
          "was signed out.", "success")
    return redirect(once.leads_to(url_for("account.index")))


def _count_wrong_current(key: str) -> None:
    """Kept although the request is refused and rolled back: written once its session is closed."""
    address = (request.remote_addr or "unknown")[:64]
    now = utcnow()

    def _write() -> None:
        with database.side_transaction() as writer:
            throttling.record_attempt(writer, email="", address=address, device=None, succeeded=False, now=now,
                                      key=key)

    database.after_close(_write)
    security.record_denial("user.password_change.failed", object_type="user", object_id=g.user.id)


def _sign_out() -> NoReturn:
    """Too many wrong current passwords: this browser's session ends (the owner signs in again; a guesser
    at an unlocked screen is out)."""
    token, now = session["sid"], utcnow()

    def _end() -> None:
        with database.side_transaction() as writer:
            accounts.end_session(writer, token, now=now)

    database.after_close(_end)
    session.clear()
    flash(SIGNED_OUT, "error")
    refuse(redirect(url_for("auth.login")))
