from __future__ import annotations

from django.urls import path

from inbox.views import assignment, bulk, conversations, labels, notes, notifications, saved_replies

app_name = "inbox"

urlpatterns = [
    path("", conversations.conversation_list, name="conversation_list"),
    path("dashboard/", conversations.dashboard, name="dashboard"),
    path("c/<int:pk>/", conversations.conversation_detail, name="conversation_detail"),
    path("c/<int:pk>/messages/", conversations.message_list, name="message_list"),
    path("c/<int:pk>/reply/", conversations.reply, name="reply"),
    path("c/<int:pk>/read/", conversations.conversation_read, name="conversation_read"),
    path("c/<int:pk>/unread/", conversations.conversation_unread, name="conversation_unread"),
    path("c/<int:pk>/resolve/", conversations.conversation_resolve, name="conversation_resolve"),
    path("c/<int:pk>/reopen/", conversations.conversation_reopen, name="conversation_reopen"),
    path("c/<int:pk>/pending/", conversations.conversation_pending, name="conversation_pending"),
    path("c/<int:pk>/snooze/", conversations.conversation_snooze, name="conversation_snooze"),
    path("c/<int:pk>/unsnooze/", conversations.conversation_unsnooze, name="conversation_unsnooze"),
    path("c/<int:pk>/priority/", conversations.conversation_priority, name="conversation_priority"),
    path("c/<int:pk>/assign/", assignment.assignee_picker, name="assignee_picker"),
    path("c/<int:pk>/assign/set/", assignment.conversation_assign, name="conversation_assign"),
    path("c/<int:pk>/note/", notes.note_create, name="note_create"),
    path("c/<int:pk>/labels/", labels.conversation_labels, name="conversation_labels"),
    path("c/<int:pk>/saved-replies/", saved_replies.saved_reply_picker, name="saved_reply_picker"),
    path("c/<int:pk>/saved-replies/<int:reply_pk>/", saved_replies.saved_reply_fill, name="saved_reply_fill"),
    path("bulk/resolve/", bulk.bulk_resolve, name="bulk_resolve"),
    path("bulk/reopen/", bulk.bulk_reopen, name="bulk_reopen"),
    path("bulk/read/", bulk.bulk_read, name="bulk_read"),
    path("bulk/unread/", bulk.bulk_unread, name="bulk_unread"),
    path("bulk/assign/", bulk.bulk_assign, name="bulk_assign"),
    path("bulk/assign/members/", bulk.bulk_assignees, name="bulk_assignees"),
    path("bulk/labels/add/", bulk.bulk_label_add, name="bulk_label_add"),
    path("bulk/labels/remove/", bulk.bulk_label_remove, name="bulk_label_remove"),
    path("settings/labels/", labels.label_list, name="label_list"),
    path("settings/labels/<int:pk>/", labels.label_update, name="label_update"),
    path("settings/labels/<int:pk>/delete/", labels.label_delete, name="label_delete"),
    path("settings/saved-replies/", saved_replies.saved_reply_list, name="saved_reply_list"),
    path("settings/saved-replies/<int:pk>/", saved_replies.saved_reply_update, name="saved_reply_update"),
    path("settings/saved-replies/<int:pk>/delete/", saved_replies.saved_reply_delete, name="saved_reply_delete"),
    path("members/", notes.mention_members, name="mention_members"),
    path("mentions/", notifications.mention_list, name="mention_list"),
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/bell/", notifications.notification_bell, name="notification_bell"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path("m/<int:pk>/retry/", conversations.message_retry, name="message_retry"),
    path("m/<int:pk>/text/", conversations.message_text, name="message_text"),
    path("attachments/<int:pk>/", conversations.attachment_download, name="attachment_download"),
    path("attachments/s/<str:token>/", conversations.attachment_public, name="attachment_public"),
    path("contacts/<int:pk>/picture/", conversations.contact_picture, name="contact_picture"),
    path(
        "pages/<int:pk>/policy-notice/dismiss/", conversations.account_policy_notice_dismiss,
        name="account_policy_notice_dismiss",
    ),
]
