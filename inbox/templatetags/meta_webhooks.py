"""What the Pages screen shows about Meta's webhook deliveries to this installation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from inbox.selectors import last_test_event_at

if TYPE_CHECKING:
    from datetime import datetime

register = template.Library()


@register.simple_tag
def last_meta_test_event() -> datetime | None:
    """When the App Dashboard's Test button last reached the callback URL (None: never)."""
    return last_test_event_at()
