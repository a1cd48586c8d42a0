"""The message a therapist sends a patient with their link, in the patient's language, and the ``mailto:`` and
``sms:`` addresses that open the therapist's own email and messaging apps with it filled in.

Nothing is sent by the app: the therapist's app sends it, from the therapist's account, so no mail server or
text-message provider ever holds the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from rehab.translation import N_, gettext

SUBJECT = N_("Your exercises from %(clinic)s")
BODY = N_("Hello %(name)s,\n\nHere is your personal page with your backward-walking exercises:\n%(url)s\n\n"
          "You can also go to %(entry)s and type your code: %(code)s\n\n"
          "Keep this message to yourself: anyone with the link can see your exercises.\n\n%(clinic)s")
BODY_WITHOUT_CODE = N_("Hello %(name)s,\n\nHere is your personal page with your backward-walking exercises:\n"
                       "%(url)s\n\nKeep this message to yourself: anyone with the link can see your exercises.\n\n"
                       "%(clinic)s")


@dataclass(frozen=True)
class LinkMessage:
    subject: str
    body: str
    mailto: str  # mailto:address?subject=...&body=...
    sms: str  # sms:number?body=...


def compose(*, language: str, patient_name: str, clinic_name: str, url: str, code: str | None, entry_url: str,
            email: str = "", phone: str = "") -> LinkMessage:
    """The message in ``language`` with the long link and, when the link has one, the short code."""
    values = {"name": patient_name, "clinic": clinic_name, "url": url, "entry": entry_url, "code": code or ""}
    subject = gettext(language, SUBJECT) % values
    body = gettext(language, BODY if code else BODY_WITHOUT_CODE) % values
    return LinkMessage(subject, body, mailto_href(email, subject=subject, body=body), sms_href(phone, body=body))


def mailto_href(address: str, *, subject: str, body: str) -> str:
    """RFC 6068: the address, then the subject and body percent-encoded (spaces as %20, line breaks as %0D%0A)."""
    crlf = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return f"mailto:{quote(address, safe='@')}?subject={quote(subject, safe='')}&body={quote(crlf, safe='')}"


def sms_href(number: str, *, body: str) -> str:
    """RFC 5724: the number (digits and a leading +), then the body percent-encoded."""
    digits = "".join(char for char in number if char.isdigit() or char == "+")
    return f"sms:{digits}?body={quote(body, safe='')}"
