"""The patient's personal link: issuing, rotating, revoking and checking it (SECURITY.md 22-24).

A link is a random token; only its SHA-256 is stored, so a stolen database copy opens nothing. A link stops
working when it is revoked, rotated, locked (too many wrong birth dates), past its expiry, or when the patient
has no active protocol or is archived. After a discharge it keeps opening for ``DISCHARGE_ANSWER_DAYS``, for the
questionnaires only (the portal's guard allows nothing else). Services add and flush; the view commits once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import and_, bindparam, func, update
from sqlmodel import Session, col, select

from rehab.models import Alert, Clinic, LoginAttempt, Patient, PortalDevice, PortalLink, Protocol
from rehab.services import portal_codes, portal_devices
from rehab.services.portal_devices import DeviceCard
from rehab.services.tokens import token_hash

LinkReason = Literal["ok", "unknown", "expired", "revoked", "locked"]

DEFAULT_DAYS = 180
# After a discharge the link opens the questionnaires for this long (expert opinion: a patient asked at discharge
# answers within days; a month covers a holiday, and an old link does not open the record for ever).
DISCHARGE_ANSWER_DAYS = 30
MAX_BIRTH_DATE_FAILURES = 5
# Failed link openings share the sign-in attempts table, so every worker sees the same count.
THROTTLE_ACCOUNT_KEY = "portal"
_MAX_TOKEN_LENGTH = 128


# ----------------------------------------------------------------------------------------------------- links


def derive_token(secret: str, link: PortalLink) -> str:
    """The link's token: an HMAC of the link's id and creation time under the server's secret key.

    The database keeps only the token's SHA-256 (SECURITY.md 22); the server can re-derive the token to
    print it again on a home sheet's QR code, and nobody can without the secret key. A new SECRET_KEY
    therefore retires every link, which is the right outcome when a key leaks."""
    message = f"rehab-portal-link:{link.id}:{link.created_at.isoformat()}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()  # 256 bits
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_link(session: Session, *, patient: Patient, user_id: int | None, now: datetime, secret: str,
               days: int = DEFAULT_DAYS, require_birth_date: bool = False) -> tuple[PortalLink, str]:
    """A new link for the patient; any earlier live link stops at once (one live link per patient), and
    with it its short code and every phone remembered for it.

    Returns the row and the token. Only the token's hash is stored, and the short code's keyed hash."""
    _revoke_live_links(session, patient_id=patient.id, now=now)
    link = PortalLink(patient_id=patient.id, clinic_id=patient.clinic_id,
                      token_hash=token_hash(secrets.token_urlsafe(32)),  # replaced below, once the id exists
                      created_at=now, created_by_id=user_id, expires_at=now + timedelta(days=days),
                      require_birth_date=require_birth_date)
    session.add(link)
    session.flush()
    token = derive_token(secret, link)
    link.token_hash = token_hash(token)
    session.add(link)
    session.flush()
    portal_codes.assign(session, link=link, secret=secret)
    return link, token


def rotate(session: Session, *, link: PortalLink, patient: Patient, user_id: int | None, now: datetime,
           secret: str, require_birth_date: bool | None = None) -> tuple[PortalLink, str]:
    """Replace a link with a new one (it also unlocks a locked link): with the birth-date check as chosen, or
    as the old link had it when ``require_birth_date`` is None. The old link's code and remembered phones end
    with it."""
    keep = link.require_birth_date if require_birth_date is None else require_birth_date
    return issue_link(session, patient=patient, user_id=user_id, now=now, secret=secret, require_birth_date=keep)


def revoke(session: Session, *, link: PortalLink, now: datetime) -> None:
    if link.revoked_at is None:
        link.revoked_at = now
        session.add(link)
        session.flush()


def _revoke_live_links(session: Session, *, patient_id: int, now: datetime) -> None:
    session.execute(update(PortalLink).where(col(PortalLink.patient_id) == patient_id,
                                             col(PortalLink.revoked_at).is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))


_LIVE_LINK = (select(PortalLink).where(PortalLink.patient_id == bindparam("patient_id"),
                                       col(PortalLink.revoked_at).is_(None)).order_by(col(PortalLink.id).desc()))


def live_link(session: Session, *, patient_id: int) -> PortalLink | None:
    """The patient's link that is not revoked (it may have expired or be locked), for the share section."""
    return session.exec(_LIVE_LINK, params={"patient_id": patient_id}).first()


