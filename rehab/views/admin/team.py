"""Admin pages: therapist accounts and clinic settings. Only admins of the clinic being worked in may open
them; therapists get 403 (SECURITY.md 11). Acting on an account itself needs admin of all its clinics
(SECURITY.md 28)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import col, select

from rehab import once, security
from rehab.db import get_session
from rehab.forms import parse_form
from rehab.forms.accounts import ClinicForm, UserForm
from rehab.models import Clinic, Membership, User, utcnow
from rehab.request_guard import bounded_id
from rehab.services import accounts, clinic_settings, memberships, protocol_records
from rehab.services.edits import StaleEdit
from rehab.services.passwords import password_problem, verify_password
from rehab.views import refuse
from rehab.views.admin.blueprint import bp
from rehab.vocabulary import PAPER_SIZE_LABELS, SPEED_UNIT_LABELS


@bp.before_request
@security.admin_required
def _admins_only() -> None:
    """Every view in this blueprint is admin-only."""


def _clinic_user_or_404(user_id: int) -> User:
    """An account that works in the admin's current clinic; any other is not found."""
    user = get_session().exec(
        select(User).join(Membership, col(Membership.user_id) == User.id)
        .where(User.id == user_id, Membership.clinic_id == g.clinic.id)
    ).first()
    if user is None:
        abort(404)
    return user


ELSEWHERE = ("{name} also works in a clinic you do not administer, so only an admin of all their clinics may "
             "change their password or deactivate them.")


def _manageable_user_or_403(user_id: int) -> User:
    """An account of this clinic that works only in clinics this admin administers (SECURITY.md 28)."""
    user = _clinic_user_or_404(user_id)
    if not memberships.may_manage_account(get_session(), admin_id=g.user.id, user_id=user.id):
        security.record_denial("user.manage.denied", object_type="user", object_id=user.id)
        abort(make_response(render_template("errors/error.html", code=403, title="You cannot change this account",
                                            hint=ELSEWHERE.format(name=user.name)), 403))
    return user


