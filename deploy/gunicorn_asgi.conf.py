"""gunicorn with uvicorn workers for the ASGI side: /webhooks/ (the fast path) and /ws/ (Channels).

    gunicorn -c deploy/gunicorn_asgi.conf.py      (deploy/bin/asgi)

uvicorn serves WebSockets only with a WebSocket library installed (`websockets`, pinned in
requirements.in); without one it refuses every /ws/ upgrade ("Unsupported upgrade request") and
nothing in the inbox is live. The worker class comes from the
maintained `uvicorn-worker` package (`uvicorn.workers` is deprecated since uvicorn 0.54).
gunicorn's listening socket has TCP_NODELAY set, which accepted connections inherit.
"""

import os

wsgi_app = "config.asgi:application"
bind = os.environ.get("ASGI_BIND", "127.0.0.1:8002")
workers = int(os.environ.get("ASGI_WORKERS", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
# uvicorn's keep-alive; nginx reuses upstream connections to /webhooks/.
keepalive = 5
timeout = 30  # a worker that stops heartbeating (a blocked event loop) is restarted
graceful_timeout = 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user, which the web and the ASGI
# gunicorn would both claim: off unless ASGI_CONTROL_SOCKET names a path of its own.
if os.environ.get("ASGI_CONTROL_SOCKET"):
    control_socket = os.environ["ASGI_CONTROL_SOCKET"]
else:
    control_socket_disable = True
proc_name = "social-inbox-asgi"

# Under ASGI, psycopg's pool rather than persistent connections, which would open one per request
# thread and exhaust PostgreSQL (config/settings/production.py). Set before the workers fork.
os.environ.setdefault("DJANGO_DB_POOL", "1")
