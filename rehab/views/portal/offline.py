"""The portal on a phone with no signal: the web app manifest, the service worker and the plain offline page.

The service worker (static/js/service-worker.js, served here at ``/p/sw.js`` so that its scope is the portal)
keeps the pages this patient opened for as long as their session lasts, and nothing of anyone else: every
portal page says whose it is (``X-Portal-Owner``, a keyed hash of the patient, never the id) and until when the
session stays open without use (``X-Portal-Offline-Until``). A page of another owner empties the cache first;
leaving, a closed session or a newly opened link empty it too. See README "Offline".
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from pathlib import Path
from typing import Any

from flask import Response, current_app, g, jsonify, request, session, url_for
from flask_babel import gettext as _

from rehab import security
from rehab.i18n import LANGUAGES
from rehab.views.portal.blueprint import bp
from rehab.views.portal.layout import page

_STATIC = Path(__file__).resolve().parents[2] / "static"
# The brand colours of static/css/portal.css (--brand, --bg).
THEME_COLOUR = "#0f6e6e"
BACKGROUND_COLOUR = "#f3f6f8"


def owner_tag(patient_id: int) -> str:
    """Whose page this is, as the phone may keep it: a keyed hash of the patient (not guessable from the id,
    the same for every link of the patient, so a log queued before a new link still finds its owner)."""
    key = security.secret_key().encode()
    return hmac.new(key, f"portal-owner:{patient_id}".encode(), hashlib.sha256).hexdigest()[:32]


@bp.app_template_global("portal_owner")
def portal_owner() -> str:
    """The owner tag of the patient whose page this is ("" on pages without a patient session)."""
    state = g.get("portal")
    return owner_tag(state.patient.id) if state is not None and state.patient is not None else ""


def offline_until() -> int:
    """When this patient session closes if the phone sends nothing more (Unix seconds): the cached pages are
    not shown after it, as the server would not show them either. A remembered phone opens a new session by
    itself while its link lasts (rehab/views/portal/guard.py), so its pages last as long as the link."""
    state = g.get("portal")
    if isinstance(session.get("portal_device_id"), int) and state is not None and state.link is not None:
        expires = state.link.expires_at
        return int((expires if expires.tzinfo else expires.replace(tzinfo=UTC)).timestamp())
    seen, started = int(session.get("portal_seen", 0)), int(session.get("portal_started", 0))
    idle = float(current_app.config["PORTAL_IDLE_MINUTES"]) * 60
    hours = float(current_app.config["PORTAL_SESSION_HOURS"]) * 3600
    return int(min(seen + idle, started + hours))


@bp.after_request
def _say_whose_page(response: Response) -> Response:
    """Every answer given inside a patient session says whose it is and until when, for the service worker."""
    owner = portal_owner()
    if owner:
        response.headers["X-Portal-Owner"] = owner
        response.headers["X-Portal-Offline-Until"] = str(offline_until())
    response.headers.setdefault("Content-Language", g.get("patient_language") or "en")
    return response


@bp.get("/sw.js")
def service_worker():  # type: ignore[no-untyped-def]
    """The service worker, from the portal's own path so that it may control every page under /p/."""
    script = (_STATIC / "js" / "service-worker.js").read_text(encoding="utf-8")
    response = Response(script, mimetype="text/javascript")
    # A new version reaches phones at their next page (no-store is also set for every page by rehab.security).
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/app.webmanifest")
def manifest():  # type: ignore[no-untyped-def]
    """The web app manifest: "Add to home screen" opens My exercises, inside the portal only."""
    data: dict[str, Any] = {
        "name": _("Your backward-walking exercises"),
        "short_name": _("My exercises"),
        "lang": g.get("patient_language") or "en",
        "start_url": url_for("portal.home"),
        "scope": "/p/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    response = jsonify(data)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/offline")
def offline():  # type: ignore[no-untyped-def]
    """The plain page the service worker shows when a page is not kept on the phone: no patient data, so it is
    kept for every patient of the phone, in English and in Spanish (``?lang=es``)."""
    chosen = request.args.get("lang", "")
    if chosen in LANGUAGES:
        g.patient_language = chosen
    return page("portal/offline.html")
