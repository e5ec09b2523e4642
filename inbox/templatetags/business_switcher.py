"""The top bar's business switcher: the member's businesses, each with its unread conversations."""

from __future__ import annotations

from typing import Any

from django import template

from inbox.selectors import UNREAD_COUNT_CAP, business_unread_list

register = template.Library()


@register.inclusion_tag("inbox/_business_switcher.html", takes_context=True)
def business_switcher(context: template.Context) -> dict[str, Any]:
    """One query for all the member's businesses (inbox.selectors.business_unread_list); the
    unread of the others is summed on the button, so a message elsewhere is seen from any page."""
    request = context["request"]
    current = context.get("current_business")
    businesses = business_unread_list(user_id=request.user.pk)
    elsewhere = sum(b.unread_conversations for b in businesses if current is None or b.business_id != current.pk)
    return {
        "businesses": businesses,
        "current_business": current,
        "elsewhere": elsewhere,
        "elsewhere_capped": elsewhere >= UNREAD_COUNT_CAP,
        "csrf_token": context.get("csrf_token"),
    }
