from __future__ import annotations

from django.urls import path

from inbox.webhooks import facebook_webhook

app_name = "webhooks"

urlpatterns = [
    path("facebook/", facebook_webhook, name="facebook"),
]
