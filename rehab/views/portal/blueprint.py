"""The portal's blueprint, in a module of its own so its route modules import it without a cycle."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/p")
