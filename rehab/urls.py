"""Each worker builds a page's links once: ``url_for`` remembers what it built, for as long as the routes last.

The patient page builds about 60 links, the dashboard about 170; each costs Werkzeug's rule matching and
quoting (about 10 µs), the same work for the same arguments on every page. A link depends only on what it is
asked for and on what the request's URL adapter is bound to: the host and port, the script root (behind a
proxy, ``SCRIPT_NAME`` may differ from one request to the next), the scheme, the subdomain and the request's
method (Werkzeug first tries the rules of the current method). Every one of those is in the key, so two
requests through different proxies, hosts or prefixes never share a link.

Only what is certain to build the same text is remembered: a link inside a request (not ``_external``, no
``_scheme`` or ``_method``), with values that are ``str``, ``int``, ``bool`` or ``None``, keyed with their
types (``True`` and ``1`` are equal in Python but not in a URL); a float (``-0.0 == 0.0``), a list or an
object is built every time. An app with ``url_defaults`` functions (which may read the request) is never
memoized. A failed build is not remembered. The memo is emptied when it holds ``LIMIT`` links (a stream of
requests with forged Host headers cannot grow it without bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.globals import _cv_request

LIMIT = 4096
_PLAIN = frozenset({str, int, bool, type(None)})


class LinkMemo:
    """The links built so far, by ``key``. ``url_defaults`` is the app's ``url_default_functions`` (Flask
    only reads it with ``in``, so it stays empty until a function is registered)."""

    def __init__(self, url_defaults: Mapping[Any, Any]) -> None:
        self._url_defaults = url_defaults
        self._links: dict[tuple[Any, ...], str] = {}
        self.get = self._links.get

    def remember(self, key: tuple[Any, ...], link: str) -> None:
        if len(self._links) >= LIMIT:
            self._links.clear()
        self._links[key] = link

    def key(self, endpoint: str, anchor: str | None, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """The key of a link built inside a request without ``_external``, ``_scheme`` or ``_method`` (the
        caller checks those), or None when it must be built every time."""
        context = _cv_request.get(None)
        if context is None or self._url_defaults:
            return None
        adapter = context.url_adapter
        if adapter is None or type(anchor) not in _PLAIN:
            return None
        items = sorted(values.items())
        types = tuple([type(value) for _, value in items])
        if not _PLAIN.issuperset(types):
            return None
        # A relative endpoint (".detail") means the current request's blueprint.
        blueprint = context.request.blueprint if endpoint[:1] == "." else None
        return (endpoint, blueprint, anchor, adapter.server_name, adapter.script_name, adapter.subdomain,
                adapter.url_scheme, adapter.default_method, adapter.websocket, tuple(items), types)
