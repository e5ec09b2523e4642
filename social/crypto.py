"""Field encryption with MultiFernet: the first key of FIELD_ENCRYPTION_KEYS encrypts, every key decrypts.

To rotate: put a new key first, run `manage.py rotate_encryption_keys`, then drop the old key.

cryptography is imported on first use, not with the models: its Rust extension alone keeps ~8 MiB
resident, and a process that never reads a token (an ASGI worker serving webhooks and sockets)
never pays it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ("EncryptedTextField", "InvalidToken", "decrypt", "encrypt", "reset_keys", "rotate")


class InvalidToken(Exception):
    """A ciphertext no listed key decrypts (another installation's, altered, or its key was dropped)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: tokens cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None


def _current() -> MultiFernet:
    # Settings are read on each call (cached per key set), so tests can swap keys with override_settings.
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def reset_keys() -> None:
    _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    return _with_known_key(lambda keys: keys.decrypt(ciphertext.encode())).decode()


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (a no-op in meaning, a new ciphertext in the column)."""
    return _with_known_key(lambda keys: keys.rotate(ciphertext.encode())).decode()


def _with_known_key(operation: Callable[[MultiFernet], bytes]) -> bytes:
    """``operation`` with the current keys; a ciphertext none of them made raises our ``InvalidToken``."""
    from cryptography import fernet

    try:
        return operation(_current())
    except fernet.InvalidToken:
        raise InvalidToken from None


class EncryptedTextField(models.TextField):
    """A text column that only ever holds Fernet ciphertext; Python sees the plaintext.

    Empty strings stay empty so "no token" needs no key. Never shown in forms or the admin.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
