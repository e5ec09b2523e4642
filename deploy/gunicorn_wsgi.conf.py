"""gunicorn for the WSGI side: pages, forms, the admin (everything but /webhooks/ and /ws/).

    gunicorn -c deploy/gunicorn_wsgi.conf.py      (deploy/bin/web)

Sync workers: nginx buffers requests and responses, so a slow client never holds a worker, and a
sync Django view costs a third of what it costs under ASGI (docs/serving.md).
"""

import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("WEB_WORKERS", "3"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
# Behind nginx on the same machine: X-Forwarded-Proto from 127.0.0.1 is trusted (Django's
# SECURE_PROXY_SSL_HEADER reads it too).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # nginx logs every request already
errorlog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user, which the web and the ASGI
# gunicorn would both claim: off unless WEB_CONTROL_SOCKET names a path of its own.
if os.environ.get("WEB_CONTROL_SOCKET"):
    control_socket = os.environ["WEB_CONTROL_SOCKET"]
else:
    control_socket_disable = True
proc_name = "social-inbox-web"


def post_worker_init(worker):
    """Freeze what loading the app created, so the garbage collector stops walking it in requests.

    After start-up a worker holds a few hundred thousand long-lived objects (modules, models, the URL
    configuration). A full collection walks all of them, inside whichever request happens to trigger
    it: the p99 of every page (measured ~180 ms per full collection, ≤ 20 ms after freezing; see
    bench/README.md). gc.freeze() moves them out of the collector's generations (they live as long as
    the process anyway), so later collections only walk what requests create.
    The URL configuration (and with it every view module) is imported first, so it is frozen too.
    WEB_GC_FREEZE=0 turns it off (to measure the difference: bench/pages.py).
    """
    if os.environ.get("WEB_GC_FREEZE", "1") == "0":
        return
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now rather than in the first request
    gc.collect()
    gc.freeze()
