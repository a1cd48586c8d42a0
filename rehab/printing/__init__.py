"""Printing: the patient's home sheet and the physician's progress report, from the database to PDF bytes.

A package of its own, outside ``rehab/views`` and ``rehab/services``, because printing is neither a page nor
a domain rule: it renders the app's Jinja templates in the patient's language (so it needs the app), but
never a request. Every function takes plain values (a session, rows, options, a link already made into a
URL) and runs inside ``app.app_context()``: a page view, the gunicorn master's warm-up, the FHIR export and
the render worker off the page workers all call the same code.

- ``snapshot``: what a sheet shows, as plain values (its options, the snapshot, its digest); no Flask.
- ``pdf``: HTML to PDF with WeasyPrint and a fetcher that loads only the app's static files; no Flask.
- ``prints``: a sheet's snapshot taken from the database, and the print records.
- ``sheets``: a snapshot as HTML, CSS and PDF, through the disk cache; the renderer's warm-up.
- ``cache``: the PDF cache on disk, shared by every worker process.
- ``report_snapshot``: what a progress report shows, as plain values kept with each print; no Flask.
- ``report``: the physician's progress report from its snapshot to PDF, through the cache; its print records.
- ``responses``: a PDF as a download.
- ``queue``: the render queue (huey) the pages put sheets and batches on, and whether a worker is running.
- ``worker``: what a render worker (`flask render-worker`) does with them, off the page workers.
- ``jobs``: batch print jobs as the pages see them (starting one, its progress, the user's recent ones).
"""

from rehab.printing.prints import (
    batch_candidates,
    clinic_prints,
    link_token,
    live_link_token,
    live_opening_link,
    new_snapshot,
    opening_link,
    print_for_download,
    recent_prints,
    record_print,
    stored_snapshot,
)
from rehab.printing.report import (
    clinic_report,
    new_report,
    recent_reports,
    record_report,
    render_report,
    report_filename,
    report_pdf,
)
from rehab.printing.responses import pdf_response
from rehab.printing.sheets import PrintedLink, render_sheet, sheet_css, sheet_html, warm_up

__all__ = [
    "PrintedLink", "live_opening_link", "opening_link",
    "batch_candidates", "clinic_prints", "clinic_report", "new_report", "recent_reports", "record_report",
    "render_report", "report_filename", "link_token", "live_link_token", "new_snapshot", "pdf_response",
    "print_for_download", "recent_prints", "record_print", "render_sheet", "report_pdf", "sheet_css",
    "sheet_html", "stored_snapshot", "warm_up",
]
