"""Home and health check."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from rehab.db import get_session

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The dashboard is the therapist's home page."""
    return redirect(url_for("dashboard.index"))


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    """Liveness without touching the database; `make bench` uses it as the framework's own ceiling."""
    return "pong", 200, {"Content-Type": "text/plain"}


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """For load balancers: the app answers and the database is reachable. No data in the answer."""
    get_session().execute(text("SELECT 1"))
    return {"status": "ok"}
