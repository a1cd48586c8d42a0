"""A rendered PDF as the response to a download (shown in the browser, or saved under a dated file name), and the
one way every download of a printed PDF (the therapist's sheet, the patient's own, the progress report) waits
for a render worker: queued and sent to its waiting page, which polls ``waiting_answer`` and opens the PDF."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, redirect
from werkzeug.wrappers import Response as BaseResponse

from rehab.printing import cache, queue


def pdf_response(pdf: bytes, filename: str, *, inline: bool = True) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})


def queued_or_none(cache_key: str, *, enqueue: Callable[[], None], waiting_url: str) -> BaseResponse | None:
    """None when this request serves the PDF (it is in the cache, or with ``RENDER_QUEUE=inline`` this request
    renders it); otherwise its render is put on the queue and the browser is sent to the waiting page, so a
    page worker never renders while others wait for their pages.

    When the render workers are idle, the request waits up to ``RENDER_WAIT_SECONDS`` for its render and then
    serves the PDF itself: a quiet first sheet opens after one render, without the waiting page's round trips."""
    if queue.is_inline() or cache.has(cache_key):
        return None
    with queue.quiet_wait() as may_wait:
        enqueue()
        if may_wait and queue.wait_rendered(cache_key):
            return None
    return redirect(waiting_url, code=303)


def answer_json(answer: dict[str, object]) -> Response:
    """A waiting page's poll answer (a batch's progress too)."""
    return Response(json.dumps(answer), mimetype="application/json")
