from django.urls import path

from api import views
from api.api import api, docs, not_found

app_name = "api"

# The settings page (HTML), included under /api-keys/.
settings_urlpatterns = [
    path("", views.api_key_list, name="api_key_list"),
    path("<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]

# The REST API, included at the site's root: /api/v1/…, /api/docs.
api_urlpatterns = [
    path("api/v1/", api.urls),
    path("api/docs", docs, name="api_docs"),
    path("api/v1/<path:rest>", not_found, name="api_not_found"),
]
