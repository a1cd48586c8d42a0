"""An admin of two clinics adds a third, brings a colleague in by email, makes her an admin and removes a
therapist, in a real browser and by the pages' visible labels (SECURITY.md 28)."""

from __future__ import annotations

from sqlmodel import select

from rehab.models import Clinic, Membership
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD


def test_add_a_clinic_and_manage_who_works_there(page, live_server, make_clinic, make_user, db):
    alder = make_clinic("Alder PT")
    birch = make_clinic("Birch PT")
    admin = make_user("ada@alder.example", clinics=[alder], is_admin=True, name="Ada Admin")
    bea = make_user("bea@birch.example", clinics=[birch], name="Bea Birch")
    pat = make_user("pat@alder.example", clinics=[alder], name="Pat Therapist")
    sign_in_page(page, live_server, admin, PASSWORD)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_text("Clinic admin").click()  # the administration pages are one menu of the bar
    nav.get_by_role("link", name="Clinics").click()
    page.get_by_role("button", name="Add clinic").click()  # no name: explained beside the field
    assert "This field is required." in page.locator("#name-error").inner_text()
    page.get_by_label("Clinic name").fill("Cedar PT")
    page.get_by_role("button", name="Add clinic").click()
    assert "Cedar PT was added and you are its admin." in page.locator(".flash").inner_text()
    cedar = db.exec(select(Clinic).where(Clinic.name == "Cedar PT")).one()
    db.rollback()

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_text("Clinic admin").click()  # the administration pages are one menu of the bar
    nav.get_by_role("link", name="Clinics").click()
    page.get_by_role("link", name="Members of Alder PT").click()
    page.get_by_label("Their email").fill("bea@birch.example")
    page.get_by_label("Admin of Alder PT").check()
    page.get_by_role("button", name="Add to Alder PT").click()
    assert "Bea Birch now works at Alder PT as an admin." in page.locator(".flash").inner_text()
    page.get_by_role("button", name="Remove admin role: Bea Birch").click()
    assert "Bea Birch is no longer an admin of Alder PT." in page.locator(".flash").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove Pat Therapist from Alder PT?"
    page.get_by_role("button", name="Remove from clinic: Pat Therapist").click()
    assert "Pat Therapist no longer works at Alder PT." in page.locator(".flash").inner_text()
    assert page.get_by_role("button", name="Remove from clinic: Ada Admin").count() == 0  # not for oneself

    roles = {(row.user_id, row.clinic_id): row.is_admin for row in db.exec(select(Membership))}
    db.rollback()
    assert roles == {(admin.id, alder.id): True, (admin.id, cedar.id): True, (bea.id, birch.id): False,
                     (bea.id, alder.id): False}
    assert (pat.id, alder.id) not in roles
