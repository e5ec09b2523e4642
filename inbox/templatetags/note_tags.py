"""Private notes in the thread: the text in pieces, the @mentions that named a member marked.

The template escapes every piece (``{% for part, is_mention in m|note_parts %}``); nothing here is HTML.
"""

from __future__ import annotations

import re
from typing import Any

from django import template

register = template.Library()


@register.filter
def note_parts(message: Any) -> list[tuple[str, bool]]:
    text = message.content or ""
    named = [n for n in (message.extra or {}).get("mention_text", []) if isinstance(n, str) and n]
    if not named:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(n) for n in sorted(named, key=len, reverse=True)), re.IGNORECASE)
    parts: list[tuple[str, bool]] = []
    last = 0
    for match in pattern.finditer(text):
        if match.start() > last:
            parts.append((text[last : match.start()], False))
        parts.append((match.group(0), True))
        last = match.end()
    if last < len(text):
        parts.append((text[last:], False))
    return parts
