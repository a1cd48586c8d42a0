"""Production serving with gunicorn: `make serve` (or `gunicorn -c python:rehab.gunicorn_conf "rehab:create_app()"`).

Settings come from REHAB_* variables so an install changes them without editing this file.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

# Serving through gunicorn is production: the app refuses DEBUG and a default secret.
os.environ.setdefault("REHAB_PRODUCTION", "1")

bind = os.environ.get("REHAB_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Sync workers: page requests are short; PDF rendering is CPU-bound, so more threads would not help.
workers = int(os.environ.get("REHAB_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = int(os.environ.get("REHAB_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
# Recycle each worker after this many requests (with jitter, so they do not all restart at once): WeasyPrint
# keeps a little memory per render, and a long-lived process must stay bounded.
max_requests = int(os.environ.get("REHAB_MAX_REQUESTS", "1000"))
max_requests_jitter = max_requests // 10
preload_app = True  # import once, fork many: faster start, shared memory pages
# The access log shows the path without the query string: search terms are patient names (SECURITY.md 20).
accesslog = os.environ.get("REHAB_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
forwarded_allow_ips = os.environ.get("REHAB_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Patient-link tokens never reach the access log (SECURITY.md 20).
logger_class = "rehab.logredact.RedactingLogger"


def post_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
    """Freeze the objects made while importing the app: the garbage collector then skips them, which removes
    most of the slow outliers on pages that build many objects (measured in PERFORMANCE.md)."""
    gc.freeze()
