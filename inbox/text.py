"""Make customer text safe for the database without losing the rest of it.

PostgreSQL refuses a NUL character in text and jsonb (``\\u0000 cannot be converted to text``) and
psycopg cannot encode a lone UTF-16 surrogate (JSON like ``"\\ud83d"`` without its pair decodes to
one). Either would make the INSERT fail and the whole message be lost, so every text field that
goes to the database passes through ``clean_text`` (or ``clean_json`` for JSON values). Both are
replaced by U+FFFD, the Unicode replacement character, so the reader sees where something was.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

# NUL and every surrogate code point: json.loads already joins valid surrogate pairs, so any
# surrogate left in a str is a lone one that UTF-8 cannot encode.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: object, *, max_length: int | None = None) -> str:
    """``value`` as a str PostgreSQL and SQLite both accept; None becomes "".

    ``max_length`` cuts to a CharField's size (a too-long value is a DataError on PostgreSQL).
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _UNSAFE.search(text) is not None:
        text = _UNSAFE.sub(REPLACEMENT, text)
    if max_length is not None and len(text) > max_length:
        text = text[: max_length - 1] + "\u2026"
    return text


def clean_json(value: Any) -> Any:
    """A copy of a JSON-able value with every string (keys included) passed through ``clean_text``."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


def truncate(value: str, max_length: int) -> str:
    """Cut already clean text to ``max_length`` characters with an ellipsis (previews, names)."""
    return value if len(value) <= max_length else value[: max_length - 1] + "\u2026"


__all__ = ["REPLACEMENT", "clean_json", "clean_text", "truncate"]