@bp.get("/users")
def users() -> ResponseReturnValue:
    db = get_session()
    rows = memberships.members(db, g.clinic.id)
    elsewhere = memberships.unmanageable_user_ids(db, admin_id=g.user.id, user_ids=[row.user.id for row in rows])
    return render_template("admin/users.html", members=rows, elsewhere=elsewhere)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> ResponseReturnValue:
    """Add a therapist (or admin) to the current clinic with a first password to hand over."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        once.claim("user.create")
        form, errors = parse_form(UserForm, request.form, checkboxes=("is_admin",))
        if form and accounts.email_taken(db, form.email):
            errors["email"] = ("An account with this email already exists. To have them work here too, add them "
                               "under Clinics, Members.")
        if form and not errors:
            user = accounts.create_user(db, security.hasher(), email=form.email, name=form.name,
                                        password=form.password, clinic_ids=[g.clinic.id], is_admin=form.is_admin)
            security.record("user.create", object_type="user", object_id=user.id)
            target = once.leads_to(url_for("admin.users"))
            flash(f"{user.name} can now sign in with {user.email}.", "success")
            return redirect(target)
        refuse(render_template("admin/user_form.html", values=request.form, errors=errors), 422)
    return render_template("admin/user_form.html", values=request.form, errors=errors)


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int) -> ResponseReturnValue:
    """Deactivate (ending every session at once) or reactivate an account. Never your own."""
    db = get_session()
    user = _manageable_user_or_403(user_id)
    once.claim("user.activate")
    target = once.leads_to(url_for("admin.users"))
    if user.id == g.user.id:
        flash("You cannot deactivate your own account.", "error")
        refuse(redirect(target))
    wanted = request.form.get("active") == "1"
    if user.is_active == wanted:  # a page from before someone else did it
        flash(f"{user.name} is already {'active' if wanted else 'deactivated'}; nothing was changed.", "info")
        refuse(redirect(target))
    user.is_active = wanted
    if not user.is_active:
        accounts.end_all_sessions(db, user_id=user.id, now=utcnow())
    db.add(user)
    security.record_in_clinics("user.activate" if user.is_active else "user.deactivate",
                               memberships.clinic_ids_of(db, user.id), object_type="user", object_id=user.id)
    flash(f"{user.name} was {'reactivated' if user.is_active else 'deactivated'}.", "success")
    return redirect(target)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int) -> ResponseReturnValue:
    """Set a new password for a therapist who forgot theirs; their other sessions end."""
    db = get_session()
    user = _manageable_user_or_403(user_id)
    error = current_error = None
    if request.method == "POST":
        once.claim("user.password_reset")
        password = request.form.get("password", "")
        error = password_problem(password, email=user.email, name=user.name)
        if user.id == g.user.id and not verify_password(security.hasher(), user.password_hash,
                                                        request.form.get("current_password", "")[:256]):
            # Your own password: whoever finds your screen unlocked must not be able to keep the account.
            current_error = "Enter your current password to set a new one."
        if error is None and current_error is None:
            keep = g.user_session.id if user.id == g.user.id else None
            accounts.set_password(db, security.hasher(), user, password=password, now=utcnow(), keep_session_id=keep)
            security.record_in_clinics("user.password_reset", memberships.clinic_ids_of(db, user.id),
                                       object_type="user", object_id=user.id)
            target = once.leads_to(url_for("admin.users"))
            flash(f"The password for {user.name} was changed. Give it to them in person.", "success")
            return redirect(target)
        refuse(render_template("admin/password.html", user=user, error=error, current_error=current_error,
                               own=user.id == g.user.id), 422)
    return render_template("admin/password.html", user=user, error=error, current_error=current_error,
                           own=user.id == g.user.id)


@bp.route("/clinic", methods=["GET", "POST"])
def clinic() -> ResponseReturnValue:
    """Clinic details printed on home sheets, default paper size and speed unit, with a stale-form check: if
    another admin saved meanwhile, nothing is overwritten."""
    db = get_session()
    clinic_row = db.merge(g.clinic)
    errors: dict[str, str] = {}
    values = request.form if request.method == "POST" else clinic_row.model_dump()
    stale = False
    if request.method == "POST":
        once.claim("clinic.update")
        form, errors = parse_form(ClinicForm, request.form)
        if form and not errors:
            try:
                clinic_settings.update_settings(db, clinic=clinic_row, values=form.model_dump(),
                                                seen_version=request.form.get("version", 0, type=bounded_id))
            except StaleEdit:  # clinic_row reads as saved now, for the page below
                stale = True
            else:
                security.record("clinic.update", object_type="clinic", object_id=clinic_row.id)
                target = once.leads_to(url_for("admin.clinic"))
                flash("Clinic settings saved.", "success")
                return redirect(target)
        refuse(_clinic_page(clinic_row, values, errors, stale=stale), 409 if stale else 422)
    return _clinic_page(clinic_row, values, errors, stale=stale)


def _clinic_page(clinic_row: Clinic, values: Any, errors: dict[str, str], *, stale: bool) -> str:
    return render_template("admin/clinic.html", clinic=clinic_row, values=values, errors=errors, stale=stale,
                           paper_sizes=PAPER_SIZE_LABELS, speed_units=SPEED_UNIT_LABELS,
                           timezones=sorted(available_timezones()))


@bp.get("/templates")
def templates() -> ResponseReturnValue:
    """The clinic's own protocol templates: rename, retire, bring back."""
    rows = protocol_records.clinic_templates(get_session(), clinic_id=g.clinic.id, include_archived=True)
    return render_template("admin/templates.html", templates=rows)


@bp.post("/templates/<int:template_id>")
def update_template(template_id: int) -> ResponseReturnValue:
    """Rename, retire or bring back a clinic template; a rename from an out-of-date page is refused."""
    db = get_session()
    template = protocol_records.get_clinic_template(db, clinic_id=g.clinic.id, template_id=template_id)
    if template is None:
        abort(404)
    once.claim("template.update")
    back = redirect(once.leads_to(url_for("admin.templates")))
    action = request.form.get("action")
    if action == "rename":
        name = request.form.get("name", "").strip()
        if not 1 <= len(name) <= 120 or "<" in name or ">" in name:
            flash("Give the template a name of up to 120 characters (no < or >).", "error")
            refuse(back)
        try:
            changed = protocol_records.rename_template(db, template=template, name=name,
                                                       seen_version=request.form.get("version", 0, type=bounded_id))
        except StaleEdit:  # the template reads as saved now, for the message
            flash(f"Not renamed: another admin changed this template while the page was open. It is now "
                  f"“{template.name}”{' (retired)' if template.archived_at else ''}; rename it again if you still "
                  "want to.", "error")
            refuse(back)
        unchanged = f"The template is already called “{template.name}”; nothing was changed."
    elif action in ("retire", "restore"):
        changed = protocol_records.set_template_retired(db, template=template, retired=action == "retire",
                                                        now=utcnow())
        unchanged = (f"Template “{template.name}” is already {'retired' if action == 'retire' else 'in use'}; "
                     "nothing was changed.")
    else:
        abort(400)
    if not changed:  # a page from before another admin did the same
        flash(unchanged, "info")
        refuse(back)
    security.record(f"template.{action}", object_type="clinic_template", object_id=template.id)
    flash(f"Template “{template.name}” {'renamed' if action == 'rename' else action + 'd'}.", "success")
    return back
