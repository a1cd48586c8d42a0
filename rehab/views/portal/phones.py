"""The cookie of a phone the patient chose to remember (``services.portal_devices``; docs/security.md).

It holds a random token of its own, never the link's: HttpOnly (scripts cannot read it), SameSite=Lax (other
sites' posts do not carry it), Secure when the app is served over HTTPS, sent only to the portal's paths, and
kept until the link expires. Forgetting the phone on the server ends it whatever the cookie says.
"""

from __future__ import annotations

from datetime import datetime

from flask import after_this_request, current_app, request
from werkzeug.wrappers import Response

from rehab import db as database
from rehab.models import PortalLink
from rehab.services import portal_devices

COOKIE = "rehab_portal_phone"
PATH = "/p/"


def cookie_token() -> str | None:
    return request.cookies.get(COOKIE) or None


def _secure() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def set_cookie(response: Response, token: str, *, link: PortalLink, now: datetime) -> Response:
    """Keep the phone's token until the link expires (a link lasts 180 days unless replaced sooner)."""
    seconds = max(int((link.expires_at - now).total_seconds()), 0)
    response.set_cookie(COOKIE, token, max_age=seconds, path=PATH, secure=_secure(), httponly=True, samesite="Lax")
    return response


def drop_cookie() -> None:
    """Delete the cookie with this request's answer (a forgotten phone, a replaced link)."""
    if cookie_token() is None:
        return

    @after_this_request
    def _drop(response: Response) -> Response:
        response.delete_cookie(COOKIE, path=PATH, secure=_secure(), httponly=True, samesite="Lax")
        return response


def note_use(device_id: int, now: datetime) -> None:
    """Write when the phone was last used after the request (a page view only reads, SECURITY.md 23)."""

    def _write() -> None:
        with database.side_transaction() as writer:
            portal_devices.touch(writer, device_id=device_id, now=now)

    database.after_close(_write)
