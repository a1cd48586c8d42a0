"""What a portal request reads from the link its guard checked (``g.portal``), and its audit rows.

Records are always looked up through the patient on the session, so another patient's ids are simply not
found. Only routes behind the guard call these.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import g

from rehab import security
from rehab.db import get_session
from rehab.services import audit, protocol_records
from rehab.services.advice.inputs import AdviceInputs, gather, uncleared_stops
from rehab.services.advice.types import SessionReport
from rehab.services.portal_links import LinkState
from rehab.services.protocol_content import ProtocolContent


def state() -> LinkState:
    """The checked link with its patient, clinic and active protocol."""
    return g.portal  # type: ignore[no-any-return]


def patient_id() -> int:
    return state().patient.id  # type: ignore[union-attr, return-value]


def zone() -> ZoneInfo:
    """The clinic's time zone: a patient's "today" is the clinic's."""
    try:
        return ZoneInfo(state().clinic.timezone)  # type: ignore[union-attr]
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def today() -> date:
    return datetime.now(zone()).date()


def phase_of(link: LinkState) -> tuple[ProtocolContent, int]:
    """The active protocol's content and its current phase index."""
    protocol = link.protocol
    assert protocol is not None  # the guard refuses a link whose protocol ended
    # Read once per request: the page and its layout both ask (a version never changes once saved).
    loaded: dict[tuple[int | None, int], ProtocolContent] = g.setdefault("portal_contents", {})
    key = (protocol.id, protocol.latest_version)
    if key not in loaded:
        version = protocol_records.get_version(get_session(), protocol_id=protocol.id, number=protocol.latest_version)  # type: ignore[arg-type]
        loaded[key] = protocol_records.load_content(version)  # type: ignore[arg-type]
    return loaded[key], protocol.current_phase


def phase() -> tuple[ProtocolContent, int]:
    return phase_of(state())


def advice_inputs(now: datetime) -> AdviceInputs:
    """The same sessions the therapist's advice reads (see services/advice/inputs.py)."""
    link = state()
    return gather(get_session(), patient=link.patient, protocol=link.protocol, now=now)  # type: ignore[arg-type]


def uncleared() -> list[SessionReport]:
    """Red flags and falls no therapist has cleared (the same as ``advice_inputs(now).uncleared``)."""
    return uncleared_stops(get_session(), patient_id=patient_id())


def audit_event(action: str, *, patient_id: int | None, object_type: str = "", object_id: int | None = None,
                outcome: str = "ok") -> None:
    """An audit row in the request's own transaction (committed with the change it describes)."""
    audit.record_event(get_session(), key=security.audit_key(), action=action,
                       clinic_id=g.clinic.id if g.get("clinic") else None, patient_id=patient_id,
                       object_type=object_type, object_id=object_id, outcome=outcome)
