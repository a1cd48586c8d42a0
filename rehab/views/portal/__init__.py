"""The patient portal: the pages a patient opens through their personal link (SECURITY.md 9, 22-24).

Patients have no account. Every route here answers to the portal's own guard (``guard``), never to the
therapist's sign-in; ``rehab.security`` leaves the whole blueprint to it. Where things are:

- ``guard``: the patient session in the signed cookie, re-checked against the link on every request, and the
  portal's answer to every error under /p/ (routing errors too);
- ``link``: opening the link, the date-of-birth check, remembering this phone, leaving, language and text size;
- ``code``: typing the short code from the sheet instead of the link;
- ``phones``: the cookie of a phone the patient chose to remember;
- ``pages``: my exercises, my progress and its chart, the "stop" page;
- ``guided``: the guided session's player, and the next morning's pain asked on the next visit;
- ``home_log``: logging a home session and correcting it;
- ``sheet``: the patient's own home sheet as PDF;
- ``offline``: the manifest, the service worker and the offline page (the portal with no signal);
- ``questionnaires``: answering questionnaires a page at a time;
- ``reminders``: the time of day for reminders, and the calendar a phone subscribes to;
- ``layout`` and ``current``: what every page shows, and what a request reads from the checked link.
"""

from __future__ import annotations

# The route modules register themselves on ``bp`` (Microblog's idiom), which lives in ``blueprint`` so that they
# import it without importing this package back.
from rehab.views.portal import (  # noqa: F401
    code,
    guard,
    guided,
    home_log,
    layout,
    link,
    offline,
    pages,
    questionnaires,
    reminders,
    sheet,
)
from rehab.views.portal.blueprint import bp

__all__ = ["bp"]
