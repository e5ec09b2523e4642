"""Template helpers of assignment: the assignee's small initials avatar, the viewer's own count."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.avatars import staff_colour, staff_initials

register = template.Library()


@register.simple_tag
def assignee_avatar(user: Any, size: str = "") -> SafeString:
    """The assignee's initials in a small circle, with their name for assistive technology and on hover."""
    if user is None:
        return mark_safe("")
    # The same colour and initials as the member's avatar everywhere else (staff_tags).
    classes = f"avatar assignee-avatar avatar-c{staff_colour(user.pk)}" + (f" avatar-{size}" if size else "")
    name = user.display_name
    return format_html(
        '<span class="{}" title="Assigned to {}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">Assigned to {}</span></span>',
        classes,
        name,
        staff_initials(name),
        name,
    )


@register.filter
def assigned_to(counters: Any, user_id: Any) -> int:
    """The open conversations assigned to this member (`InboxCounters.assigned_to`)."""
    try:
        return counters.assigned_to(int(user_id))
    except (AttributeError, TypeError, ValueError):
        return 0


@register.simple_tag(takes_context=True)
def mine_count(context: Any, counters: Any) -> int:
    """The viewer's own open assigned conversations; 0 in a push (no viewer: the page script fills it in)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return assigned_to(counters, getattr(user, "pk", None))
