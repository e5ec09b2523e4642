from __future__ import annotations

from django.contrib import admin

from social.models import SocialAccount


@admin.register(SocialAccount)
class SocialAccountAdmin(admin.ModelAdmin):
    """Tokens are never shown nor editable here: only whether one is stored and when it expires."""

    list_display = (
        "account_name", "account_id", "platform", "business", "status", "followers_count",
        "has_page_token", "expires_at", "connected_at", "last_webhook_at",
    )
    list_filter = ("platform", "status", "policy_action", "business")
    search_fields = ("account_name", "account_id", "username", "business__name")
    list_select_related = ("business",)
    exclude = ("access_token", "refresh_token")
    readonly_fields = (
        "has_page_token", "has_user_token", "connected_at", "disconnected_at", "subscribed_at",
        "token_checked_at", "last_webhook_at", "created_at", "updated_at",
        # Meta's policy enforcement, as Meta sent it (staff dismiss the banner in the inbox).
        "policy_action", "policy_reason", "policy_at", "policy_dismissed_at",
    )
    raw_id_fields = ("page", "connected_by")

    @admin.display(boolean=True, description="page token")
    def has_page_token(self, obj: SocialAccount) -> bool:
        return bool(obj.access_token)

    @admin.display(boolean=True, description="user token")
    def has_user_token(self, obj: SocialAccount) -> bool:
        return bool(obj.refresh_token)
