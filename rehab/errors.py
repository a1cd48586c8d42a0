"""Friendly error pages. A 500 shows an error id to quote, never a traceback (SECURITY.md 18)."""

from __future__ import annotations

import logging
import secrets
import traceback

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("rehab.errors")

_PAGES = {
    400: ("Something in that request was not right", "Go back, reload the page and try again."),
    403: ("You do not have access to this page", "Ask your clinic's admin if you need it."),
    404: ("We could not find that page", "The link may be old, or the record belongs to another clinic."),
    405: ("That action is not available here", "Go back and use the buttons on the page."),
    413: ("That was too much to send at once",
          "Notes and other fields have length limits. Go back, shorten the text and save again."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError) -> ResponseReturnValue:
        # The patient portal answers its own expired forms (rehab/views/portal/layout.py).
        return render_template(
            "errors/error.html", code=400, title="This form has expired",
            hint="For your safety, forms stop working after you sign out or your session ends. "
                 "Go back, reload the page and enter your changes again.",
        ), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code is None or error.code >= 500:
            return _server_error(error)
        title, hint = _PAGES.get(error.code, (error.name, error.description or ""))
        return render_template("errors/error.html", code=error.code, title=title, hint=hint), error.code

    @app.errorhandler(Exception)
    def _server_error(error: Exception) -> ResponseReturnValue:
        if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
            return error
        error_id = secrets.token_hex(4)
        # Ids only: the path may hold record ids, never patient names or tokens (SECURITY.md 20).
        if isinstance(error, DBAPIError):
            # The driver's message may quote the row (PostgreSQL: "DETAIL: Key (clinic_id, chart_number)=(1,
            # RV-77) already exists", "invalid input syntax for type integer: ..."): log the statement (its
            # values are bound, never in it), the error's kind and SQLSTATE, and where, never the message.
            original = error.orig
            log.error("unhandled error %s on %s %s: %s (SQLSTATE %s) in %s\nTraceback (most recent call last):\n%s",
                      error_id, request.method, request.url_rule, type(original).__name__,
                      getattr(original, "sqlstate", None) or "-", error.statement,
                      "".join(traceback.format_tb(error.__traceback__)))
        else:
            log.error("unhandled error %s on %s %s", error_id, request.method, request.url_rule, exc_info=error)
        return render_template("errors/error.html", code=500, title="Something went wrong on our side",
                               hint="Your last change may not have been saved. Try again; if it keeps "
                                    "happening, tell your IT contact this error id.",
                               error_id=error_id), 500
