"""The knee surgery's date in time: done (how many weeks ago) or planned (how long until), in one wording.

A patient may be added before their surgery (prehabilitation): the date is then planned, and every page that
shows it says so. Weeks after surgery are whole weeks (day 0-6: week 0), as the phases timed from surgery
count them (``safety.weeks_since_surgery``); a planned date counts the weeks until it, rounded up.
"""

from __future__ import annotations

from datetime import date

from rehab.dates import day_text

# How far ahead a planned surgery may be: waiting lists for a knee replacement can run over a year; a date
# further out is nearly always a mistyped year.
PLANNED_AHEAD_DAYS = 2 * 366


def is_planned(surgery_date: date, today: date) -> bool:
    """Whether the surgery is still to come (the day of surgery itself is day 0 after it)."""
    return surgery_date > today


def _in(days: int) -> str:
    if days == 1:
        return "tomorrow"
    if days < 14:
        return f"in {days} days"
    return f"in {-(-days // 7)} weeks"


def surgery_text(surgery_date: date, today: date) -> str:
    """The date with where the patient stands: "12 Jan 2027, planned (in 6 weeks)" before it, "1 Oct 2026
    (week 9 after surgery)" from the day itself."""
    days = (surgery_date - today).days
    if days > 0:
        return f"{day_text(surgery_date)}, planned ({_in(days)})"
    return f"{day_text(surgery_date)} (week {-days // 7} after surgery)"


def before_surgery_note(surgery_date: date, today: date) -> str:
    """What the phases timed from surgery mean before it: none of them can start yet (lower case, to follow a
    sentence's first half)."""
    return (f"surgery is planned for {day_text(surgery_date)} ({_in((surgery_date - today).days)}): this is "
            "prehabilitation, and a phase timed from surgery starts only after it.")
