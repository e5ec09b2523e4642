from __future__ import annotations

from django.urls import path

from outbound import views

app_name = "outbound"

urlpatterns = [
    path("", views.endpoint_list, name="webhook_list"),
    path("<int:pk>/", views.endpoint_detail, name="webhook_detail"),
    path("<int:pk>/rotate/", views.endpoint_rotate, name="webhook_rotate"),
    path("<int:pk>/enable/", views.endpoint_enable, name="webhook_enable"),
    path("<int:pk>/disable/", views.endpoint_disable, name="webhook_disable"),
    path("<int:pk>/delete/", views.endpoint_delete, name="webhook_delete"),
    path("<int:pk>/deliveries/<int:delivery_pk>/replay/", views.delivery_replay, name="webhook_replay"),
]
