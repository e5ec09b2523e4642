from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from inbox.models import Attachment, ChatMessage, Contact, Conversation, PendingMessageUpdate, WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("id", "received_at", "state", "object_type", "attempts", "short_error", "processed_at")
    list_filter = ("state", "object_type")
    # "Test event from Meta" in the state filter: the App Dashboard's Test button, never a failure.
    search_fields = ("id", "last_error")
    date_hierarchy = "received_at"
    actions = ("replay_selected",)
    exclude = ("body",)
    readonly_fields = (
        "received_at", "state", "attempts", "last_error", "processed_at", "object_type", "signature",
        "account_ids", "unroutable_account_ids", "raw_body",
    )

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="error")
    def short_error(self, obj: WebhookEvent) -> str:
        return (obj.last_error or "")[:80]

    @admin.display(description="body (exact bytes received)")
    def raw_body(self, obj: WebhookEvent) -> str:
        return format_html("<pre style='white-space:pre-wrap;max-width:80em'>{}</pre>", obj.body_text)

    @admin.action(description="Replay selected events (idempotent)")
    def replay_selected(self, request, queryset) -> None:
        from inbox.ingest.replay import webhook_events_replay

        count = webhook_events_replay(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for replay.", messages.SUCCESS)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("display_name", "external_id", "platform", "account", "business", "profile_state")
    list_filter = ("platform", "profile_state", "business")
    search_fields = ("name", "username", "external_id")
    list_select_related = ("account", "business")
    raw_id_fields = ("account",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "contact", "account", "business", "status", "priority", "unread_count", "last_message_at")
    list_filter = ("status", "priority", "platform", "business")
    search_fields = ("contact__name", "contact__external_id", "last_message_preview")
    list_select_related = ("contact", "account", "business")
    raw_id_fields = ("account", "contact")


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ("position", "type", "state", "file", "mime_type", "size", "attempts", "error")
    readonly_fields = fields


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "timestamp", "direction", "kind", "status", "account", "business", "short_content")
    list_filter = ("direction", "status", "kind", "source", "platform", "business")
    search_fields = ("message_id", "content", "sender_id")
    list_select_related = ("account", "business")
    raw_id_fields = ("conversation", "account", "reply_to", "read_by", "sent_by")
    date_hierarchy = "timestamp"
    inlines = (AttachmentInline,)

    @admin.display(description="content")
    def short_content(self, obj: ChatMessage) -> str:
        return obj.content[:80]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "state", "business", "attempts", "created_at")
    list_filter = ("type", "state", "business")
    raw_id_fields = ("message",)


@admin.register(PendingMessageUpdate)
class PendingMessageUpdateAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "target_mid", "account", "business", "created_at")
    list_filter = ("kind", "business")
    search_fields = ("target_mid",)
    raw_id_fields = ("account",)
