"""API keys: how a program outside the browser acts for a business through the REST API (`api/`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.tenancy import BusinessQuerySet


class ApiKeyQuerySet(BusinessQuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A key of one business (not of the member who made it: it outlives their membership).

    Only the SHA-256 of the secret is kept; the secret is shown once, when the key is created. Each
    key acts through its own sign-in-less user (`actor`), so what it does is attributed to the key in
    the activity log and on sent replies, never to a member.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    # The first characters of the secret, shown in lists so a key can be recognised.
    prefix = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    actor = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_key",
        help_text="The user the key acts as: cannot sign in, belongs to no business.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("business", "-created_at"), name="api_key_business_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scopes(self) -> list[str]:
        return ["read", "write"] if self.scope == self.Scope.WRITE else ["read"]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotentRequest(models.Model):
    """The first answer to a write sent with an `Idempotency-Key`: a repeat of the key gets it back and
    does nothing again. The row is inserted in the write's own transaction, so a repeat arriving while
    the first is still running waits for it (the unique index) and then reads its answer."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # What was asked (method, path, body), so the same key reused for another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("api_key", "key"), name="uniq_idempotency_key_per_api_key")]

    def __str__(self) -> str:
        return f"{self.key} → {self.status_code}"
