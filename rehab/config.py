"""Default settings. An install overrides them in ``instance/config.py`` and with ``REHAB_*`` variables."""

from __future__ import annotations

# The placeholder that `create_app` refuses outside debug and testing (SECURITY.md 18).
DEFAULT_SECRET_KEY = "change-me"  # noqa: S105 (the placeholder we refuse)


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    # Empty means SQLite at instance/rehab.sqlite3; set to postgresql+psycopg://... for PostgreSQL.
    DATABASE_URL = ""
    # PostgreSQL: the owner's URL that `migrate` (and `audit rekey`, `grant-app-role`) connect with, when the
    # app itself connects as a role that may not change or delete audit rows (SECURITY.md 19). Empty: DATABASE_URL.
    MIGRATION_DATABASE_URL = ""
    SQLITE_BUSY_TIMEOUT_MS = 10_000
    # Echo SQL to the log (development only).
    DATABASE_ECHO = False

    # Sessions (SECURITY.md 5-7).
    IDLE_TIMEOUT_MINUTES = 15
    # A form sent after the idle sign-out is kept this long for its author, to check and save after signing in
    # again (rehab/kept_forms.py); it holds patient data, so not longer than a treatment takes.
    KEPT_FORM_MINUTES = 30
    ABSOLUTE_SESSION_HOURS = 12
    SESSION_COOKIE_NAME = "rehab_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set True behind HTTPS
    # The cookie lives as long as ABSOLUTE_SESSION_HOURS (create_app sets PERMANENT_SESSION_LIFETIME from it) and
    # the server tracks idleness, so re-signing and re-sending an unchanged cookie on every response buys nothing.
    SESSION_REFRESH_EACH_REQUEST = False

    # Login throttling (SECURITY.md 3): failures counted in the database, so every worker shares them.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 10
    LOGIN_MAX_FAILURES_PER_ADDRESS = 50
    LOGIN_THROTTLE_WINDOW_MINUTES = 15

    # Argon2id cost. Tests lower it; production keeps argon2-cffi's RFC 9106 "low memory" profile.
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_KIB = 65_536

    # Request size (SECURITY.md 14): 2 MB lets a 1 MB note reach the form's own length check and get a
    # message beside the field; anything larger gets the 413 page.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

    # The patient portal (SECURITY.md 22-24): a patient session ends after PORTAL_SESSION_HOURS, or
    # PORTAL_IDLE_MINUTES without a page; an address that tries PORTAL_MAX_BAD_TOKENS_PER_ADDRESS wrong links in
    # LOGIN_THROTTLE_WINDOW_MINUTES is refused for the rest of the window.
    PORTAL_SESSION_HOURS = 2
    PORTAL_IDLE_MINUTES = 30
    PORTAL_MAX_BAD_TOKENS_PER_ADDRESS = 10
    # Wrong short codes (docs/security.md, "Short codes") in LOGIN_THROTTLE_WINDOW_MINUTES from one address, and
    # from all addresses together, before typing codes is paused (for that address, or for everyone) for the rest
    # of the window. The QR code, the long link and remembered phones keep working.
    PORTAL_CODE_MAX_WRONG_PER_ADDRESS = 10
    PORTAL_CODE_MAX_WRONG_EVERYONE = 50

    # Rendered sheets are kept here by content (an unchanged sheet is never rendered twice). Empty means
    # instance/sheet-cache.
    SHEET_CACHE_DIR = ""
    # Where sheets wait for a render worker (`flask render-worker`, started by `make run` and `make serve`), so
    # rendering never runs in the page workers (docs/scaling.md). Empty: a SQLite file in the instance folder
    # (one machine, nothing to install). "postgresql://user:password@host/db": the chain's PostgreSQL as the
    # shared queue of every app host and render worker. "redis://host:6379/0": Redis (needs the redis package).
    # "inline": no queue, every sheet renders inside its request (the tests' default; a fallback only).
    RENDER_QUEUE = ""
    # A batch whose worker gave no sign of life for this long is taken over by another worker (or failed,
    # visibly, after three tries). A worker on the same host whose process is gone is taken over at once.
    RENDER_JOB_STALE_SECONDS = 30
    # When the render workers are idle, a first download waits this long for its own render in the request
    # and opens the PDF directly (one render, about 0.1 s) instead of going through the waiting page; about
    # three renders at most, so a page worker is never held long. 0: never.
    RENDER_WAIT_SECONDS = 0.3

    # The FHIR API (docs/fhir.md): the identifier system chart numbers are written under and read from. Set it to
    # your records system's medical-record-number system so its patients match ours.
    FHIR_IDENTIFIER_SYSTEM = "urn:rehab:chart-number"
    # Wrong API tokens from one address in LOGIN_THROTTLE_WINDOW_MINUTES before it gets 429 for the rest of it.
    FHIR_MAX_BAD_TOKENS_PER_ADDRESS = 20

    # The key of the audit trail's HMAC chain, kept outside the database (SECURITY.md 19). Empty: a key derived
    # from SECRET_KEY. Changing either without `audit rekey` makes `audit verify` fail: see the README.
    AUDIT_KEY = ""

    # At most this many fields in one form, counted before the form is parsed (the largest real form, a
    # 12-phase protocol with 6 exercises each, has about 1,300); more gets the 413 page.
    MAX_FORM_FIELDS = 2000

    # Behind a reverse proxy: how many proxies in front of the app set X-Forwarded-For, -Proto, -Host and -Port
    # (Werkzeug's ProxyFix trusts that many hops). 0 trusts none: the socket's address is the client's, which
    # behind a proxy is the proxy's, so throttles would count every user as one.
    TRUSTED_PROXY_COUNT = 0
    # The address patients reach the app at, e.g. "https://rehab.clinic.example". Patient links on the share
    # page, QR codes and home sheets start with it; without it they follow the request's Host header, which a
    # proxy that passes any Host through lets a stranger choose (production logs a warning at start).
    PUBLIC_URL = ""

    PATIENTS_PER_PAGE = 25
    WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
    # Flask-WTF's HTTPS check demands a Referer on every POST, which `Referrer-Policy: no-referrer` (kept so a
    # patient's link never leaks) makes browsers leave out: every form would be refused behind HTTPS. The
    # CSRF token and SameSite=Lax protect the forms; rehab.request_guard also refuses cross-site posts by the
    # browser's Sec-Fetch-Site header.
    WTF_CSRF_SSL_STRICT = False
    # Log each request's SQL statement count (used by tests and `make bench`).
    COUNT_QUERIES = False
