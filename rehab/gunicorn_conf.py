"""Production serving with gunicorn: `make serve` (or `gunicorn -c python:rehab.gunicorn_conf "rehab:create_app()"`).

Settings come from REHAB_* variables so an install changes them without editing this file.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from typing import Any

# Serving through gunicorn is production: the app refuses DEBUG and a default secret.
os.environ.setdefault("REHAB_PRODUCTION", "1")

# Files gunicorn and the app create are this user's only (see rehab.create_app).
umask = 0o077
os.umask(umask)
# gunicorn's control socket (runtime commands through `gunicornc`) sits by default at one path per user,
# shared by every gunicorn that user runs on the host: two installs would steer each other. Not used here.
control_socket_disable = True

bind = os.environ.get("REHAB_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Sync workers: page requests are short; PDF rendering is CPU-bound, so more threads would not help.
workers = int(os.environ.get("REHAB_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = int(os.environ.get("REHAB_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
# A long-lived worker must stay bounded in memory (WeasyPrint keeps a little per render). A worker is recycled
# when its resident memory passes REHAB_WORKER_MAX_RSS_MB (checked after each request, see post_request), and
# in any case after REHAB_MAX_REQUESTS requests (with jitter, so workers do not all restart at once). Counting
# requests alone would restart a busy worker every few seconds at a few hundred pages a second, each restart
# costing a fork and cold caches, while a page that renders no PDF keeps nothing.
max_requests = int(os.environ.get("REHAB_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
MAX_RSS_BYTES = int(os.environ.get("REHAB_WORKER_MAX_RSS_MB", "400")) * 1_048_576
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
preload_app = True  # import once, fork many: faster start, shared memory pages
# The access log shows the path without the query string: search terms are patient names (SECURITY.md 20).
accesslog = os.environ.get("REHAB_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
forwarded_allow_ips = os.environ.get("REHAB_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Patient-link tokens never reach the access log (SECURITY.md 20).
logger_class = "rehab.logredact.RedactingLogger"


def when_ready(server: Any) -> None:  # gunicorn's hooks: it publishes no types
    """Warm the PDF renderer in the master, once the app is loaded (``preload_app``) and before any worker
    forks: every worker, including each one that replaces a recycled worker, then starts with WeasyPrint's
    fonts and the sheet's stylesheets loaded (shared copy-on-write) instead of paying about 0.3 s for them on
    its first sheet. Safe to fork: the warm-up opens no database connection and WeasyPrint starts no thread."""
    from rehab.printing import warm_up

    if not server.cfg.preload_app:  # the master has no app to warm (and must not load one for the workers)
        return
    try:
        warm_up(server.app.wsgi())
    except Exception:  # a sheet that cannot render must not keep every other page from being served
        server.log.exception("warming the PDF renderer failed; the first sheets will be slower or fail")
    gc.collect()  # the warm-up's garbage goes now, before post_fork freezes what is left


# This worker's /proc/self/statm, opened once after the fork (``post_fork``) and read in place after each
# request: opening, reading and closing it on every request cost about 10 µs, a read in place 1.
_statm: int | None = None


def post_fork(server: Any, worker: Any) -> None:
    """Freeze the objects made while importing the app: the garbage collector then skips them, which removes
    most of the slow outliers on pages that build many objects (measured in PERFORMANCE.md). Open the
    worker's own memory figures (``/proc/self`` names the process that opens it, so after the fork)."""
    global _statm
    gc.freeze()
    try:
        _statm = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:  # not Linux: max_requests alone bounds the worker
        _statm = None


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """Finish this request, then let the arbiter replace the worker if it has grown past the memory limit."""
    if _statm is None:  # not Linux: max_requests alone bounds the worker
        return
    resident = int(os.pread(_statm, 128, 0).split()[1]) * _PAGE_SIZE
    if resident > MAX_RSS_BYTES and worker.alive:
        worker.log.info("worker %s uses %d MB, over the %d MB limit: recycling it", worker.pid,
                        resident // 1_048_576, MAX_RSS_BYTES // 1_048_576)
        worker.alive = False
