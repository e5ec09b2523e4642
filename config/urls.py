from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path

from api import urls as api_urls
from config import metrics
from inbox.views import compliance


def _admin_login_signed_in(request, extra_context=None):
    """/admin/login/ for signed-in staff: on to the admin (or its safe `next`), never the admin's own form."""
    return redirect(get_next_redirect_url(request) or "admin:index")


# The admin's own login form authenticates with no rate limit at all. Its URL (where the admin sends
# anyone not signed in) leads to allauth's login instead, which is rate limited and comes back with
# `next`; a signed-in user who is not staff gets a 403 rather than a redirect loop.
admin.site.login = secure_admin_login(_admin_login_signed_in)

compliance_urls = [
    path("meta/data-deletion/", compliance.data_deletion_callback, name="data_deletion"),
    path("meta/data-deletion/<str:code>/", compliance.data_deletion_status, name="data_deletion_status"),
    path("meta/deauthorize/", compliance.deauthorize_callback, name="deauthorize"),
    path("settings/data-retention/", compliance.data_retention, name="data_retention"),
]

urlpatterns = [
    path("", include("accounts.urls")),
    path("inbox/", include("inbox.urls")),
    path("social/", include("social.urls")),
    path("api-keys/", include((api_urls.settings_urlpatterns, "api"))),
    path("", include(api_urls.api_urlpatterns)),
    path("integrations/webhooks/", include("outbound.urls")),
    path("webhooks/", include("inbox.webhook_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Prometheus, for a bearer of METRICS_TOKEN only (config/metrics.py); /healthz and /readyz are middleware.
    path("metrics", metrics.metrics, name="metrics"),
    # Meta's compliance callbacks (the App Dashboard's data deletion and deauthorize URLs) and retention.
    path("", include((compliance_urls, "compliance"))),
]

if settings.SANDBOX:
    urlpatterns += [path("sandbox/", include("sandbox.urls"))]
