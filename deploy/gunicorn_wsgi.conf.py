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
