from __future__ import annotations

from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="conversation_list"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation_detail"),
    path("c/<int:pk>/messages/", views.message_list, name="message_list"),
    path("c/<int:pk>/reply/", views.reply, name="reply"),
    path("c/<int:pk>/read/", views.conversation_read, name="conversation_read"),
    path("c/<int:pk>/unread/", views.conversation_unread, name="conversation_unread"),
    path("c/<int:pk>/archive/", views.conversation_archive, name="conversation_archive"),
    path("c/<int:pk>/reopen/", views.conversation_reopen, name="conversation_reopen"),
    path("c/<int:pk>/priority/", views.conversation_priority, name="conversation_priority"),
    path("m/<int:pk>/retry/", views.message_retry, name="message_retry"),
    path("m/<int:pk>/text/", views.message_text, name="message_text"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
    path("attachments/s/<str:token>/", views.attachment_public, name="attachment_public"),
    path("contacts/<int:pk>/picture/", views.contact_picture, name="contact_picture"),
    path(
        "pages/<int:pk>/policy-notice/dismiss/", views.account_policy_notice_dismiss,
        name="account_policy_notice_dismiss",
    ),
]
