from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def task_label(task: str) -> str:
    """Meta's Page task names (CREATE_CONTENT) as people read them (Create content)."""
    return str(task).replace("_", " ").capitalize()
