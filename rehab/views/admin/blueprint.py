"""The clinic administration blueprint, in a module of its own so its route modules import it without a cycle."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
