"""The clinic's audit trail for its admins: sentences, filtered by patient name, date range, action, person and
outcome, a page at a time, and the same rows as CSV (the export is itself audited). Read-only: no view
changes or deletes an event. Admins only, as every page of this blueprint (``team._admins_only``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlmodel import col, select

from rehab import security
from rehab.db import get_session
from rehab.models import Membership, User, utcnow
from rehab.request_guard import bounded_id, page_number
from rehab.services import audit_trail
from rehab.services.audit_words import filter_choices, known
from rehab.templating import clinic_zone
from rehab.views.admin.blueprint import bp

PER_PAGE = 50


def _filters() -> tuple[audit_trail.TrailFilters, dict[str, str]]:
    """The filters from the query string; a date that cannot be read is named beside its field and ignored."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        raw = request.args.get(name, "").strip()
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = "Choose a day from the calendar."
            days[name] = None
    if days["since"] and days["until"] and days["since"] > days["until"]:
        errors["until"] = "The last day comes before the first day; nothing was left out, the range was ignored."
        days["since"] = days["until"] = None
    action = request.args.get("action", "")
    outcome = request.args.get("outcome", "")
    return audit_trail.TrailFilters(
        patient=request.args.get("patient", "")[:100], action=action if known(action) else "",
        outcome=outcome if outcome in audit_trail.OUTCOMES else "",
        user_id=request.args.get("user_id", type=bounded_id), since=days["since"], until=days["until"],
    ), errors


def _query(filters: audit_trail.TrailFilters) -> dict[str, Any]:
    """The filters as query arguments, for the pages' links and the export."""
    return {"patient": filters.patient, "action": filters.action, "outcome": filters.outcome,
            "user_id": filters.user_id or "", "since": filters.since.isoformat() if filters.since else "",
            "until": filters.until.isoformat() if filters.until else ""}


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """The clinic's audit trail, newest first."""
    filters, errors = _filters()
    page = request.args.get("page", 1, type=page_number)
    zone = clinic_zone()
    rows, total = audit_trail.search(get_session(), clinic_id=g.clinic.id, filters=filters, zone=zone, page=page,
                                     per_page=PER_PAGE)
    users = get_session().exec(
        select(User).join(Membership, col(Membership.user_id) == User.id).where(Membership.clinic_id == g.clinic.id)
        .order_by(User.name)).all()
    return render_template("admin/audit.html", rows=rows, total=total, page=page, zone=zone,
                           pages=max(1, -(-total // PER_PAGE)), filters=filters, query=_query(filters),
                           errors=errors, users=users, actions=filter_choices(), outcomes=audit_trail.OUTCOMES)


@bp.get("/audit.csv")
def audit_export() -> ResponseReturnValue:
    """Every event the filters match, as CSV a spreadsheet opens safely; who exported what is audited."""
    filters, _ = _filters()
    zone = clinic_zone()
    clinic_id = g.clinic.id
    security.record_read("audit.export", object_type="audit")
    rows = audit_trail.every_row(get_session(), clinic_id=clinic_id, filters=filters, zone=zone)
    filename = f"audit-trail-{utcnow():%Y-%m-%d}.csv"
    # Written whole inside the request: a streamed body would read the database after the request's session
    # ended, and hold a connection for as long as the download is left unread.
    return Response("".join(audit_trail.csv_lines(list(rows), zone)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
