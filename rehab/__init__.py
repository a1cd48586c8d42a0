"""rehab: backward-walking knee rehabilitation for physical therapy clinics."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask

from rehab import db
from rehab.config import DEFAULT_SECRET_KEY, Defaults
from rehab.urls import LinkMemo


class ConfigurationError(RuntimeError):
    """The install's settings are unsafe or incomplete."""


class RehabFlask(Flask):
    """Flask, with each request's view run as the request's one transaction (rehab/db.py: committed when the
    view returns, rolled back when it raises), and each link built once per worker (rehab/urls.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._links = LinkMemo(self.url_default_functions)

    def dispatch_request(self) -> Any:
        return db.dispatch(super().dispatch_request)

    def url_for(self, /, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        key = None if _external or _scheme is not None or _method is not None else \
            self._links.key(endpoint, _anchor, values)
        if key is not None:
            link = self._links.get(key)
            if link is not None:
                return link
        link = super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external,
                               **values)
        if key is not None:  # built without an error: remembered
            self._links.remember(key, link)
        return link


def create_app(test_config: dict[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the app: settings, database, security, blueprints, CLI. ``instance_path`` (absolute) replaces
    Flask's default instance folder, for tests."""
    # Files the app and its commands create (the SQLite database, its WAL, backups, the sheet cache) are
    # readable by this user only: they hold patient data, and the usual umask lets every local user read them.
    os.umask(0o077)
    app = RehabFlask(
        __name__,
        instance_relative_config=True,
        instance_path=instance_path,
        template_folder="../templates",
    )
    _load_config(app, test_config)
    _refuse_unsafe_config(app)
    _make_private(app)
    _refuse_bad_durations(app)

    from rehab import cli, errors, i18n, kept_forms, logredact, once, request_guard, security, templating
    from rehab.views import register_blueprints

    logredact.install()
    request_guard.init_app(app)
    db.init_app(app)
    security.init_app(app)
    kept_forms.init_app(app)  # after security: it reads the signed-in user
    errors.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    once.init_app(app)
    register_blueprints(app)
    cli.init_app(app)
    return app


def _load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults, then instance/config.py, then REHAB_* variables, then the given dict.

    A test app (the dict says ``TESTING``) reads neither the install's instance/config.py nor the shell's
    REHAB_* variables: a developer's ``PATIENTS_PER_PAGE = 2`` must not change what the tests see."""
    app.config.from_object(Defaults)
    if not (test_config and test_config.get("TESTING")):
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("REHAB")
    if test_config:
        app.config.update(test_config)
    # The session cookie is sent once, at sign-in (SESSION_REFRESH_EACH_REQUEST is off): it must live as long as
    # the server-side session may.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["ABSOLUTE_SESSION_HOURS"])
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
        path = os.path.join(app.instance_path, "rehab.sqlite3")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"



def _make_private(app: Flask) -> None:
    """Files an older install created readable by others (before the umask above): this user's only from now.
    The secret key signs every session and derives every patient link; the database is the patient record."""
    candidates = [os.path.join(app.instance_path, "config.py")]
    url = str(app.config["DATABASE_URL"])
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        database = url.removeprefix("sqlite:///")
        candidates += [database, f"{database}-wal", f"{database}-shm"]
    for path in candidates:
        try:
            mode = os.stat(path).st_mode & 0o777
            if mode & 0o077:
                os.chmod(path, mode & 0o700)
        except OSError:  # absent, or not ours to change: nothing to tighten
            continue

def _refuse_unsafe_config(app: Flask) -> None:
    """Production must not run with a known secret or with the debugger (SECURITY.md 18)."""
    if os.environ.get("REHAB_PRODUCTION") == "1" and (app.debug or app.testing):
        raise ConfigurationError("REHAB_PRODUCTION is set: DEBUG and TESTING must be off.")
    if app.debug or app.testing:
        return
    if not app.config["PUBLIC_URL"]:
        app.logger.warning("PUBLIC_URL is not set: patient links follow each request's Host header. Set "
                           "REHAB_PUBLIC_URL to the address patients use (e.g. https://rehab.clinic.example).")
    secret = app.config.get("SECRET_KEY") or ""
    if secret == DEFAULT_SECRET_KEY or len(secret) < 32:
        raise ConfigurationError(
            "SECRET_KEY is the default or shorter than 32 characters. Set REHAB_SECRET_KEY or put "
            "SECRET_KEY in instance/config.py (`make run` writes one for you)."
        )


# Settings that are lengths of time or counts: a number above zero, fractions allowed for the times. A value
# that rounds to 0 would end every session at once or throttle everyone, so it is refused at start instead.
_POSITIVE_SETTINGS = ("IDLE_TIMEOUT_MINUTES", "KEPT_FORM_MINUTES", "ABSOLUTE_SESSION_HOURS", "PORTAL_SESSION_HOURS",
                      "PORTAL_IDLE_MINUTES",
                      "LOGIN_THROTTLE_WINDOW_MINUTES", "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                      "LOGIN_MAX_FAILURES_PER_ADDRESS", "PORTAL_MAX_BAD_TOKENS_PER_ADDRESS", "MAX_FORM_FIELDS",
                      "PORTAL_CODE_MAX_WRONG_PER_ADDRESS", "PORTAL_CODE_MAX_WRONG_EVERYONE")


def _refuse_bad_durations(app: Flask) -> None:
    for name in _POSITIVE_SETTINGS:
        value = app.config[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigurationError(f"{name} must be a number above 0 (it is {value!r}).")
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ConfigurationError(f"TRUSTED_PROXY_COUNT must be a whole number, 0 or more (it is {proxies!r}).")
