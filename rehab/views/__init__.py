"""One blueprint per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from rehab.views import (
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
        portal_share,
        protocols,
        questionnaires,
        red_flags,
        visits,
    )

    for module in (main, auth, dashboard, patients, assessments, protocols, visits, red_flags, handouts, admin,
                   portal, portal_share, questionnaires, outcomes, api_clients, fhir, fhir_bundle):
        app.register_blueprint(module.bp)
