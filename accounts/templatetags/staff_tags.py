"""Staff identity in templates: `{% staff_avatar user "xs" %}` and `{{ user|member_name }}`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from accounts.avatars import staff_colour, staff_initials
from accounts.selectors import member_display_name

register = template.Library()

ACTIVE_NOW = timedelta(minutes=2)


@register.filter
def member_name(user: Any) -> str:
    return member_display_name(user)


@register.simple_tag
def staff_avatar(user: Any, size: str = "xs", label: bool = False) -> SafeString:
    """A member's initials on their colour (derived from their id); decorative unless `label`."""
    name = member_display_name(user)
    classes = f"avatar staff-avatar avatar-c{staff_colour(getattr(user, 'pk', None))} avatar-{size}"
    if label:
        return format_html(
            '<span class="{}" role="img" aria-label="{}" title="{}">{}</span>',
            classes,
            name,
            name,
            staff_initials(name),
        )
    return format_html('<span class="{}" aria-hidden="true">{}</span>', classes, staff_initials(name))


@register.filter
def last_active(when: Any) -> str:
    """ "Active now" within a couple of minutes (it is recorded at most once a minute), else "3 hours ago"."""
    if not when:
        return ""
    if timezone.now() - when < ACTIVE_NOW:
        return "Active now"
    return f"{timesince(when, depth=1)} ago"
