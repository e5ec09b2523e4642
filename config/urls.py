from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("inbox/", include("inbox.urls")),
    path("social/", include("social.urls")),
    path("webhooks/", include("inbox.webhook_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX:
    urlpatterns += [path("sandbox/", include("sandbox.urls"))]
