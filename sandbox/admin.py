from __future__ import annotations

from django.contrib import admin

from sandbox.models import Config, Customer, FacebookUser, Fault, Page, PageRole, SentMessage, Subscription


class PageRoleInline(admin.TabularInline):
    model = PageRole
    extra = 0


@admin.register(FacebookUser)
class FacebookUserAdmin(admin.ModelAdmin):
    list_display = ("name", "fb_id", "email")
    search_fields = ("name", "fb_id", "email")
    inlines = (PageRoleInline,)


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ("name", "page_id", "category", "ig_username", "followers_count")
    search_fields = ("name", "page_id", "ig_id", "ig_username")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("psid", "first_name", "last_name", "username", "platform", "page", "last_message_at", "blocked")
    list_filter = ("platform", "page")
    search_fields = ("psid", "first_name", "last_name", "username")


@admin.register(SentMessage)
class SentMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "page", "recipient_id", "message_id", "created_at")
    list_filter = ("page",)


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ("path", "method", "remaining", "http_status", "code", "subcode", "delay")


admin.site.register(Subscription)
admin.site.register(Config)
