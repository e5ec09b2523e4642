"""WSGI entry point: plain HTTP in production (gunicorn), see README "Production stack"."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from config.entrypoints import prepare_web_process

prepare_web_process()  # DJANGO_SETTINGS_MODULE must be set; the statement timeout of web processes

application = get_wsgi_application()
