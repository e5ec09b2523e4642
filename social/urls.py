from __future__ import annotations

from django.urls import path

from social import views, views_profile

app_name = "social"

urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("connect/", views.connect_start, name="connect_start"),
    path("connect/callback/", views.connect_callback, name="connect_callback"),
    path("connect/pages/", views.connect_pages, name="connect_pages"),
    path("connect/cancel/", views.connect_cancel, name="connect_cancel"),
    path("<uuid:public_id>/reconnect/", views.account_reconnect, name="account_reconnect"),
    path("<uuid:public_id>/disconnect/", views.account_disconnect, name="account_disconnect"),
    path("<uuid:public_id>/human-agent/", views.account_human_agent, name="account_human_agent"),
    path("<uuid:public_id>/auto-assign/", views.account_auto_assign, name="account_auto_assign"),
    path("<uuid:public_id>/messenger-profile/", views_profile.messenger_profile, name="messenger_profile"),
    path("<uuid:public_id>/messenger-profile/read/", views_profile.messenger_profile_read, name="messenger_profile_read"),
]
