"""Outbound webhooks: a business's endpoints, and every event delivered (or still to be) to them.

A delivery is one event for one endpoint; each try is appended to its ``attempts_log`` (a JSON list,
one entry per try), so the delivery log shows every try of an event without a row per try.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.tenancy import BusinessQuerySet
from social.crypto import EncryptedTextField

# Every event a business may subscribe to; the receivers (outbound/receivers.py) emit these.
EVENTS = (
    ("message.created", "A message was received or sent"),
    ("message.status_changed", "A sent message was delivered, read or failed"),
    ("conversation.created", "A new customer started a conversation"),
    ("conversation.assigned", "A conversation was assigned to a member"),
    ("conversation.resolved", "A conversation was resolved"),
    ("account.needs_reconnect", "A connected Page or Instagram account must be reconnected"),
)
EVENT_NAMES = tuple(name for name, _ in EVENTS)


class WebhookEndpoint(models.Model):
    """A URL of the business's own system that is told about the events it subscribed to."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    # Signs every delivery (HMAC-SHA256); shown once on creation and rotation, encrypted at rest.
    secret = EncryptedTextField()
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Set by the first failed delivery after a success; cleared by a success or re-enabling.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["business", "is_active"], name="outbound_endpoint_active")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: its payload as it was when the event happened, and its tries."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed, will retry"
        GIVEN_UP = "given_up", "Given up"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the same for every endpoint told about it, and for a replay (receivers dedupe on it).
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    attempts_log = models.JSONField(default=list)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="outbound_delivery_log"),
            models.Index(fields=["state", "next_attempt_at"], name="outbound_delivery_due"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"
