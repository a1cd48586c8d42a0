"""Admin pages for API clients: the records systems that may use the clinic's FHIR API (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.models import utcnow
from rehab.services import api_clients
from rehab.views import refuse

bp = Blueprint("api_clients", __name__, url_prefix="/admin/api-clients")


@bp.before_request
@security.admin_required
def _admins_only() -> None:
    """Every view in this blueprint is admin-only."""


@bp.get("")
def index() -> ResponseReturnValue:
    rows = api_clients.clients_of(get_session(), clinic_id=g.clinic.id)
    return render_template("api_clients/index.html", rows=rows, scopes=api_clients.SCOPES, values={}, errors={},
                           new_token=None)


@bp.post("")
def create() -> ResponseReturnValue:
    """Create a client; its token is on this one response and nowhere else."""
    db = get_session()
    # A repeat gets "Already saved" (its token was on the first answer only; revoke and make a new client if
    # it was lost), not a second client.
    once.claim("api_client.create")
    once.leads_to(url_for("api_clients.index"))
    name = request.form.get("name", "").strip()
    scope = request.form.get("scope", "")
    errors: dict[str, str] = {}
    problem = api_clients.name_problem(name)
    if problem:
        errors["name"] = problem
    if scope not in api_clients.SCOPES:
        errors["scope"] = "Choose what the client may do."
    if errors:
        rows = api_clients.clients_of(db, clinic_id=g.clinic.id)
        refuse(render_template("api_clients/index.html", rows=rows, scopes=api_clients.SCOPES, values=request.form,
                               errors=errors, new_token=None), 422)
    client, token = api_clients.create_client(db, clinic_id=g.clinic.id, name=name, scope=scope,  # type: ignore[arg-type]  # one of SCOPES, checked above
                                              user_id=g.user.id, now=utcnow())
    security.record("api_client.create", object_type="api_client", object_id=client.id)
    rows = api_clients.clients_of(db, clinic_id=g.clinic.id)
    return render_template("api_clients/index.html", rows=rows, scopes=api_clients.SCOPES, values={}, errors={},
                           new_token=token, new_client=client)


@bp.post("/<int:client_id>/revoke")
def revoke(client_id: int) -> ResponseReturnValue:
    db = get_session()
    client = api_clients.get_client(db, clinic_id=g.clinic.id, client_id=client_id)
    if client is None:
        abort(404)
    once.claim("api_client.revoke")
    once.leads_to(url_for("api_clients.index"))
    api_clients.revoke(db, client=client, user_id=g.user.id, now=utcnow())
    security.record("api_client.revoke", object_type="api_client", object_id=client.id)
    flash(f"“{client.name}” was revoked: its token stopped working at once.", "success")
    return redirect(url_for("api_clients.index"))
