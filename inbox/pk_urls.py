"""`reverse()` for the URLs rendered once per row or message: one reverse per URL name and prefix.

A list page writes 50 row links and a thread page up to 50 messages' download and retry links;
`reverse()` costs ~20 µs each. The URL is reversed once with an id no object has, then that id is
replaced by each object's (the URL pattern is the same for every id; the script prefix is part of the key).
Conversations, messages and pages are named by their public UUID (`public_url`), other objects by
their key (`pk_url`).
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from django.urls import get_script_prefix, reverse

_PK_MARK = 918_273_645_546_372_819
_UUID_MARK = uuid.UUID("0badc0de-5eed-4a11-8f00-d15ea5e0f00d")


@lru_cache(maxsize=64)
def _pattern(name: str, script_prefix: str, mark: int | uuid.UUID) -> str:
    return reverse(name, args=[mark])


def pk_url(name: str, pk: int) -> str:
    """`reverse(name, args=[pk])` for a URL whose only argument is an integer pk."""
    return _pattern(name, get_script_prefix(), _PK_MARK).replace(str(_PK_MARK), str(int(pk)))


def public_url(name: str, public_id: uuid.UUID) -> str:
    """`reverse(name, args=[public_id])` for a URL whose only argument is an object's public UUID."""
    if not isinstance(public_id, uuid.UUID):
        raise TypeError(f"{name} takes a public UUID, not {public_id!r}")
    return _pattern(name, get_script_prefix(), _UUID_MARK).replace(str(_UUID_MARK), str(public_id))
