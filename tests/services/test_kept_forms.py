"""Forms kept across the idle sign-out, without the app: what is kept, for whom, for how long."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from rehab.models import Clinic, KeptForm, User, utcnow
from rehab.services import kept_forms

KEPT_FOR = timedelta(minutes=30)


def _accounts(session: Session) -> tuple[int, int, int]:
    clinic = Clinic(name="Riverside PT")
    pat, sam = (User(email=f"{name}@example.org", name=name, password_hash="x") for name in ("pat", "sam"))
    session.add_all([clinic, pat, sam])
    session.flush()
    return clinic.id, pat.id, sam.id


def _keep(session: Session, user_id: int, clinic_id: int, *, page: str = "/patients/1/visits/new?form=abc",
          minutes_ago: float = 0, fields: kept_forms.Fields | None = None) -> KeptForm:
    return kept_forms.keep(session, user_id=user_id, clinic_id=clinic_id, page=page, action=page.split("?")[0],
                           fields=fields or [("note", "stiff knee")], now=utcnow() - timedelta(minutes=minutes_ago),
                           kept_for=KEPT_FOR)


def test_never_the_csrf_token_or_a_password_and_the_rest_in_order():
    posted = [("csrf_token", "t"), ("form_id", "f"), ("current_password", "secret"), ("Password", "p"),
              ("note", "a"), ("red_flags", "calf_pain"), ("red_flags", "fever"), ("kept_form", "3")]
    assert kept_forms.fields_to_keep(posted) == [("form_id", "f"), ("note", "a"), ("red_flags", "calf_pain"),
                                                 ("red_flags", "fever")]


def test_a_kept_form_is_found_only_by_its_account_in_its_clinic_before_it_expires(session):
    clinic_id, pat, sam = _accounts(session)
    row = _keep(session, pat, clinic_id, fields=[("note", "Señora Muñoz: 5 min")])
    now = utcnow()
    assert kept_forms.find(session, kept_id=row.id, user_id=pat, clinic_id=clinic_id, now=now) == row
    assert kept_forms.fields_of(row) == [("note", "Señora Muñoz: 5 min")]
    assert kept_forms.find(session, kept_id=row.id, user_id=sam, clinic_id=clinic_id, now=now) is None
    assert kept_forms.find(session, kept_id=row.id, user_id=pat, clinic_id=clinic_id + 1, now=now) is None
    assert kept_forms.newest(session, user_id=sam, now=now) is None
    assert kept_forms.find(session, kept_id=row.id, user_id=pat, clinic_id=clinic_id, now=now + KEPT_FOR) is None
    assert kept_forms.newest(session, user_id=pat, now=now + KEPT_FOR) is None


def test_the_newest_leads_and_the_same_form_kept_again_replaces_the_first(session):
    clinic_id, pat, _ = _accounts(session)
    _keep(session, pat, clinic_id, minutes_ago=10)
    other = _keep(session, pat, clinic_id, page="/patients/2/edit", minutes_ago=5)
    again = _keep(session, pat, clinic_id, fields=[("note", "typed again")])
    now = utcnow()
    assert kept_forms.newest(session, user_id=pat, now=now) == again
    assert kept_forms.others(session, user_id=pat, clinic_id=clinic_id, now=now, but=again.id) == [other]
    assert len(session.exec(select(KeptForm)).all()) == 2


def test_expired_forms_of_every_account_are_purged_by_the_next_one_kept(session):
    clinic_id, pat, sam = _accounts(session)
    _keep(session, sam, clinic_id, page="/patients/3/edit", minutes_ago=31)
    live = _keep(session, sam, clinic_id, page="/patients/4/edit", minutes_ago=29)
    mine = _keep(session, pat, clinic_id)
    assert {row.id for row in session.exec(select(KeptForm))} == {live.id, mine.id}


def test_discarding_removes_only_the_accounts_own(session):
    clinic_id, pat, sam = _accounts(session)
    row = _keep(session, pat, clinic_id)
    assert kept_forms.discard(session, kept_id=row.id, user_id=sam) == 0
    assert kept_forms.discard(session, kept_id=row.id, user_id=pat) == 1


def test_the_page_address_gains_and_loses_the_kept_argument():
    assert kept_forms.page_with_kept("/patients/1/visits/new?form=abc", 7) == "/patients/1/visits/new?form=abc&kept=7"
    assert kept_forms.page_with_kept("/patients/1/edit?kept=2", 7) == "/patients/1/edit?kept=7"
    assert kept_forms.without_kept_arg("/patients/1/visits/new", "form=abc&kept=7") == "/patients/1/visits/new?form=abc"
    assert kept_forms.without_kept_arg("/account", "kept=7") == "/account"


def test_only_this_sites_paths_are_pages():
    assert kept_forms.is_own_page("/patients/1/edit?x=1")
    for target in ("https://evil.example/", "//evil.example/x", "/a\r\nSet-Cookie: x", "", "patients/1", "/" * 1001):
        assert not kept_forms.is_own_page(target)
