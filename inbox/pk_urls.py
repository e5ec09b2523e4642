"""`reverse()` for the URLs rendered once per row or message: one reverse per URL name and prefix.

A list page writes 50 row links and a thread page up to 50 messages' download and retry links;
`reverse()` costs ~20 µs each. The URL is reversed once with a pk no row has, then that pk is
replaced by each row's (the URL pattern is the same for every pk; the script prefix is part of the key).
"""

from __future__ import annotations

from functools import lru_cache

from django.urls import get_script_prefix, reverse

_PK_MARK = 918_273_645_546_372_819


@lru_cache(maxsize=64)
def _pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[_PK_MARK])


def pk_url(name: str, pk: int) -> str:
    """`reverse(name, args=[pk])` for a URL whose only argument is an integer pk."""
    return _pattern(name, get_script_prefix()).replace(str(_PK_MARK), str(int(pk)))
