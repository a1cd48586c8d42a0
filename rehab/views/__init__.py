"""One blueprint per area."""

from __future__ import annotations

from typing import NoReturn

from flask import Flask, Response, abort, flash, make_response, request
from flask.typing import ResponseReturnValue

from rehab.services.chart_marks import image_policy
from rehab.services.shapes import too_long_message


def refuse(answer: ResponseReturnValue, status: int | None = None) -> NoReturn:
    """Answer with ``answer`` (a page, a page and its status, or a redirect) and keep nothing this request wrote.

    A view that returns commits what it wrote (rehab/db.py); raising rolls it all back, the form's one-time
    claim (rehab/once.py) too, so the same form, corrected or looked at again, can still be sent."""
    abort(make_response(answer, status) if status is not None else make_response(answer))


def flash_at(place: str, message: str, category: str = "success") -> None:
    """A message shown beside the part of the page it is about: ``place`` is the id a redirect's anchor scrolls
    to, where the message would otherwise sit above, out of view (templates/macros/messages.html)."""
    flash(message, f"{category} {place}")


def stated_reason(back: ResponseReturnValue, *, limit: int, field: str = "reason", place: str = "") -> str:
    """A reason typed in a one-line form (delete, move, override), stripped. One over ``limit`` is refused with
    its length and the limit, and nothing is kept (``back`` is where the message shows, beside ``place`` when
    given, see ``flash_at``): never cut to fit."""
    text = request.form.get(field, "").strip()
    if len(text) > limit:
        if place:
            flash_at(place, too_long_message(len(text), limit), "error")
        else:
            flash(too_long_message(len(text), limit), "error")
        refuse(back)
    return text


def svg_response(svg: str) -> Response:
    """An SVG image served on its own (a chart's own address, "See the chart bigger"), under a policy that lets
    its own style blocks apply and nothing else run or load."""
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = image_policy(svg)
    return response


def register_blueprints(app: Flask) -> None:
    from rehab.views import (
        account,
        admin,
        api_clients,
        assessments,
        auth,
        dashboard,
        fhir,
        fhir_bundle,
        handouts,
        main,
        outcomes,
        patients,
        portal,
        print_jobs,
        protocols,
        questionnaires,
        red_flags,
        sharing,
        visits,
    )

    for module in (main, auth, account, dashboard, patients, assessments, protocols, visits, red_flags, handouts,
                   print_jobs, admin, portal, sharing, questionnaires, outcomes, api_clients, fhir, fhir_bundle):
        app.register_blueprint(module.bp)
