"""API keys: create (the secret shown once), revoke, and find the key a request's bearer token names.

The secret is 32 random bytes (URL-safe base64) after a fixed `si_` marker; only its SHA-256 is
stored, so a database leak reveals no usable key, and lookups by hash are exact and constant-time
in the sense that matters (no secret-dependent comparison in Python: the index finds the row, and
`hmac.compare_digest` confirms it).

Keys belong to the business, not to the member who created them: a key keeps working after its
creator leaves, until an owner or admin revokes it. Each key acts as its own user, one that cannot
sign in and is a member of no business, so what a key does is attributed to it (activity log, sent
replies), never to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from api.models import ApiKey

if TYPE_CHECKING:
    from accounts.models import Business

SECRET_MARKER = "si_"
PREFIX_LENGTH = 8  # of the random part, shown in lists
NAME_MAX_LENGTH = 80
# last_used_at is written at most this often per key, so a busy key does not write on every request.
LAST_USED_EVERY = timedelta(minutes=1)


class ApiKeyError(Exception):
    """A key that cannot be created or revoked as asked; the message is shown as it is."""


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, never stored


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, business: Business, user: User, name: str, scope: str) -> NewKey:
    name = " ".join(name.split())
    if not name:
        raise ApiKeyError("Give the key a name, e.g. what will use it.")
    if len(name) > NAME_MAX_LENGTH:
        raise ApiKeyError(f"A key's name is at most {NAME_MAX_LENGTH} characters.")
    if scope not in ApiKey.Scope.values:
        raise ApiKeyError("Choose read, or read and write.")
    random_part = secrets.token_urlsafe(32)
    secret = f"{SECRET_MARKER}{random_part}"
    actor = User(email=f"api-key-{uuid.uuid4().hex}@api-keys.invalid", name=f"API key: {name}"[:150], is_active=False)
    actor.set_unusable_password()
    actor.save()
    key = ApiKey.objects.create(
        business=business, name=name, prefix=random_part[:PREFIX_LENGTH], secret_hash=secret_hash(secret),
        scope=scope, actor=actor, created_by=user,
    )
    audit_record(
        action="api_key.created", business=business, actor=user, target=key,
        metadata={"name": name, "prefix": key.prefix, "scope": scope},
    )
    return NewKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, user: User) -> ApiKey:
    """Revoke at once: the next request with it is refused (keys are looked up on every request)."""
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    if updated:
        audit_record(
            action="api_key.revoked", business=key.business, actor=user, target=key,
            metadata={"name": key.name, "prefix": key.prefix},
        )
    return key


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The usable key this secret names, or None (unknown, malformed or revoked)."""
    if not secret.startswith(SECRET_MARKER) or len(secret) > 200:
        return None
    digest = secret_hash(secret)
    key = ApiKey.objects.usable().select_related("business", "actor").filter(secret_hash=digest).first()
    if key is None or not hmac.compare_digest(key.secret_hash, digest):
        return None
    return key


def api_key_touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def api_key_list(*, business: Business) -> list[ApiKey]:
    return list(ApiKey.objects.for_business(business).select_related("created_by", "revoked_by"))
