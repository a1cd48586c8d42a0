"""Keep patient links out of logs (SECURITY.md 20): a personal link's token is a password."""

from __future__ import annotations

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

if _GunicornLogger is not None:

    class RedactingLogger(_GunicornLogger):  # type: ignore[misc]  # gunicorn publishes no types
        """Gunicorn's logger with tokens and query strings removed from the access log."""

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
            values: dict[str, Any] = super().atoms(resp, req, environ, request_time)
            for key, value in values.items():  # headers and environ values too: any of them may be logged
                if isinstance(value, str):
                    values[key] = escape_controls(redact(value) if key in ("U", "r", "f") else value)
            values["q"] = ""
            return values
