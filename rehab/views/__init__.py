"""One blueprint per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from rehab.views import admin, auth, dashboard, handouts, main, patients, portal, portal_share, protocols, visits

    for module in (main, auth, dashboard, patients, protocols, visits, handouts, admin, portal, portal_share):
        app.register_blueprint(module.bp)
