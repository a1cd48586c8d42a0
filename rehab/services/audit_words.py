"""The audit trail's actions in words: what each stored action code means, as an entry in the trail's filter
and as a sentence ("Ana Ruiz recorded a visit for John Smith").

The codes stay the trail's truth (they are part of each event's HMAC, see ``services/audit.py``); only their
reading is here. A code is looked up whole, then by its leading parts, so a refused portal link
("portal.open.expired") reads as "portal.open" with its reason. tests/services/test_audit_trail.py checks that
every code the app records has its words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionWords:
    group: str  # the filter's heading
    label: str  # the filter's entry and the CSV's action column
    sentence: str  # {actor}, {patient} and {target} (an account the action was about) are filled in


_GROUPS = {
    "login": "Signing in", "logout": "Signing in", "user": "Accounts", "membership": "Accounts",
    "admin": "Accounts", "clinic": "Clinic", "template": "Clinic", "api_client": "Clinic", "audit": "Clinic",
    "outcomes": "Clinic", "patient": "Patient records", "assessment": "Patient records",
    "questionnaire": "Patient records", "visit": "Visits and advice", "advice": "Visits and advice",
    "alert": "Visits and advice", "red_flag": "Visits and advice", "protocol": "Protocols",
    "sheet": "Sheets and reports",
    "print_job": "Sheets and reports", "report": "Sheets and reports", "form": "Signing in", "portal": "Patient portal",
    "fhir": "Records systems (FHIR)",
}

# code: (label, sentence)
_ACTIONS: dict[str, tuple[str, str]] = {
    "login": ("Signed in", "{actor} signed in"),
    "login.failed": ("Sign-in failed", "A sign-in as {actor} failed (wrong password)"),
    "login.throttled": ("Sign-ins paused", "Sign-ins as {actor} were paused after repeated failures"),
    "logout": ("Signed out", "{actor} signed out"),
    "user.create": ("Added an account", "{actor} added the account of {target}"),
    "user.activate": ("Reactivated an account", "{actor} reactivated the account of {target}"),
    "user.deactivate": ("Deactivated an account", "{actor} deactivated the account of {target}"),
    "user.password_reset": ("Set a new password", "{actor} set a new password for {target}"),
    "user.password_change": ("Changed own password", "{actor} changed their own password"),
    "user.password_change.failed": ("Wrong current password",
                                    "{actor} gave a wrong current password while changing their password"),
    "user.manage.denied": ("Refused: change an account", "{actor} was refused changing the account of {target}"),
    "admin.denied": ("Refused: administration", "{actor} was refused an administration page"),
    "membership.add": ("Added to a clinic", "{actor} added {target} to the clinic"),
    "membership.remove": ("Removed from a clinic", "{actor} removed {target} from the clinic"),
    "membership.admin_grant": ("Made an admin", "{actor} made {target} an admin of the clinic"),
    "membership.admin_revoke": ("Admin role removed", "{actor} removed the admin role of {target}"),
    "clinic.create": ("Added a clinic", "{actor} added a clinic"),
    "clinic.update": ("Changed clinic settings", "{actor} changed the clinic's settings"),
    "clinic.switch": ("Switched clinic", "{actor} switched to this clinic"),
    "template.create": ("Saved a clinic template", "{actor} saved a protocol as a clinic template"),
    "template.rename": ("Renamed a template", "{actor} renamed a clinic template"),
    "template.retire": ("Retired a template", "{actor} retired a clinic template"),
    "template.restore": ("Brought back a template", "{actor} brought back a clinic template"),
    "api_client.create": ("Added an API client", "{actor} added a records system's API client"),
    "api_client.revoke": ("Revoked an API client", "{actor} revoked a records system's API client"),
    "audit.export": ("Exported the audit trail", "{actor} exported the audit trail as CSV"),
    "outcomes.view": ("Opened the outcomes", "{actor} opened the clinic's outcomes"),
    "outcomes.export": ("Exported the outcomes", "{actor} exported the clinic's outcomes as CSV"),
    "patient.view": ("Opened a patient record", "{actor} opened the record of {patient}"),
    "patient.create": ("Added a patient", "{actor} added {patient}"),
    "patient.update": ("Edited a patient's details", "{actor} edited the details of {patient}"),
    "patient.assign": ("Assigned a therapist", "{actor} made {target} the therapist of {patient}"),
    "patient.unassign": ("Left a patient unassigned", "{actor} left {patient} without an assigned therapist"),
    "patient.archive": ("Archived a patient", "{actor} archived {patient}"),
    "patient.unarchive": ("Brought back a patient", "{actor} brought back {patient} from the archive"),
    "patient.not_found": ("Refused: a patient of another clinic",
                          "{actor} asked for a patient record that is not in this clinic"),
    "assessment.create": ("Recorded a fall-risk screen", "{actor} recorded a fall-risk screen for {patient}"),
    "assessment.remove": ("Removed a fall-risk screen", "{actor} removed a fall-risk screen of {patient}"),
    "questionnaire.send": ("Sent a questionnaire", "{actor} sent a questionnaire to {patient}"),
    "questionnaire.total": ("Recorded a questionnaire total", "{actor} recorded a questionnaire total for {patient}"),
    "visit.create": ("Recorded a visit", "{actor} recorded a visit for {patient}"),
    "visit.update": ("Corrected a visit", "{actor} corrected a visit of {patient}"),
    "visit.delete": ("Deleted a visit", "{actor} deleted a visit of {patient}"),
    "visit.list": ("Opened the visits", "{actor} opened the visits of {patient}"),
    "visit.export": ("Exported visits", "{actor} exported the visits of {patient} as CSV"),
    "advice.accept": ("Accepted the advice", "{actor} accepted the advice for {patient}"),
    "advice.override": ("Overrode the advice", "{actor} overrode the advice for {patient}"),
    "advice.undo": ("Undid a decision on the advice", "{actor} undid their decision on the advice for {patient}"),
    "alert.acknowledge": ("Acknowledged an alert", "{actor} acknowledged an alert about {patient}"),
    "alert.inactive": ("Acknowledged no recent activity",
                       "{actor} acknowledged that {patient} had no recent activity"),
    "red_flag.view": ("Opened the red flags", "{actor} opened the red flags and falls of {patient}"),
    "red_flag.clear": ("Recorded what was done",
                       "{actor} recorded what was done about a red flag or fall of {patient}"),
    "protocol.create": ("Started a protocol", "{actor} started a protocol for {patient}"),
    "protocol.update": ("Changed a protocol", "{actor} changed the protocol of {patient}"),
    "protocol.phase": ("Moved a phase", "{actor} moved {patient} to another phase"),
    "protocol.end": ("Ended a protocol", "{actor} ended the protocol of {patient}"),
    "protocol.view": ("Opened a protocol", "{actor} opened the protocol of {patient}"),
    "sheet.print": ("Printed a home sheet", "{actor} printed a home sheet for {patient}"),
    "sheet.reprint": ("Reprinted a home sheet", "{actor} reprinted a home sheet for {patient}"),
    "sheet.download": ("Downloaded a home sheet", "{actor} downloaded a home sheet of {patient}"),
    "sheet.batch": ("Printed today's sheets", "{actor} printed today's sheets"),
    "print_job.start": ("Started a batch of sheets", "{actor} started printing a batch of home sheets"),
    "print_job.not_found": ("Refused: another person's batch print",
                            "{actor} asked for a batch print that is not theirs (refused)"),
    "report.print": ("Printed the physician report", "{actor} printed the physician report of {patient}"),
    "report.reprint": ("Reprinted the physician report", "{actor} reprinted a physician report of {patient}"),
    "report.download": ("Opened a printed report", "{actor} opened a printed physician report of {patient}"),
    "form.kept": ("Form kept after the time-out", "{actor} sent a form after being signed out; it was kept for them"),
    "portal.link.issue": ("Shared a personal link", "{actor} shared a personal link with {patient}"),
    "portal.link.rotate": ("Replaced a personal link", "{actor} replaced the personal link of {patient}"),
    "portal.link.revoke": ("Turned off a personal link", "{actor} turned off the personal link of {patient}"),
    "portal.open": ("Patient opened their link", "{patient} opened their personal link"),
    "portal.session": ("Patient's link checked again", "{patient} used their personal link"),
    "portal.birth_date": ("Patient gave their date of birth", "{patient} entered their date of birth"),
    "portal.view": ("Patient read their pages", "{patient} read their own pages"),
    "portal.log.create": ("Patient logged a home session", "{patient} logged a home session"),
    "portal.log.update": ("Patient corrected a home session", "{patient} corrected a home session"),
    "portal.morning": ("Patient told their next-morning pain",
                       "{patient} told how their knee was the morning after a home session"),
    "portal.log.not_found": ("Refused: another patient's session",
                             "{patient} asked for a home session that is not theirs"),
    "portal.questionnaire.answer": ("Patient answered a questionnaire", "{patient} answered a questionnaire"),
    "portal.questionnaire.scheduled": ("Questionnaire due", "A questionnaire came due for {patient}"),
    "portal.questionnaire.not_found": ("Refused: another patient's questionnaire",
                                       "{patient} asked for a questionnaire that is not theirs"),
    "portal.sheet": ("Patient downloaded their sheet", "{patient} downloaded their home sheet"),
    "portal.leave": ("Patient left the portal", "{patient} left the portal"),
    "portal.reminders": ("Patient set calendar reminders", "{patient} chose a time for calendar reminders"),
    "portal.calendar": ("Patient's calendar fetched", "The reminder calendar of {patient} was fetched"),
    "portal.calendar.unknown": ("Refused: no such calendar", "A calendar address issued to no one was used"),
    "portal.throttled": ("Link openings paused", "Openings of personal links were paused after many tries"),
    "portal.code": ("Patient typed their code", "{patient} opened their page with the code from their sheet"),
    "portal.code.unknown": ("Wrong code typed", "Someone typed a code that matches no personal link"),
    "portal.code.paused.address": ("Code typing paused for an address",
                                   "Typing codes was paused for one address after many wrong codes"),
    "portal.code.paused.everyone": ("Code typing paused for everyone",
                                    "Typing codes was paused for everyone after many wrong codes"),
    "portal.phone.remember": ("Patient remembered a phone", "{patient} chose to stay signed in on a phone"),
    "portal.phone.resume": ("Remembered phone opened the page", "{patient} opened their page on a remembered phone"),
    "portal.phone.forget": ("Patient forgot a phone", "{patient} closed their page and forgot the phone"),
    "portal.phones.forget": ("Forgot a patient's phone", "{actor} forgot a remembered phone of {patient}"),
    "portal.phones.forget_all": ("Forgot all of a patient's phones",
                                 "{actor} forgot every remembered phone of {patient}"),
    "fhir.read": ("Records system read", "A records system read the record of {patient}"),
    "fhir.search": ("Records system searched", "A records system searched the records"),
    "fhir.create": ("Records system added a patient", "A records system added {patient}"),
    "fhir.everything": ("Records system read all", "A records system read all of {patient}'s care"),
    "fhir.download": ("Downloaded a FHIR bundle", "{actor} downloaded the FHIR bundle of {patient}"),
    "fhir.export": ("FHIR export", "The FHIR export wrote the clinic's records"),
    "fhir.denied": ("Refused: records system", "A records system was refused"),
}
# Why a personal link was refused: the last part of "portal.open.<reason>" and "portal.session.<reason>".
LINK_REASONS = {"unknown": "no such link", "expired": "the link has expired", "revoked": "the link was turned off",
                "locked": "locked after wrong dates of birth"}
UNKNOWN = ActionWords("Other", "Other action", "{actor} did an action with no description")


def words_for(action: str) -> ActionWords:
    """The action's words; a refused link's reason is said after its sentence."""
    if action in _ACTIONS:
        label, sentence = _ACTIONS[action]
        return ActionWords(_GROUPS.get(action.split(".")[0], "Other"), label, sentence)
    head, _, last = action.rpartition(".")
    if head in _ACTIONS and last in LINK_REASONS:
        words = words_for(head)
        return ActionWords(words.group, f"{words.label}: refused", f"{words.sentence}: refused, {LINK_REASONS[last]}")
    return UNKNOWN


def known(action: str) -> bool:
    return words_for(action) is not UNKNOWN


def filter_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The trail's action filter: each group's actions, (code, label), in the order above."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, (label, _) in _ACTIONS.items():
        groups.setdefault(_GROUPS.get(code.split(".")[0], "Other"), []).append((code, label))
    return list(groups.items())
