"""Which entry of the top navigation a page belongs to, so the bar can mark it (`nav_section` in templates).

By the URL's name rather than its app: channel health lives in `inbox` but is part of Pages, the
labels and saved-replies settings live in `inbox` but are part of Settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

SECTIONS: dict[str, str] = {
    "dashboard": "dashboard",
    "reports": "reports",
    "channel_health": "pages",
    "team": "team",
    "business_settings": "settings",
    "assignment_settings": "settings",
    "activity_log": "settings",
    "label_list": "settings",
    "saved_reply_list": "settings",
    "api_key_list": "settings",
    "notification_list": "",
    "mention_list": "inbox",
    "profile": "",
}
APPS: dict[str, str] = {"inbox": "inbox", "social": "pages", "outbound": "settings"}


def nav_section(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {"nav_section": ""}
    section = SECTIONS.get(match.url_name or "")
    if section is None:
        section = APPS.get(match.app_name or "", "")
    return {"nav_section": section}
