"""HTML to PDF with WeasyPrint, through a URL fetcher that serves only the app's own static files and
``data:`` URLs: user text can never make the renderer reach the network or the disk (SECURITY.md 13).

Plain functions, no Flask: fonts and stylesheets are kept per process, so a render worker (or the gunicorn
master before it forks) pays for them once."""

from __future__ import annotations

import gc
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_HOST = "https://rehab.invalid"  # never resolves; our fetcher answers for it from the static folder



class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint publishes no types
    """Serves the app's own static files and ``data:`` URLs; refuses everything else (network, ``file:``,
    other hosts). Redirects cannot happen: nothing is fetched over the network."""

    def __init__(self, static_root: Path) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self._root = static_root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != STATIC_HOST or not parts.path.startswith("/static/"):
            raise ValueError(f"blocked: only the app's static files may be loaded ({parts.scheme} URL)")
        target = (self._root / unquote(parts.path.removeprefix("/static/"))).resolve()
        if not target.is_relative_to(self._root) or not target.is_file():
            raise ValueError("blocked: not one of the app's static files")
        mime_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, target.read_bytes(), {"Content-Type": mime_type})


@cache
def _font_configuration() -> FontConfiguration:
    """One font configuration per process: faster renders and much less memory kept per render."""
    return FontConfiguration()


@lru_cache(maxsize=32)
def _stylesheet(css: str, static_root: Path) -> CSS:
    """A stylesheet parsed once per process and reused by every render that passes the same text: parsing the
    sheet's CSS took about a twentieth of a render, and it has only 8 variants (paper, print size, language)."""
    return CSS(string=css, base_url=f"{STATIC_HOST}/", url_fetcher=StaticOnlyFetcher(static_root),
               font_config=_font_configuration())


def warm_stylesheet(css: str, *, static_root: Path) -> None:
    """Parse ``css`` now (it is kept for the renders that pass the same text)."""
    _stylesheet(css, static_root)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while WeasyPrint works, then collect the young objects once.

    A sheet leaves about 15,000 objects in reference cycles. With the collector on, some 30 young passes, two
    or three older ones and, every few renders, a pass over the whole process interrupt the render (about
    30 ms a sheet in a worker, measured); one young pass afterwards frees the same garbage in half that
    time, and no render pays for a full pass. Whoever paused the collector turns it back on, so overlapping
    renders in threads leave it on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


def html_to_pdf(html: str, *, static_root: Path, css: str | None = None) -> bytes:
    """Render trusted, already-escaped HTML to PDF bytes with the static-only fetcher.

    ``css``: a stylesheet for the page, given apart from the HTML so it is parsed once per process."""
    stylesheets = [_stylesheet(css, static_root)] if css else None
    with _collector_paused():
        document = HTML(string=html, base_url=f"{STATIC_HOST}/", url_fetcher=StaticOnlyFetcher(static_root))
        # WeasyPrint publishes no types: with no target, write_pdf returns the bytes.
        return cast(bytes, document.write_pdf(font_config=_font_configuration(), stylesheets=stylesheets))


def render_document(html: str, *, static_root: Path, css: str | None = None) -> Any:
    """Lay out trusted HTML into pages (a ``weasyprint.Document``), to measure before writing it
    (rehab.printing.fit), with the static-only fetcher and the stylesheet parsed once per process."""
    with _collector_paused():
        return HTML(string=html, base_url=f"{STATIC_HOST}/", url_fetcher=StaticOnlyFetcher(static_root)).render(
            font_config=_font_configuration(), stylesheets=[_stylesheet(css, static_root)] if css else None)


def document_pdf(document: Any) -> bytes:
    """A laid-out document's PDF bytes."""
    with _collector_paused():
        return cast(bytes, document.write_pdf())


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as a PNG ``data:`` URL. A PNG, not SVG: WeasyPrint draws the hundreds of path
    segments of an SVG code one by one (about a twentieth of a render). The page shows it unsmoothed
    (``image-rendering: pixelated``); 4 pixels a module keep it sharp in viewers that smooth anyway."""
    import segno  # only sheets with a patient link need it

    return segno.make(url, error="m").png_data_uri(scale=4)


def join_pdfs(parts: list[bytes]) -> bytes:
    """PDFs already rendered (a batch's sheets, each from the cache) as one, pages in order: no sheet is laid
    out again, and each keeps its own "page 1 of 2"."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(BytesIO(part)))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
