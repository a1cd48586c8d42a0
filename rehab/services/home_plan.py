"""What a phase asks the patient to do at home, and the alert when a patient walks backward at home although
nothing is prescribed for home (the sheet and the portal then say "not on your own yet")."""

from __future__ import annotations

from datetime import datetime

from rehab.dates import day_text
from rehab.models import Alert, HomeLog
from rehab.services.protocol_content import Phase
from rehab.vocabulary import AlertKind


def prescribed_for_home(phase: Phase) -> bool:
    """Whether any exercise of the phase is done at home (alone or with a partner)."""
    return any(rx.setting != "clinic" for rx in phase.prescriptions)


def clinic_only_alert(log: HomeLog, *, phase: Phase, phase_number: int, now: datetime) -> Alert | None:
    """An alert when a home session is logged for a phase whose exercises are all clinic-only: the patient
    walked backward on their own, which the therapist has not allowed yet (a walker user, a high fall risk)."""
    if prescribed_for_home(phase):
        return None
    return Alert(clinic_id=log.clinic_id, patient_id=log.patient_id, kind=AlertKind.CLINIC_ONLY, home_log_id=log.id,
                 created_at=now,
                 message=(f"Home session {day_text(log.session_date)} logged, but phase {phase_number} "
                          f"({phase.name}) has no exercise for home: the patient walked backward on their own.")[:300])
