"""A sheet's snapshot as HTML, CSS and PDF through the disk cache (a batch joins its sheets from there, see
``worker``), and the renderer's warm-up.

Needs the app (its templates, translations and settings) and never a request: the caller passes the
patient's link as addresses it has already made (``PrintedLink``), or None for a sheet without one. The link is
not part of the snapshot: every sheet, a reprint too, prints the patient's live link of the day it is printed
(the cache key holds it), so a reprint never prints a link that was replaced."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template
from flask_babel import force_locale

from rehab.i18n import LANGUAGES
from rehab.printing import cache, fit, pdf
from rehab.printing.snapshot import SheetOptions, build_sheet_snapshot
from rehab.vocabulary import PaperSize

Snapshot = dict[str, Any]


@dataclass(frozen=True)
class PrintedLink:
    """The patient's link as a sheet prints it: the long link in the QR code, and the short code with the page
    it is typed on (``code`` None for a link made before codes: the sheet then prints the long link)."""

    url: str  # https://host/p/<token>
    code: str | None = None  # K7QM-3XPA
    entry_url: str = ""  # https://host/p/code


def static_root() -> Path:
    """The app's static folder: the only files a render may load (``StaticOnlyFetcher``)."""
    return Path(current_app.static_folder or "")


def render_sheet(snapshot: Snapshot | str | Callable[[], str], *, digest: str,
                 link: PrintedLink | None = None) -> bytes:
    """The PDF for a snapshot (a dict, or its stored JSON), from the disk cache when this exact sheet was
    rendered before: a cached download reads one file and never parses the snapshot (pass a callable to
    load it only on a miss)."""
    cache_key = cache.key(digest, _link_key(link))
    cached = cache.read(cache_key)
    if cached is not None:
        return cached
    if callable(snapshot):
        snapshot = snapshot()
    if isinstance(snapshot, str):
        snapshot = json.loads(snapshot)
    rendered = sheet_pdf(snapshot, link=link)  # type: ignore[arg-type]
    cache.write(cache_key, rendered)
    return rendered


def sheet_cache_key(digest: str, link: PrintedLink | None) -> str:
    """The cache key of a sheet as printed with this link: a page asks whether a render worker has made it."""
    return cache.key(digest, _link_key(link))


def _link_key(link: PrintedLink | None) -> str | None:
    """What of the link goes into the cache key: everything the sheet prints of it."""
    return None if link is None else (link.url if link.code is None else f"{link.url} {link.code} {link.entry_url}")


def sheet_pdf(snapshot: Snapshot, *, link: PrintedLink | None = None) -> bytes:
    """A sheet's PDF in the arrangement that fills its pages best (no cache)."""
    return pdf.document_pdf(fitted_document(snapshot, link=link)[0])


def fitted_document(snapshot: Snapshot, *, link: PrintedLink | None = None) -> tuple[Any, fit.Measure]:
    """The sheet laid out in the arrangement that fills its pages (rehab.printing.fit), and its measure."""
    css = sheet_css(snapshot)
    qr = pdf.qr_data_uri(link.url) if link else None

    def render(layout: fit.Layout) -> Any:
        html = sheet_html(snapshot, link=link, inline_css=False, layout=layout, portal_qr=qr)
        return pdf.render_document(html, static_root=static_root(), css=css)

    return fit.best_layout(render, large_print=bool(snapshot["options"]["large_print"]))


def sheet_html(snapshot: Snapshot, *, link: PrintedLink | None = None, inline_css: bool = True,
               layout: fit.Layout | None = None, portal_qr: str | None = None) -> str:
    """The sheet as HTML; with ``inline_css`` its CSS is inside (a whole page, as a browser would print it),
    otherwise ``sheet_css`` gives it apart (for ``render_document``, which parses it once per process).
    ``layout``: the arrangement (the standard one by default); ``portal_qr``: the link's QR code, made once
    for every arrangement tried."""
    qr = portal_qr or (pdf.qr_data_uri(link.url) if link else None)
    with force_locale(snapshot["options"]["language"]):
        return render_template("handouts/sheet.html", sheet=snapshot, portal_url=link.url if link else None,
                               portal_qr=qr, short_url=_short(link.url if link else None),
                               portal_code=link.code if link else None,
                               code_entry_url=_short(link.entry_url) if link and link.code else None,
                               inline_css=inline_css, layout=layout or fit.Layout())


def sheet_css(snapshot: Snapshot) -> str:
    """The sheet's CSS for this snapshot's paper, print size and language."""
    with force_locale(snapshot["options"]["language"]):
        return render_template("handouts/sheet.css", sheet=snapshot)


def _short(url: str | None) -> str | None:
    """The printed link without the scheme, so it is shorter to type from paper."""
    return url.split("://", 1)[-1] if url else None


def warm_up(app: Flask) -> None:
    """Parse every variant of the sheet's CSS and render two made-up sheets (no database), so the process
    starts with WeasyPrint's fonts, caches and stylesheets loaded: a worker's first sheet otherwise took
    about 0.3 s longer. gunicorn calls it in the master, before it forks the workers (rehab/gunicorn_conf.py)."""
    from rehab.services.catalogue import templates
    from rehab.services.protocol_content import content_from_template

    content = content_from_template(templates()["knee_oa"])
    with app.app_context():
        for paper in PaperSize:
            for large_print in (False, True):
                for language in LANGUAGES:
                    options = SheetOptions(paper=paper, large_print=large_print, language=language)
                    snapshot = build_sheet_snapshot(
                        patient_name="Sample Patient",
                        clinic={"name": "Clinic", "address": "Road", "phone": "555", "emergency_number": "911"},
                        therapist_name="Therapist", protocol_title="Sample", version_number=1, content=content,
                        phase_index=0, options=options, printed_on=date(2026, 1, 1), speed_unit="kmh")
                    css = sheet_css(snapshot)
                    pdf.warm_stylesheet(css, static_root=static_root())
                    if (paper, large_print, language) in (("letter", False, "en"), ("a4", True, "es")):
                        sample = PrintedLink("https://example.invalid/p/sample", "K7QM-3XPA",
                                             "https://example.invalid/p/code")
                        sheet_pdf(snapshot, link=sample)
