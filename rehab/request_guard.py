"""What every request must satisfy before a view runs (docs/security.md, second round).

- The body is at most ``MAX_CONTENT_LENGTH``, chunked bodies included (Werkzeug cuts a chunked body at the
  limit and parses the rest as if it were whole), and a form has at most ``MAX_FORM_FIELDS`` fields, counted
  on the raw body before anything parses it.
- No control characters in the path, and none but tab and line breaks in the query string's and the form's
  values: PostgreSQL cannot store a NUL byte. (``next=`` and ``back=`` refuse line breaks themselves.)
- Ids in URLs fit the database's integer columns, so a 30-digit id is a 404, not a crash.
- A state change sent by another site is refused by the browser's own ``Sec-Fetch-Site`` header.
- Behind a trusted proxy (``TRUSTED_PROXY_COUNT``), Werkzeug's ProxyFix gives the client's address and scheme.
"""

from __future__ import annotations

import io
import re

from flask import Flask, abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

# PostgreSQL's integer columns hold up to 2**31 - 1 (SQLite's up to 2**63 - 1).
MAX_ID = 2**31 - 1
_ID_DIGITS = len(str(MAX_ID))
# C0 controls and DEL; tab, line feed and carriage return are allowed in form fields (notes have lines).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_FIELD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` that matches only ids a database column can hold: anything larger is simply not found."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 (Werkzeug's names)
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bounded_id(text: str) -> int:
    """For ``request.form.get(name, type=bounded_id)``: a whole number that fits an id column, else
    ValueError (Werkzeug then returns the default). Long digit strings are refused before ``int()`` reads
    them: Python spends quadratic time on them and refuses more than 4,300 digits with an error."""
    text = text.strip()
    if not text.isdigit() or len(text) > _ID_DIGITS or int(text) > MAX_ID:
        raise ValueError("not an id")
    return int(text)


def is_id(text: str) -> bool:
    try:
        bounded_id(text)
    except ValueError:
        return False
    return True


# Past any real list; larger page numbers are read as this one (an empty page), not as a 500.
MAX_PAGE = 1_000_000


def page_number(text: str) -> int:
    """For ``request.args.get("page", 1, type=page_number)``: 1 to MAX_PAGE whatever was typed."""
    text = text.strip()
    if not text.isdigit():
        raise ValueError("not a page number")
    return max(1, MAX_PAGE if len(text) > 7 else min(int(text), MAX_PAGE))


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered (their routes read the ``int`` converter when added)."""
    hops = int(app.config["TRUSTED_PROXY_COUNT"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]  # Flask's documented way
    app.url_map.converters["int"] = BoundedIntConverter
    # Werkzeug's own count, for multipart forms (it does not count url-encoded ones; _check_body does).
    app.config["MAX_FORM_PARTS"] = app.config["MAX_FORM_FIELDS"]
    # First of all before_request hooks: CSRF protection parses the form, so the body is checked before that.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)


def _check_request() -> None:
    if _CONTROL.search(request.path) or any(_CONTROL_IN_FIELD.search(value) for value in request.args.values()):
        abort(400)
    if request.method not in _BODY_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in _SAME_SITE_FETCHES:
        abort(403)  # a form on another site posting here: the browser says so, whatever the proxy did to Host
    _check_body()
    for name, values in request.form.lists():
        if _CONTROL.search(name) or any(_CONTROL_IN_FIELD.search(value) for value in values):
            abort(400)


def _check_body() -> None:
    """Read the body once, bounded, and hand it back to Werkzeug as a stream of known length."""
    environ = request.environ
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    declared = request.content_length
    if declared is not None and declared > limit:
        abort(413)
    source = environ["wsgi.input"]
    if declared is None and not environ.get("wsgi.input_terminated"):
        return  # no length and no server-side framing: Werkzeug reads nothing (its safe fallback)
    wanted = limit + 1 if declared is None else declared
    chunks, size = [], 0
    while size < wanted:
        chunk = source.read(min(65_536, wanted - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        abort(413)  # a chunked body past the limit: refused whole, never cut and saved
    body = b"".join(chunks)
    url_encoded = request.mimetype == "application/x-www-form-urlencoded"
    if url_encoded and body.count(b"&") >= current_app.config["MAX_FORM_FIELDS"]:
        abort(413)  # counted in C on the raw bytes: a 2 MB form of 100,000 fields is refused in milliseconds
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # Werkzeug ignores CONTENT_LENGTH while this says "chunked"
    request.__dict__.pop("content_length", None)  # cached from the headers above; now the body's length
