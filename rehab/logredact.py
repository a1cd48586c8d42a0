"""Keep patient links out of logs (SECURITY.md 20): a personal link's token is a password."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

# A personal link (/p/<token>) and a reminder calendar's address (/p/calendar/<token>.ics).
_TOKEN_PATH = re.compile(r"/p/(calendar/)?[A-Za-z0-9_-]{20,}")
# "GET /patients/?q=Okafor HTTP/1.1": search terms are patient names, so query strings go too.
_QUERY_IN_REQUEST_LINE = re.compile(r"^([A-Z]+ [^ ?]*)\?\S*")


# gunicorn decodes a path's %0a into a line break: written as is, it starts a forged line in the access log.
# (Werkzeug's development server escapes them itself.)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_controls(text: str) -> str:
    """Control characters as ``\\xNN``, so one request is always one log line."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def redact(text: str) -> str:
    """``/p/<the token>`` -> ``/p/<token>`` (and a calendar's the same); a request line loses its query string."""
    return _QUERY_IN_REQUEST_LINE.sub(r"\1", _TOKEN_PATH.sub(r"/p/\1<token>", text))


class RedactTokens(logging.Filter):
    """For loggers that print request lines (Werkzeug's development server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_names: tuple[str, ...] = ("werkzeug",)) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())


try:  # gunicorn is installed for `make serve` (the "serve" extra), not for `make run`
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = None

def _clean(value: str) -> str:
    """``escape_controls(redact(value))``, with each regular expression run only where it can match (most
    values have no link, no query and no control character)."""
    if "/p/" in value or "?" in value:
        value = redact(value)
    return value if value.isprintable() else escape_controls(value)


# gunicorn's atoms that carry the request itself, whatever the format: cleaned even when a format leaves them out
# (a dozen short strings), so a logger built with gunicorn's default format still writes one safe line a request.
_REQUEST_ATOMS = frozenset({"h", "l", "u", "t", "r", "s", "m", "U", "H", "b", "f", "a", "L", "p"})
_FORMAT_ATOM = re.compile(r"%\(([^)]+)\)")


@functools.cache
def logged_atoms(access_log_format: str) -> frozenset[str]:
    """The atoms an access-log line is made of: those its format names (headers and environ values as gunicorn
    looks them up, in lower case) and the request's own. Worked out once per format."""
    named = {name.lower() if name.startswith("{") else name for name in _FORMAT_ATOM.findall(access_log_format)}
    return frozenset(named | _REQUEST_ATOMS)


if _GunicornLogger is not None:

    class RedactingLogger(_GunicornLogger):  # type: ignore[misc]  # gunicorn publishes no types
        """Gunicorn's logger with tokens and query strings removed from the access log."""

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
            """gunicorn's atoms with every one the line can write redacted and escaped. gunicorn offers every
            request and response header and environ value as an atom (about fifty a request); only those the
            format names are ever written, so only those are cleaned: the others were never written, and
            cleaning them all cost more than the rest of the access log."""
            values: dict[str, Any] = super().atoms(resp, req, environ, request_time)
            for key in logged_atoms(self.cfg.access_log_format):
                value = values.get(key)
                if isinstance(value, str):
                    values[key] = _clean(value)
            values["q"] = ""
            return values
