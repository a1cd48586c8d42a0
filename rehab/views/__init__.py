"""One blueprint per area."""

from __future__ import annotations

from typing import NoReturn

from flask import Flask, abort, make_response
from flask.typing import ResponseReturnValue


def refuse(answer: ResponseReturnValue, status: int | None = None) -> NoReturn:
    """Answer with ``answer`` (a page, a page and its status, or a redirect) and keep nothing this request wrote.

    A view that returns commits what it wrote (rehab/db.py); raising rolls it all back, the form's one-time
    claim (rehab/once.py) too, so the same form, corrected or looked at again, can still be sent."""
    abort(make_response(answer, status) if status is not None else make_response(answer))


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
        protocols,
        questionnaires,
        red_flags,
        sharing,
        visits,
    )

    for module in (main, auth, account, dashboard, patients, assessments, protocols, visits, red_flags, handouts, admin,
                   portal, sharing, questionnaires, outcomes, api_clients, fhir, fhir_bundle):
        app.register_blueprint(module.bp)
