"""Friendly error pages. A 500 shows an error id to quote, never a traceback (SECURITY.md 18)."""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, render_template, request
from flask.sansio.blueprints import BlueprintSetupState
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


#: An area's own error page: the error and, for a server error, the id its log line carries.
AreaErrorPage = Callable[[Exception, str | None], ResponseReturnValue]
_AREAS = "rehab.error_areas"


def area_error_page(blueprint: Blueprint, render: AreaErrorPage) -> None:
    """Let an area answer every error under its URL prefix in its own voice (the portal in the patient's words,
    the FHIR API as an OperationOutcome): its views' errors, and also the routing errors (an unknown path, the
    wrong method) that Flask hands to no blueprint because no view of it was matched."""
    def _record(state: BlueprintSetupState) -> None:
        prefix = state.url_prefix or ""
        if "<" in prefix:
            raise ValueError(f"{blueprint.name}: an area error page needs a fixed URL prefix, not {prefix!r}")
        state.app.extensions.setdefault(_AREAS, {})[blueprint.name] = (prefix.rstrip("/"), render)
    blueprint.record_once(_record)


def _area_page(error: Exception, error_id: str | None = None) -> ResponseReturnValue | None:
    """The page of the area this request belongs to, by its matched view or else by its path; None for the
    clinic's own pages, and None (so the plain page follows) if the area's page itself fails."""
    areas: dict[str, tuple[str, AreaErrorPage]] = current_app.extensions.get(_AREAS, {})
    if request.blueprint is not None:
        area = areas.get(request.blueprint)
    else:
        area = next((entry for entry in areas.values()
                     if request.path == entry[0] or request.path.startswith(entry[0] + "/")), None)
    if area is None:
        return None
    try:
        return area[1](error, error_id)
    except Exception:  # the area's page needs the database or the session that just failed
        log.exception("the error page of %s failed for error %s", request.path.split("/")[1], error_id or "-")
        return None


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> ResponseReturnValue:
        area = _area_page(error)
        if area is not None:
            return area
        return render_template(
            "errors/error.html", code=400, title="This form has expired",
            hint="For your safety, forms stop working after you sign out or your session ends. "
                 "Go back, reload the page and enter your changes again.",
        ), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code is None or error.code >= 500:
            return _server_error(error)
        area = _area_page(error)
        if area is not None:
            return area
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
        area = _area_page(error, error_id)
        if area is not None:
            return area
        return render_template("errors/error.html", code=500, title="Something went wrong on our side",
                               hint="Your last change may not have been saved. Try again; if it keeps "
                                    "happening, tell your IT contact this error id.",
                               error_id=error_id), 500
