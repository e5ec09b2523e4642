"""Make customer text safe for the database without losing the rest of it.

PostgreSQL refuses a NUL character in text and jsonb (``\\u0000 cannot be converted to text``) and
psycopg cannot encode a lone UTF-16 surrogate (JSON like ``"\\ud83d"`` without its pair decodes to
one). Either would make the INSERT fail and the whole message be lost, so every text field that
goes to the database passes through ``clean_text`` (or ``clean_json`` for JSON values). Both are
replaced by U+FFFD, the Unicode replacement character, so the reader sees where something was.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
# Meta's payloads nest a handful of levels; anything past this is junk, kept only as this marker.
MAX_JSON_DEPTH = 64
TOO_DEEP = "[nested too deeply to keep]"

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


def clean_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A copy of a JSON-able value with every string (keys included) passed through ``clean_text``.

    Iterative, and an object or array nested deeper than ``max_depth`` is replaced by
    ``TOO_DEEP``: a recursive copy raised RecursionError on a deep enough payload (and so did
    the JSON encoder when saving it), which lost the whole message for a part nobody reads.
    """
    root: list[Any] = [None]
    # (source value, the container to put its copy in, the slot there, its depth)
    work: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    while work:
        item, parent, slot, depth = work.pop()
        if isinstance(item, str):
            parent[slot] = clean_text(item)
        elif isinstance(item, dict | list | tuple) and depth >= max_depth:
            parent[slot] = TOO_DEEP
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            pairs = [(clean_text(key), child) for key, child in item.items()]
            for key, _child in pairs:
                copy[key] = None  # keeps the keys' order
            work.extend((child, copy, key, depth + 1) for key, child in reversed(pairs))
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            work.extend((child, items, index, depth + 1) for index, child in reversed(list(enumerate(item))))
        else:
            parent[slot] = item
    return root[0]


def json_loads_bounded(text: str, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads``, except that a document too deep for it (RecursionError past ~1,000 levels)
    is read with every object or array deeper than ``max_depth`` replaced by ``TOO_DEEP``.

    Used on bodies Meta signed, so one absurd attachment payload costs only itself, not the
    message around it. A document that is not JSON still raises ``ValueError``.
    """
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        pass
    return json.loads(_cut_deeper_than(text, max_depth), **kwargs)


# A JSON string (escapes included) or one bracket: what the depth scan needs to see.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_CLOSING = {"[": "]", "{": "}"}


def _cut_deeper_than(text: str, max_depth: int) -> str:
    """``text`` with each value nested deeper than ``max_depth`` replaced by the TOO_DEEP string.

    One pass, no recursion. Brackets must balance and match (else ValueError); what lies inside
    a cut value is not otherwise checked, since it is dropped.
    """
    parts: list[str] = []
    kept_until = 0
    open_brackets: list[str] = []
    cut_from: int | None = None
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in _CLOSING:
            open_brackets.append(token)
            if cut_from is None and len(open_brackets) > max_depth:
                cut_from = match.start()
        elif token in ("]", "}"):
            if not open_brackets or _CLOSING[open_brackets.pop()] != token:
                raise ValueError(f"Unbalanced JSON bracket at offset {match.start()}")
            if cut_from is not None and len(open_brackets) == max_depth:
                parts.append(text[kept_until:cut_from])
                parts.append(json.dumps(TOO_DEEP))
                kept_until, cut_from = match.end(), None
    if open_brackets:
        raise ValueError("Unclosed JSON bracket")
    parts.append(text[kept_until:])
    return "".join(parts)


def truncate(value: str, max_length: int) -> str:
    """Cut already clean text to ``max_length`` characters with an ellipsis (previews, names)."""
    return value if len(value) <= max_length else value[: max_length - 1] + "\u2026"


__all__ = ["MAX_JSON_DEPTH", "REPLACEMENT", "TOO_DEEP", "clean_json", "clean_text", "json_loads_bounded", "truncate"]
