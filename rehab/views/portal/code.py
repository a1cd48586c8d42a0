"""The page where a patient types the short code from their sheet (``/p/code``; docs/security.md, "Short codes").

A plain form: one field, read kindly (``portal_codes.normalise``), its message beside it. A right code opens
the portal as the long link does, through the date-of-birth check where the link has it. Wrong codes are
counted per address and for everyone together in the shared attempts table; past either limit no code is
looked up at all until the window has passed, so guessing cannot go on, and the page says what to do instead
(the QR code or the link in the text message still work).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, redirect, request, session, url_for
from flask_babel import gettext as _

from rehab import db as database
from rehab import once, security
from rehab.db import get_session
from rehab.i18n import LANGUAGES
from rehab.models import utcnow
from rehab.services import audit, portal_codes, portal_links, throttling
from rehab.services.portal_codes import CodeLimits, Typed
from rehab.services.submissions import AlreadySubmitted
from rehab.views.portal.blueprint import bp
from rehab.views.portal.guard import invalid_link, start_patient_session
from rehab.views.portal.layout import apply_preferences, page


def _limits() -> CodeLimits:
    config = current_app.config
    return CodeLimits(per_address=int(config["PORTAL_CODE_MAX_WRONG_PER_ADDRESS"]),
                      everyone=int(config["PORTAL_CODE_MAX_WRONG_EVERYONE"]),
                      window=timedelta(minutes=float(config["LOGIN_THROTTLE_WINDOW_MINUTES"])))


def _format_problem(typed: Typed) -> str:
    if typed.problem == "empty":
        return _("Type the code from your sheet.")
    if typed.problem == "symbol":
        return _("“%(char)s” is not in any code. A code has only letters and numbers, like K7QM-3XPA.",
                 char=typed.unknown)
    return _("A code has 8 letters and numbers, like K7QM-3XPA. You typed %(num)s.", num=typed.symbols)


@bp.route("/code", methods=["GET", "POST"])
def code():  # type: ignore[no-untyped-def]
    """Type the code from your sheet."""
    typed_text = request.form.get("code", "") if request.method == "POST" else ""
    if request.method == "GET":
        # No patient session here yet, so no settings footer: the page offers its other language as a link,
        # which changes only the phone's own cookie (as the language buttons do).
        if request.args.get("lang") in LANGUAGES:
            session["portal_language"] = request.args["lang"]
            apply_preferences(None)
        return page("portal/code.html", typed=typed_text, error=None)
    typed = portal_codes.normalise(typed_text)
    if typed.code is None:
        return page("portal/code.html", typed=typed_text, error=_format_problem(typed)), 422
    db, now = get_session(), utcnow()
    address = (request.remote_addr or "unknown")[:64]
    limits = _limits()
    paused = portal_codes.throttled(db, address=address, now=now, limits=limits)
    if paused is not None:
        _note_paused(paused, address=address, window=limits.window)
        minutes = int(limits.window.total_seconds() // 60)
        message = (_("Too many wrong codes were typed from this connection. Wait %(minutes)s minutes and try again, "
                     "or scan the square on your sheet, or open the link in your text message.", minutes=minutes)
                   if paused == "address" else
                   _("Typing codes is paused for a few minutes because of many wrong tries on this site. Wait "
                     "%(minutes)s minutes and try again, or scan the square on your sheet, or open the link in "
                     "your text message.", minutes=minutes))
        return page("portal/code.html", typed=typed_text, error=message), 429
    link = portal_codes.find(db, secret=security.secret_key(), code=typed.code)
    if link is None:
        wrong = _("That code does not match any page. Check each letter and number against your sheet.")
        # One try per form sent: a double tap on a wrong code counts once towards the limits.
        try:
            once.claim("portal.code")
        except AlreadySubmitted:
            return page("portal/code.html", typed=typed_text, error=wrong), 422
        portal_codes.record_wrong(db, address=address, now=now)
        audit.record_event(db, key=security.audit_key(), action="portal.code.unknown", outcome="denied", at=now,
                           object_type="portal_link")
        return page("portal/code.html", typed=typed_text, error=wrong), 422
    state = portal_links.link_state(db, link_id=link.id, now=now)
    if not state.ok:
        return invalid_link(state, action="portal.code")
    start_patient_session(state, pending=link.require_birth_date)
    security.record_read("portal.code", patient_id=link.patient_id, object_type="portal_link", object_id=link.id)
    return redirect(url_for("portal.check" if link.require_birth_date else "portal.home"))


def _note_paused(paused: str, *, address: str, window: timedelta) -> None:
    """One audit event per address (or for everyone) and window, not one per refused try."""
    now, key = utcnow(), security.audit_key()
    throttle_key = f"portal-code-address:{address}" if paused == "address" else "portal-code-everyone"

    def _write() -> None:
        with database.side_transaction() as writer:
            if throttling.note_throttled(writer, key=throttle_key, now=now, window=window):
                audit.record_event(writer, key=key, action=f"portal.code.paused.{paused}", outcome="denied", at=now)

    database.after_close(_write)