def link_status(link: PortalLink, now: datetime) -> LinkReason:
    if link.revoked_at is not None:
        return "revoked"
    if link.locked_at is not None:
        return "locked"
    if now >= link.expires_at:
        return "expired"
    return "ok"


@dataclass(frozen=True)
class LinkCard:
    """The patient's current link as the therapist's "Share with patient" card shows it (never its token)."""

    id: int
    status: LinkReason
    created_at: datetime
    expires_at: datetime
    require_birth_date: bool
    link: PortalLink  # for the addresses the card shows (patient_links.share_details), re-derived from it
    devices: Sequence[DeviceCard] = ()  # the phones remembered for it


# The live link (as ``live_link`` finds it) with the phones remembered for it (as ``remembered`` lists them),
# in one round trip: the patient page shows the card on every view.
_LIVE_LINK_ID = (select(func.max(PortalLink.id)).where(PortalLink.patient_id == bindparam("patient_id"),
                                                       col(PortalLink.revoked_at).is_(None)).scalar_subquery())
_LINK_WITH_DEVICES = (select(PortalLink, PortalDevice)
                      .outerjoin(PortalDevice, and_(col(PortalDevice.link_id) == PortalLink.id,
                                                    col(PortalDevice.forgotten_at).is_(None)))
                      .where(PortalLink.id == _LIVE_LINK_ID)
                      .order_by(*portal_devices.MOST_RECENT_FIRST))


def link_card(session: Session, *, patient_id: int, now: datetime) -> LinkCard | None:
    """The card of the patient's link that is not revoked, or None when there is none."""
    rows = session.execute(_LINK_WITH_DEVICES, {"patient_id": patient_id}).all()
    if not rows:
        return None
    link = rows[0][0]
    return LinkCard(id=link.id, status=link_status(link, now), created_at=link.created_at,
                    expires_at=link.expires_at, require_birth_date=link.require_birth_date, link=link,
                    devices=[portal_devices.card_of(device) for _, device in rows if device is not None])


def find_link(session: Session, token: str, now: datetime) -> tuple[PortalLink | None, LinkReason]:
    """The link for a token and whether it works. Unknown tokens are the ones to throttle."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None, "unknown"
    link = session.exec(select(PortalLink).where(PortalLink.token_hash == token_hash(token))).first()
    if link is None:
        return None, "unknown"
    return link, link_status(link, now)


@dataclass(frozen=True)
class LinkState:
    """A link with its patient, clinic and active protocol, and whether it still opens the portal.

    ``discharged`` is the protocol the patient was discharged from when there is no active one and the link
    opens for the questionnaires only (``protocol`` is then None)."""

    reason: LinkReason
    link: PortalLink | None = None
    patient: Patient | None = None
    clinic: Clinic | None = None
    protocol: Protocol | None = None
    discharged: Protocol | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    @property
    def answer_until(self) -> datetime | None:
        """The last moment a discharged patient's link opens their questionnaires."""
        if self.discharged is None or self.discharged.ended_at is None:
            return None
        return self.discharged.ended_at + timedelta(days=DISCHARGE_ANSWER_DAYS)


# Every portal request runs this lookup (its guard): the statement is built once, the link's id bound per request.
_LINK_STATE = (
    select(PortalLink, Patient, Clinic, Protocol)
    .join(Patient, col(Patient.id) == PortalLink.patient_id)
    .join(Clinic, col(Clinic.id) == PortalLink.clinic_id)
    .outerjoin(Protocol, (col(Protocol.patient_id) == Patient.id) & (col(Protocol.status) == "active"))
    .where(PortalLink.id == bindparam("link_id"))
)


