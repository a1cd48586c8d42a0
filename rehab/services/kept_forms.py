"""Forms kept across the idle sign-out: what a therapist typed is not lost when the session timed out first.

A form sent by a page whose session had timed out (rehab/kept_forms.py decides which) is stored here for the
account that session belonged to, for a short time (``KEPT_FORM_MINUTES``). After that account signs in again
it is shown back on the page the form was on; nothing of it is applied until the therapist presses Save there,
and that post goes through the form's own checks (its one-time id, its version) like any other. Passwords and
the CSRF token are never kept. The rows hold patient data, so each expires, and every new one purges the
expired ones of every account (no scheduled job needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import delete
from sqlmodel import Session, col, select

from rehab.models import KeptForm
from rehab.services.edits import rows_changed

# The hidden field a restored form carries, so saving it removes what was kept; and the page's query argument.
FIELD = "kept_form"
URL_ARG = "kept"
_NEVER_KEPT = frozenset({"csrf_token", FIELD})

Fields = list[tuple[str, str]]


def fields_to_keep(pairs: Iterable[tuple[str, str]]) -> Fields:
    """The posted fields worth keeping, in their order: never the CSRF token, never a password field."""
    return [(name, value) for name, value in pairs if name not in _NEVER_KEPT and "password" not in name.lower()]


def keep(session: Session, *, user_id: int, clinic_id: int, page: str, action: str, fields: Fields,
         now: datetime, kept_for: timedelta) -> KeptForm:
    """Keep a form for its author. The same form kept again (signed out twice on it) replaces the first."""
    purge(session, now=now)
    session.execute(delete(KeptForm).where(col(KeptForm.user_id) == user_id, col(KeptForm.page) == page,
                                           col(KeptForm.action) == action)
                    .execution_options(synchronize_session=False))
    row = KeptForm(user_id=user_id, clinic_id=clinic_id, page=page, action=action,
                   fields=json.dumps(fields, ensure_ascii=False), kept_at=now, expires_at=now + kept_for)
    session.add(row)
    session.flush()
    return row


def newest(session: Session, *, user_id: int, now: datetime) -> KeptForm | None:
    """The account's most recently kept form that has not expired (where signing in leads)."""
    return session.exec(select(KeptForm).where(KeptForm.user_id == user_id, col(KeptForm.expires_at) > now)
                        .order_by(col(KeptForm.kept_at).desc(), col(KeptForm.id).desc())).first()


def find(session: Session, *, kept_id: int, user_id: int, clinic_id: int, now: datetime) -> KeptForm | None:
    """A kept form, only for the account that sent it, in the clinic it was sent in, before it expires."""
    return session.exec(select(KeptForm).where(KeptForm.id == kept_id, KeptForm.user_id == user_id,
                                               KeptForm.clinic_id == clinic_id,
                                               col(KeptForm.expires_at) > now)).first()


def others(session: Session, *, user_id: int, clinic_id: int, now: datetime, but: int) -> list[KeptForm]:
    """The account's other kept forms in this clinic (signed out with several tabs open), newest first."""
    return list(session.exec(select(KeptForm).where(KeptForm.user_id == user_id, KeptForm.clinic_id == clinic_id,
                                                    col(KeptForm.expires_at) > now, KeptForm.id != but)
                             .order_by(col(KeptForm.kept_at).desc())))


def discard(session: Session, *, kept_id: int, user_id: int) -> int:
    """Remove a kept form of this account (its restored form was sent); another account's is left alone."""
    result = session.execute(delete(KeptForm).where(col(KeptForm.id) == kept_id, col(KeptForm.user_id) == user_id)
                             .execution_options(synchronize_session=False))
    return rows_changed(result)


def purge(session: Session, *, now: datetime) -> int:
    """Delete every expired kept form (on the ``expires_at`` index); returns how many."""
    result = session.execute(delete(KeptForm).where(col(KeptForm.expires_at) <= now)
                             .execution_options(synchronize_session=False))
    return rows_changed(result)


def fields_of(row: KeptForm) -> Fields:
    return [(str(name), str(value)) for name, value in json.loads(row.fields)]


def is_own_page(target: str) -> bool:
    """A path on this site (never another host), printable so it can go in a redirect's header."""
    return (target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc
            and target.isprintable() and len(target) <= 1000)


def without_kept_arg(path: str, query: str) -> str:
    """A page's address without the ``kept`` argument (so a kept form's own page is its plain address)."""
    pairs = [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != URL_ARG]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def page_with_kept(page: str, kept_id: int) -> str:
    """Where signing in leads: the form's page, told which kept form to put back."""
    parts = urlsplit(page)
    pairs = [*((name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != URL_ARG),
             (URL_ARG, str(kept_id))]
    return f"{parts.path}?{urlencode(pairs)}"
