"""ASGI entry point: HTTP and WebSocket.

Development: daphne (``manage.py runserver``). Production: gunicorn with uvicorn workers
(``deploy/bin/asgi``) for ``/webhooks/`` and ``/ws/``; gunicorn's sync workers serve the other pages.
``POST /webhooks/facebook/`` is answered by the ASGI adapter ``inbox.webhook_asgi.WebhookFastPath``
(the receive steps of ``inbox.ingest.receive`` without Django's request cycle) when the database is
PostgreSQL; every other HTTP request goes to Django unchanged.
"""

from __future__ import annotations

from django.core.asgi import get_asgi_application

from config.entrypoints import prepare_web_process

prepare_web_process()  # DJANGO_SETTINGS_MODULE must be set; the statement timeout of web processes

# Django must be set up before anything imports models (the websocket routing does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from inbox.routing import websocket_urlpatterns  # noqa: E402
from inbox.webhook_asgi import WebhookFastPath  # noqa: E402

http_app = WebhookFastPath(django_asgi_app)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