def link_state(session: Session, *, link_id: int, now: datetime) -> LinkState:
    """Everything a portal request needs, in one query; re-checked on every request so a revoked link, an
    ended protocol or an archived patient ends the patient's session at once. A discharge within
    ``DISCHARGE_ANSWER_DAYS`` keeps it open for the questionnaires (a second query, only then)."""
    row = session.exec(_LINK_STATE, params={"link_id": link_id}).first()
    if row is None:
        return LinkState("unknown")
    link, patient, clinic, protocol = row
    reason = link_status(link, now)
    if reason == "ok" and patient.archived_at is not None:
        reason = "expired"
    if reason == "ok" and protocol is None:
        discharged = _answering_after_discharge(session, patient_id=patient.id, now=now)
        if discharged is not None:
            return LinkState(reason, link, patient, clinic, None, discharged=discharged)
        reason = "expired"  # otherwise the link lasts as long as the protocol (SECURITY.md 22)
    return LinkState(reason, link, patient, clinic, protocol)


def _answering_after_discharge(session: Session, *, patient_id: int, now: datetime) -> Protocol | None:
    """The patient's newest protocol when it ended in a discharge less than DISCHARGE_ANSWER_DAYS ago."""
    newest = session.exec(select(Protocol).where(Protocol.patient_id == patient_id)
                          .order_by(col(Protocol.created_at).desc(), col(Protocol.id).desc())).first()
    if newest is None or newest.status == "active" or not newest.discharge_reason or newest.ended_at is None:
        return None
    return newest if now - newest.ended_at < timedelta(days=DISCHARGE_ANSWER_DAYS) else None


def bad_token_count(session: Session, *, address: str, since: datetime) -> int:
    return session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.account_key == THROTTLE_ACCOUNT_KEY, LoginAttempt.address == address,
        LoginAttempt.succeeded == False, LoginAttempt.at >= since)).one()  # noqa: E712 (SQL comparison)


def record_bad_token(session: Session, *, address: str, now: datetime) -> None:
    session.add(LoginAttempt(at=now, account_key=THROTTLE_ACCOUNT_KEY, address=address[:64], succeeded=False))


def check_birth_date(session: Session, *, link: PortalLink, patient: Patient, given: date, now: datetime
                     ) -> tuple[Literal["ok", "wrong", "locked"], int]:
    """Compare the typed birth date; the 5th miss locks the link and raises a "dob_lockout" alert.

    Returns the outcome and the tries left. The miss is counted with an UPDATE in the database, so two
    tries sent at once both count."""
    if given == patient.date_of_birth:
        link.birth_date_failures = 0
        session.add(link)
        return "ok", MAX_BIRTH_DATE_FAILURES
    session.execute(update(PortalLink).where(col(PortalLink.id) == link.id)
                    .values(birth_date_failures=PortalLink.birth_date_failures + 1)
                    .execution_options(synchronize_session=False))
    failures = session.exec(select(PortalLink.birth_date_failures).where(PortalLink.id == link.id)).one()
    if failures < MAX_BIRTH_DATE_FAILURES:
        return "wrong", MAX_BIRTH_DATE_FAILURES - failures
    session.execute(update(PortalLink).where(col(PortalLink.id) == link.id, col(PortalLink.locked_at).is_(None))
                    .values(locked_at=now).execution_options(synchronize_session=False))
    session.add(Alert(clinic_id=link.clinic_id, patient_id=link.patient_id, kind="dob_lockout", created_at=now,
                      message=f"The patient's link was locked after {MAX_BIRTH_DATE_FAILURES} wrong dates of birth. "
                              "Check with the patient, then make a new link."))
    session.flush()
    return "locked", 0
