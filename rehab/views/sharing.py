"""Sharing the patient's personal link: share, rotate and revoke it, and forget the phones the patient chose to
remember (the ``sharing`` blueprint).

The database keeps only the token's hash; the server re-derives the link under its secret key, so the share
card shows it (with its short code, a copy button and the message to send) and every sheet prints it while it
lives. The page right after the one that made a link shows it with a large QR code; a lost link is replaced by
rotating it.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from rehab import once, security
from rehab.db import get_session
from rehab.models import Patient, PortalLink, utcnow
from rehab.patient_links import printed_link
from rehab.services import portal_devices, portal_links, protocol_records
from rehab.views import refuse
from rehab.views.patients import clinic_phone_missing, get_patient_or_404

bp = Blueprint("sharing", __name__, url_prefix="/patients/<int:patient_id>/portal")


def _shareable(patient: Patient) -> bool:
    """A link shows the active protocol, so there must be one (and the patient must not be archived); the
    page tells the patient to call the clinic, so the clinic must have a phone number."""
    if patient.archived_at is not None or not protocol_records.active_protocol(get_session(), patient_id=patient.id):  # type: ignore[arg-type]
        flash("Start a protocol before sharing: the patient's page shows the protocol's current phase.", "error")
        return False
    return not clinic_phone_missing()


def _show_once(patient: Patient, link: PortalLink, *, rotated: bool):  # type: ignore[no-untyped-def]
    """Hand the new link to the next page only (Post/Redirect/Get): reloading that page must never make
    another link behind the therapist's back. Only the link's id goes in the cookie, which the browser can
    read (it is signed, not encrypted); the page re-derives the token from it under the server's secret."""
    session["portal_shared"] = {"patient_id": patient.id, "link_id": link.id, "rotated": rotated}
    return redirect(url_for("sharing.shared", patient_id=patient.id))


@bp.get("/shared")
def shared(patient_id: int):  # type: ignore[no-untyped-def]
    """The new link and its QR code, right after making it (the share card shows the link from then on)."""
    patient = get_patient_or_404(patient_id)
    handed = session.pop("portal_shared", None)
    link = get_session().get(PortalLink, handed["link_id"]) if handed and handed.get("patient_id") == patient.id \
        else None
    if link is None or link.patient_id != patient.id or link.revoked_at is not None:
        flash("The patient's link, its code and the message to send are on the patient's page, under Share with "
              "patient.", "info")
        return redirect(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    printed = printed_link(link)
    assert printed is not None
    import segno  # a pure-Python QR encoder; imported here, as only this page needs it

    qr = segno.make(printed.url, error="m").svg_data_uri(scale=5, border=2)  # a data: image passes the page's CSP
    return render_template("patients/shared.html", patient=patient, link=link, url=printed.url, qr=qr,
                           code=printed.code, entry_url=printed.entry_url,
                           rotated=handed["rotated"])  # type: ignore[index]


@bp.post("/share")
def share(patient_id: int):  # type: ignore[no-untyped-def]
    """Make the patient's personal link (any earlier one stops working)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("portal.link.issue", patient_id=patient.id)
    once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    if not _shareable(patient):
        refuse(redirect(url_for("patients.detail", patient_id=patient.id)))
    link, _token = portal_links.issue_link(db, patient=patient, user_id=g.user.id, now=utcnow(),
                                          secret=current_app.secret_key,  # type: ignore[arg-type]
                                          require_birth_date=request.form.get("require_birth_date") == "1")
    security.record("portal.link.issue", patient_id=patient.id, object_type="portal_link", object_id=link.id)
    return _show_once(patient, link, rotated=False)


@bp.post("/rotate")
def rotate(patient_id: int):  # type: ignore[no-untyped-def]
    """Replace the link: the old one stops at once (also unlocks a link locked by wrong birth dates)."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("portal.link.rotate", patient_id=patient.id)
    back = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    if not _shareable(patient):
        refuse(redirect(url_for("patients.detail", patient_id=patient.id)))
    current = portal_links.live_link(db, patient_id=patient.id)  # type: ignore[arg-type]
    if current is None:
        abort(404)
    if request.form.get("link_id", type=int) != current.id:  # the page showed a link replaced since
        flash("The patient's link was already replaced since this page was opened; nothing was changed. "
              "Replace it again only if the patient does not have the newest link.", "error")
        refuse(redirect(back))
    link, _token = portal_links.rotate(db, link=current, patient=patient, user_id=g.user.id, now=utcnow(),
                                      secret=current_app.secret_key,  # type: ignore[arg-type]
                                      require_birth_date=request.form.get("require_birth_date") == "1")
    security.record("portal.link.rotate", patient_id=patient.id, object_type="portal_link", object_id=link.id)
    return _show_once(patient, link, rotated=True)


@bp.post("/revoke")
def revoke(patient_id: int):  # type: ignore[no-untyped-def]
    """Turn the link off: the patient sees "this link is no longer valid, call your clinic"."""
    db = get_session()
    patient = get_patient_or_404(patient_id)
    once.claim("portal.link.revoke", patient_id=patient.id)
    once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    current = portal_links.live_link(db, patient_id=patient.id)  # type: ignore[arg-type]
    if current is None:
        abort(404)
    portal_links.revoke(db, link=current, now=utcnow())
    security.record("portal.link.revoke", patient_id=patient.id, object_type="portal_link", object_id=current.id)
    flash("The patient's link is turned off. It shows “no longer valid” from now on.", "success")
    return redirect(url_for("patients.detail", patient_id=patient.id, _anchor="share"))


@bp.post("/phones/<int:device_id>/forget")
def forget_phone(patient_id: int, device_id: int):  # type: ignore[no-untyped-def]
    """Forget one remembered phone: its next request finds the patient's page closed."""
    patient = get_patient_or_404(patient_id)
    once.claim("portal.phones.forget", patient_id=patient.id)
    back = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    device = portal_devices.forget(get_session(), device_id=device_id, patient_id=patient.id, now=utcnow())
    if device is None:
        flash("That phone was already forgotten.", "info")
        return redirect(back)
    security.record("portal.phones.forget", patient_id=patient.id, object_type="portal_device", object_id=device.id)
    flash(f"Forgotten: {device.label}. It needs the link or the code again.", "success")
    return redirect(back)


@bp.post("/phones/forget")
def forget_all_phones(patient_id: int):  # type: ignore[no-untyped-def]
    """Forget every phone the patient remembered (the link itself keeps working)."""
    patient = get_patient_or_404(patient_id)
    once.claim("portal.phones.forget_all", patient_id=patient.id)
    back = once.leads_to(url_for("patients.detail", patient_id=patient.id, _anchor="share"))
    count = portal_devices.forget_all(get_session(), patient_id=patient.id, now=utcnow())
    security.record("portal.phones.forget_all", patient_id=patient.id, object_type="patient", object_id=patient.id)
    flash(f"Forgotten: {count} phone{'' if count == 1 else 's'}. The link itself still works.", "success")
    return redirect(back)
