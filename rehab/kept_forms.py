"""A form sent after the idle sign-out is kept, then put back on its page once its author signs in again.

The web side of ``rehab.services.kept_forms``. Every therapist form carries ``form_page`` (the ``csrf`` macro
in templates/macros/forms.html), the address of the page it is on. When such a form arrives from a browser
whose session timed out (``rehab.security`` remembers the timed-out session's token in the cookie, and keeps
its CSRF token, so the pages still open can send), ``keep_posted_form`` stores what was typed for that
session's account, and the browser goes to sign-in as before. Signing in as that account leads back to the
page with ``?kept=<id>``: the page shows "Your unsaved entries were kept" and rehab/static/js/session.js puts
the kept values back into the form, its one-time id and version included, so "Already saved" and the
stale-form checks answer the restored form as they would have answered the first post. Nothing is applied
until Save; that post carries ``kept_form``, which removes the kept copy.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from rehab import db
from rehab.models import utcnow
from rehab.services import audit, kept_forms
from rehab.services.kept_forms import FIELD, URL_ARG, is_own_page, page_with_kept, without_kept_arg

PAGE_FIELD = "form_page"
_FORM_PAGE_KEY = "rehab.form_page"
# Posts that carry nothing typed: signing out, switching clinic, "Stay signed in".
_NOT_KEPT = frozenset({"auth.logout", "auth.switch_clinic", "auth.stay_signed_in"})


def init_app(app: Flask) -> None:
    """After ``security.init_app``: the discard below reads the signed-in user it finds."""
    app.add_template_global(form_page, "form_page")
    app.add_template_global(kept_form_here, "kept_form_here")
    app.before_request(_discard_once_sent)


def form_page() -> str:
    """The address of the page a form is on: this page's, or for a page shown again after a post (a form with
    errors), the one that post came from. Worked out once per request: every form of a page carries it (the
    patient page has about 25)."""
    page: str | None = request.environ.get(_FORM_PAGE_KEY)
    if page is None:
        if request.method == "GET":
            page = without_kept_arg(request.path, request.query_string.decode("utf-8", "replace"))
        else:
            posted = request.form.get(PAGE_FIELD, "")
            page = posted if is_own_page(posted) else ""
        request.environ[_FORM_PAGE_KEY] = page  # the request's own (``g`` can outlive it, in a test's app context)
    return page


def keep_posted_form(*, user_id: int, clinic_id: int, kept_for: timedelta, audit_key: bytes) -> bool:
    """Keep this request's form for the account whose session timed out before it was sent; True if kept.

    Written after the request (it answers with a redirect to sign-in, whose transaction keeps nothing), with
    its audit event: a therapist's typed entries, which may name a patient, now sit in the database."""
    if request.endpoint in _NOT_KEPT or request.blueprint in ("portal", "fhir"):
        return False
    page = request.form.get(PAGE_FIELD, "")
    if not is_own_page(page):
        page = request.path if _has_page(request.path) else ""
    if not page:
        return False
    fields = [(name, value) for name, value in kept_forms.fields_to_keep(request.form.items(multi=True))
              if name != PAGE_FIELD]
    action, now = request.path, utcnow()

    def _write() -> None:
        with db.side_transaction() as writer:
            row = kept_forms.keep(writer, user_id=user_id, clinic_id=clinic_id, page=page, action=action,
                                  fields=fields, now=now, kept_for=kept_for)
            audit.record_event(writer, key=audit_key, action="form.kept", user_id=user_id, clinic_id=clinic_id,
                               object_type="kept_form", object_id=row.id, at=now)

    db.after_close(_write)
    return True


def _has_page(path: str) -> bool:
    """Whether the form's own address also shows a page (most forms post to the page they are on)."""
    try:
        current_app.url_map.bind_to_environ(request.environ).match(path, method="GET")
    except RequestRedirect:
        return True
    except HTTPException:
        return False
    return True


def after_sign_in(user_id: int) -> tuple[str, int] | None:
    """Where signing in leads when this account has a kept form: its page, and the clinic it was sent in."""
    session, now = db.get_session(), utcnow()
    kept_forms.purge(session, now=now)  # sign-in writes anyway: expired kept forms go here too
    row = kept_forms.newest(session, user_id=user_id, now=now)
    return (page_with_kept(row.page, row.id), row.clinic_id) if row is not None else None


def kept_form_here() -> dict[str, Any] | None:
    """For base.html: the kept form this page was opened to put back, only for its own account and clinic."""
    if request.method != "GET" or g.get("user") is None or g.get("clinic") is None:
        return None
    value = request.args.get(URL_ARG, "")
    if not value.isdigit() or len(value) > 9:
        return None
    session, now = db.get_session(), utcnow()
    row = kept_forms.find(session, kept_id=int(value), user_id=g.user.id, clinic_id=g.clinic.id, now=now)
    if row is None:
        return None
    others = kept_forms.others(session, user_id=g.user.id, clinic_id=g.clinic.id, now=now, but=row.id)
    return {"id": row.id, "action": row.action, "kept_at": row.kept_at, "expires_at": row.expires_at,
            "fields": json.dumps(kept_forms.fields_of(row), ensure_ascii=False),
            "others": [{"href": page_with_kept(other.page, other.id), "kept_at": other.kept_at} for other in others]}


def _discard_once_sent() -> None:
    """A restored form was sent (saved, refused or shown again with its errors): its kept copy goes."""
    if request.method != "POST" or g.get("user") is None:
        return
    value = request.form.get(FIELD, "")
    if not value.isdigit() or len(value) > 9:
        return
    kept_id, user_id = int(value), g.user.id

    def _discard() -> None:
        with db.side_transaction() as writer:
            kept_forms.discard(writer, kept_id=kept_id, user_id=user_id)

    db.after_close(_discard)
