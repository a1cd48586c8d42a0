"""The addresses of a patient's personal link (PUBLIC_URL), for the share card and sheets: the long link, the
page the short code is typed on, the link as a sheet prints it, and what the share card shows.

Apart from the portal package so that the therapist's pages (sharing, printing) can build them without
importing the patient's routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for

from rehab import security
from rehab.models import Patient, PortalLink
from rehab.printing.sheets import PrintedLink
from rehab.services import link_message, portal_codes, portal_links
from rehab.services.link_message import LinkMessage


def _address(endpoint: str, **values: Any) -> str:
    """An address from ``PUBLIC_URL`` when the install sets it, else from the request's address.

    A link built from whatever Host header a request carried could send patients (and their token) to
    another site."""
    public = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    if public:
        return public + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def link_url(token: str) -> str:
    """The long link for a token (the QR code, text messages and emails)."""
    return _address("portal.open", token=token)


def code_entry_url() -> str:
    """The page where a patient types the short code from their sheet."""
    return _address("portal.code")


def printed_link(link: PortalLink | None) -> PrintedLink | None:
    """A link that still opens the portal (``printing.opening_link``) as a sheet prints it, or None."""
    if link is None:
        return None
    secret = security.secret_key()
    code = portal_codes.code_of(secret, link)
    return PrintedLink(url=link_url(portal_links.derive_token(secret, link)),
                       code=portal_codes.grouped(code) if code else None, entry_url=code_entry_url())


@dataclass(frozen=True)
class ShareDetails:
    """What the share card shows of a link that opens the portal: its addresses, code and message."""

    url: str
    code: str | None  # K7QM-3XPA; None for a link made before codes
    entry_url: str
    message: LinkMessage


def share_details(link: PortalLink, *, patient: Patient, clinic_name: str) -> ShareDetails:
    """The link, the code and the message for the therapist's own email or messaging app, in the patient's
    language (the link and the code are re-derived under the secret key; printed on every sheet anyway)."""
    printed = printed_link(link)
    assert printed is not None
    message = link_message.compose(language=patient.language, patient_name=patient.first_name,
                                   clinic_name=clinic_name, url=printed.url, code=printed.code,
                                   entry_url=printed.entry_url, email=patient.email, phone=patient.phone)
    return ShareDetails(printed.url, printed.code, printed.entry_url, message)


def calendar_url(token: str) -> str:
    """The patient's reminder calendar address (``PUBLIC_URL`` first, like the link): calendar apps keep it."""
    return _address("portal.calendar", token=token)
