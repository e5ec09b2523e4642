"""Read-only admin of outbound webhooks, for support: never the secret (an EncryptedTextField is not
editable, and it is excluded here by name too), and no payloads in lists."""

from __future__ import annotations

from django.contrib import admin

from outbound.models import WebhookDelivery, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "business", "is_active", "failing_since", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "business__name")
    exclude = ("secret",)
    list_select_related = ("business",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "endpoint", "state", "attempts", "response_status", "created_at")
    list_filter = ("state", "event")
    list_select_related = ("endpoint",)
    exclude = ("payload",)
    raw_id_fields = ("endpoint", "business", "replay_of")
