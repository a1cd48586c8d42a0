"""Admin pages: the clinics an admin administers, adding a clinic, and who works in each (SECURITY.md 28).

A clinic the admin does not administer is not found (404), like any other clinic's record. Every change is
audited in the clinic it concerns.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from rehab import once, security
from rehab.db import get_session
from rehab.forms import parse_form
from rehab.forms.accounts import MemberForm, NewClinicForm
from rehab.models import Clinic, User
from rehab.services import memberships
from rehab.views import refuse
from rehab.views.admin.blueprint import bp

CHANGES = {"remove": "membership.remove", "make_admin": "membership.admin_grant",
           "unmake_admin": "membership.admin_revoke"}


def _administered_clinic_or_404(clinic_id: int) -> Clinic:
    db = get_session()
    if not memberships.is_admin_of(db, user_id=g.user.id, clinic_id=clinic_id):
        abort(404)
    clinic = db.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


@bp.route("/clinics", methods=["GET", "POST"])
def clinics() -> ResponseReturnValue:
    """The clinics this admin administers, and a form to add one (its creator becomes its admin)."""
    db = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        once.claim("clinic.create")
        form, errors = parse_form(NewClinicForm, request.form)
        if form and not errors:
            clinic = memberships.create_clinic(db, name=form.name, creator_id=g.user.id)
            security.record_in_clinics("clinic.create", {g.clinic.id, clinic.id}, object_type="clinic",
                                       object_id=clinic.id)
            target = once.leads_to(url_for("admin.clinic_members", clinic_id=clinic.id))
            security.refresh_clinic_list(g.user.id)  # reads the new membership: the session flushes it first
            flash(f"{clinic.name} was added and you are its admin. Switch to it to set its address, paper size "
                  "and time zone under Clinic settings.", "success")
            return redirect(target)
    administered = memberships.administered_clinics(db, g.user.id)
    counts = {clinic.id: memberships.members(db, clinic.id) for clinic in administered}
    page = render_template("admin/clinics.html", administered=administered, members=counts, values=request.form,
                           errors=errors)
    if errors:
        refuse(page, 422)
    return page


@bp.get("/clinics/<int:clinic_id>")
def clinic_members(clinic_id: int) -> ResponseReturnValue:
    clinic = _administered_clinic_or_404(clinic_id)
    return _members_page(clinic, values={}, errors={})


def _members_page(clinic: Clinic, *, values: Mapping[str, str], errors: dict[str, str]) -> ResponseReturnValue:
    rows = memberships.members(get_session(), clinic.id)
    return render_template("admin/members.html", clinic=clinic, members=rows, values=values, errors=errors,
                           admins=sum(1 for row in rows if row.is_admin)), (422 if errors else 200)


@bp.post("/clinics/<int:clinic_id>/members")
def add_member(clinic_id: int) -> ResponseReturnValue:
    """Add someone who already has an account (a therapist of another clinic) to this clinic."""
    db = get_session()
    clinic = _administered_clinic_or_404(clinic_id)
    once.claim("membership.add")
    form, errors = parse_form(MemberForm, request.form, checkboxes=("is_admin",))
    if form and not errors:
        user, problem = memberships.add_member(db, clinic_id=clinic.id, email=form.email, is_admin=form.is_admin)
        if problem is None and user is not None:
            security.record_in_clinics("membership.add", {clinic.id}, object_type="user", object_id=user.id)
            if form.is_admin:
                security.record_in_clinics("membership.admin_grant", {clinic.id}, object_type="user",
                                           object_id=user.id)
            target = once.leads_to(url_for("admin.clinic_members", clinic_id=clinic.id))
            flash(f"{user.name} now works at {clinic.name}{' as an admin' if form.is_admin else ''}. They see it "
                  "in their clinic list when they next sign in.", "success")
            return redirect(target)
        errors = {"email": problem or memberships.NO_SUCH_ACCOUNT}
    refuse(_members_page(clinic, values=request.form, errors=errors))


@bp.post("/clinics/<int:clinic_id>/members/<int:user_id>")
def change_member(clinic_id: int, user_id: int) -> ResponseReturnValue:
    """Remove someone from this clinic, or make them an admin of it or no longer one."""
    db = get_session()
    clinic = _administered_clinic_or_404(clinic_id)
    action = request.form.get("action", "")
    if action not in CHANGES:
        abort(400)
    once.claim("membership.change")
    target = once.leads_to(url_for("admin.clinic_members", clinic_id=clinic.id))
    member = db.get(User, user_id)
    problem: str | None
    if member is None:
        problem = memberships.NOT_A_MEMBER  # told apart from an account of another clinic by nothing
    elif action == "remove":
        problem = memberships.remove_member(db, admin_id=g.user.id, clinic_id=clinic.id, user_id=user_id)
    else:
        problem = memberships.set_admin(db, admin_id=g.user.id, clinic_id=clinic.id, user_id=user_id,
                                        is_admin=action == "make_admin")
    if problem is not None:
        # A page from before another admin's change (or a rule's refusal): the members as they are now.
        unchanged = problem in memberships.UNCHANGED
        flash(f"{problem} Nothing was changed." if problem == memberships.NOT_A_MEMBER else problem,
              "info" if unchanged else "error")
        refuse(redirect(url_for("admin.clinic_members", clinic_id=clinic.id)))
    assert member is not None
    security.record_in_clinics(CHANGES[action], {clinic.id}, object_type="user", object_id=user_id)
    flash({"remove": "{name} no longer works at {clinic}. Their next page takes them to another of their "
                     "clinics, or signs them out.",
           "make_admin": "{name} is now an admin of {clinic}.",
           "unmake_admin": "{name} is no longer an admin of {clinic}."}[action].format(name=member.name,
                                                                                       clinic=clinic.name),
          "success")
    return redirect(target)
