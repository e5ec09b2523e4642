"""The Handover Protocol's apps, for people: ``{{ app_id|handover_app }}`` → "Page Inbox"."""

from __future__ import annotations

from django import template

from inbox.models import handover_app_name

register = template.Library()


@register.filter
def handover_app(app_id: object) -> str:
    return handover_app_name(str(app_id) if app_id else "")
