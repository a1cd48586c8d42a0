"""The address of a patient's personal link, as printed on sheets and QR codes and shown on the share page.

Apart from the portal package so that the therapist's pages (sharing, printing) can build it without
importing the patient's routes.
"""

from __future__ import annotations

from flask import current_app, url_for


def link_url(token: str) -> str:
    """The link for a token: from ``PUBLIC_URL`` when the install sets it, else from the request's address.

    A link built from whatever Host header a request carried could send patients (and their token) to
    another site."""
    public = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    if public:
        return public + url_for("portal.open", token=token)
    return url_for("portal.open", token=token, _external=True)
