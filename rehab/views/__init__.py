"""One blueprint per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from rehab.views import admin, auth, main, patients, protocols

    for module in (main, auth, patients, protocols, admin):
        app.register_blueprint(module.bp)
