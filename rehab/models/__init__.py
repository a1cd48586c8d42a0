"""Tables. Every patient belongs to one clinic; every query about patients is scoped to a clinic.

Times are aware UTC datetimes (``utcnow``); SQLModel's UTCDateTime column stores them the same way on
SQLite and PostgreSQL, and pages show them in the clinic's time zone. Choice fields are short strings
whose values are one vocabulary of ``rehab/vocabulary.py`` (checked by the input shapes), not database enums,
so adding a choice never needs a PostgreSQL type migration.
"""

from rehab.models.accounts import Clinic, ClinicGeneration, LoginAttempt, Membership, ThrottleNotice, User, UserSession
from rehab.models.api_clients import ApiClient
from rehab.models.base import utcnow
from rehab.models.kept_forms import KeptForm
from rehab.models.outcomes import QuestionnaireResponse
from rehab.models.patients import AuditEvent, EditRecord, Patient
from rehab.models.portal import HandoutPrint, HomeLog, PortalDevice, PortalLink, ReportPrint
from rehab.models.print_jobs import PrintJob, PrintJobItem
from rehab.models.protocols import ClinicTemplate, PhaseChange, PhasePlan, Protocol, ProtocolVersion
from rehab.models.reminders import PortalCalendar
from rehab.models.submissions import FormSubmission
from rehab.models.visits import AdviceDecision, Alert, Assessment, RedFlagClearance, Visit

# Alembic's env.py imports this package: every table must be imported above.
__all__ = [
    "AdviceDecision",
    "Alert",
    "ApiClient",
    "Assessment",
    "AuditEvent",
    "Clinic",
    "ClinicGeneration",
    "ClinicTemplate",
    "EditRecord",
    "FormSubmission",
    "HandoutPrint",
    "HomeLog",
    "KeptForm",
    "LoginAttempt",
    "Membership",
    "Patient",
    "PhaseChange",
    "PhasePlan",
    "PortalCalendar",
    "PortalDevice",
    "PortalLink",
    "PrintJob",
    "PrintJobItem",
    "Protocol",
    "ProtocolVersion",
    "QuestionnaireResponse",
    "RedFlagClearance",
    "ReportPrint",
    "ThrottleNotice",
    "User",
    "UserSession",
    "Visit",
    "utcnow",
]
