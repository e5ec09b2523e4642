"""System checks: the app refuses to start with unusable encryption keys."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_field_encryption_keys(app_configs, **kwargs) -> list[Error]:
    from cryptography.fernet import Fernet  # on use: see social/crypto.py

    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", [])
    if not keys:
        return [Error("FIELD_ENCRYPTION_KEYS is empty: tokens cannot be stored.", id="social.E001")]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.strip().encode())
        except ValueError:
            errors.append(Error(f"FIELD_ENCRYPTION_KEYS key #{position} is not a valid Fernet key.", id="social.E002"))
    return errors
