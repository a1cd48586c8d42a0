"""A rendered PDF as the response to a download: shown in the browser, or saved under a dated file name."""

from __future__ import annotations

from flask import Response


def pdf_response(pdf: bytes, filename: str, *, inline: bool = True) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})
