"""Phones a patient chose to remember ("Remember this phone"; docs/security.md, "Remembered phones").

A remembered phone holds a random token of 256 bits in a cookie of its own (never the link's token); only the
token's SHA-256 is stored, with the link it belongs to. The phone opens the portal without the link while the
link lives: rotating or revoking the link ends it (the guard re-checks the link on every request), and so does
forgetting the phone (the therapist's "Forget this phone" or "Forget all phones", or the patient's "Close my
page"). Services add and flush; the view commits once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from rehab.models import PortalDevice, PortalLink
from rehab.services.tokens import token_hash

_MAX_TOKEN_LENGTH = 128
_LABEL_LENGTH = 60
# What a browser's User-Agent says about the phone and the browser, first match wins (a label, not a proof).
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android phone"), ("Windows", "Windows computer"),
            ("Macintosh", "Mac"), ("CrOS", "Chromebook"), ("Linux", "Linux computer"))
_BROWSERS = (("EdgA?/", "Edge"), ("SamsungBrowser/", "Samsung Internet"), ("Firefox/|FxiOS/", "Firefox"),
             ("CriOS/|Chrome/", "Chrome"), ("Safari/", "Safari"))


def device_label(user_agent: str) -> str:
    """A short name for the phone, so the therapist can tell two apart: "Android phone, Chrome"."""
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, user_agent)), "")
    label = ", ".join(part for part in (system, browser) if part) or "Unknown device"
    return label[:_LABEL_LENGTH]


def remember(session: Session, *, link: PortalLink, now: datetime, user_agent: str) -> tuple[PortalDevice, str]:
    """Remember this phone for the link: the row and the token its cookie holds (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    device = PortalDevice(link_id=link.id, patient_id=link.patient_id, clinic_id=link.clinic_id,
                          token_hash=token_hash(token), label=device_label(user_agent), created_at=now,
                          last_used_at=now)
    session.add(device)
    session.flush()
    return device, token


def find(session: Session, token: str) -> PortalDevice | None:
    """The remembered phone for a cookie's token, when it has not been forgotten."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return session.exec(select(PortalDevice).where(PortalDevice.token_hash == token_hash(token),
                                                   col(PortalDevice.forgotten_at).is_(None))).first()


def still_remembered(session: Session, *, device_id: int, link_id: int) -> bool:
    """Whether a session started from a remembered phone may go on: the phone was not forgotten since."""
    return session.exec(select(PortalDevice.id).where(PortalDevice.id == device_id, PortalDevice.link_id == link_id,
                                                      col(PortalDevice.forgotten_at).is_(None))).first() is not None


def touch(session: Session, *, device_id: int, now: datetime) -> None:
    """Note that the phone was used (the share card shows when)."""
    session.execute(update(PortalDevice).where(col(PortalDevice.id) == device_id)
                    .values(last_used_at=now).execution_options(synchronize_session=False))


def forget(session: Session, *, device_id: int, patient_id: int, now: datetime) -> PortalDevice | None:
    """Forget one of the patient's phones; None when it is not theirs or was forgotten already."""
    device = session.get(PortalDevice, device_id)
    if device is None or device.patient_id != patient_id or device.forgotten_at is not None:
        return None
    device.forgotten_at = now
    session.add(device)
    session.flush()
    return device


def forget_all(session: Session, *, patient_id: int, now: datetime) -> int:
    """Forget every phone of the patient; how many were still remembered."""
    result = session.execute(update(PortalDevice).where(col(PortalDevice.patient_id) == patient_id,
                                                        col(PortalDevice.forgotten_at).is_(None))
                             .values(forgotten_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeviceCard:
    """A remembered phone as the share card lists it."""

    id: int
    label: str
    created_at: datetime
    last_used_at: datetime


MOST_RECENT_FIRST = (col(PortalDevice.last_used_at).desc(), col(PortalDevice.id).desc())


def remembered(session: Session, *, link_id: int) -> Sequence[DeviceCard]:
    """The phones remembered for a link and not forgotten, the most recently used first."""
    rows = session.exec(select(PortalDevice).where(PortalDevice.link_id == link_id,
                                                   col(PortalDevice.forgotten_at).is_(None))
                        .order_by(*MOST_RECENT_FIRST)).all()
    return [card_of(row) for row in rows]


def card_of(device: PortalDevice) -> DeviceCard:
    return DeviceCard(device.id, device.label, device.created_at, device.last_used_at)
