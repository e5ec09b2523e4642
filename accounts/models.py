from __future__ import annotations

import hashlib
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from accounts.managers import UserManager
from accounts.tenancy import BusinessQuerySet


class User(AbstractUser):
    """A person who signs in: business staff, or an operator of the installation (is_staff)."""

    # Email is the login; no username or split name (django-stubs types these as str on the base).
    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    # How the inbox shows times to this person: an IANA zone ("Europe/Rome") and a 12- or 24-hour
    # clock; blank means whatever their browser says (the zone it runs in, the clock of its locale).
    time_zone = models.CharField(max_length=64, blank=True)
    clock = models.CharField(
        max_length=2, blank=True, choices=[("", "As my browser shows it"), ("12", "12-hour"), ("24", "24-hour")]
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # One person, one address: emails are compared case-insensitively everywhere.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


class Business(models.Model):
    """The tenant: everything a business's staff see belongs to exactly one Business."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="businesses")
    # Meta's Instagram messaging rules: keep the CDN link, not the media. Off by default; story
    # mentions are never stored whatever this says, and the operator's INBOX_STORE_MEDIA can forbid it.
    instagram_media_store = models.BooleanField(
        default=False,
        verbose_name="Store Instagram media",
        help_text="Copy Instagram photos, videos and files into our storage instead of keeping Meta's link only.",
    )
    # Assignment: the first member to reply to an unassigned conversation takes it; pages with
    # auto-assign share new conversations among the agents, each holding at most `assign_capacity`
    # open ones (0: no limit).
    auto_assign_on_reply = models.BooleanField(
        default=False, verbose_name="Assign on first reply",
        help_text="The first member who replies to an unassigned conversation becomes its assignee.",
    )
    assign_capacity = models.PositiveIntegerField(
        default=0, verbose_name="Open conversations per agent",
        help_text="Automatic assignment skips agents holding this many open conversations (0: no limit).",
    )
    # How long the activity log keeps its rows (accounts.activity): staff and system actions, and the
    # one-row-per-call record of Graph API calls, which is large and of short interest.
    activity_retention_days = models.PositiveIntegerField(
        default=730, validators=[MinValueValidator(30), MaxValueValidator(3650)],
        verbose_name="Keep staff actions for (days)",
    )
    graph_call_retention_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(7), MaxValueValidator(365)],
        verbose_name="Keep Graph API calls for (days)",
    )
    # What is kept of customers' data (inbox.services.retention, daily): the raw webhook bodies Meta
    # sent once they were processed, and the media files copied into storage. 0 keeps them forever.
    webhook_body_retention_days = models.PositiveIntegerField(
        default=30, validators=[MaxValueValidator(3650)],
        verbose_name="Keep raw webhook bodies for (days)",
        help_text="Processed webhook bodies older than this are deleted (0: keep forever).",
    )
    media_retention_days = models.PositiveIntegerField(
        default=365, validators=[MaxValueValidator(3650)],
        verbose_name="Keep media files for (days)",
        help_text="Stored photos, videos and files older than this are deleted (0: keep forever).",
    )

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:60] or "business"
        super().save(*args, **kwargs)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the member last used this business's pages; written at most once a minute per member.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # What the open inbox tells this member in this business (browser notifications, a sound).
    notify_new_conversations = models.BooleanField(default=True)
    notify_assigned_messages = models.BooleanField(default=True)
    notify_mentions = models.BooleanField(default=True)
    notify_sound = models.BooleanField(default=False)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("business", "user")
        constraints = [models.UniqueConstraint(fields=("user", "business"), name="uniq_membership_user_business")]

    def __str__(self) -> str:
        return f"{self.user} · {self.business} ({self.role})"

    @property
    def can_manage(self) -> bool:
        """Owners and admins manage staff and connected accounts; agents answer messages."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Team(models.Model):
    """A named group of a business's members (Support, Sales…) that conversations can be given to.

    Its members are memberships, so someone removed from the business leaves its teams with them.
    """

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    members = models.ManyToManyField(Membership, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        ordering = ("name", "id")
        constraints = [models.UniqueConstraint(fields=("business", "name"), name="uniq_team_business_name")]

    def __str__(self) -> str:
        return self.name


class InvitationQuerySet(BusinessQuerySet):
    def open(self):
        """Neither accepted nor revoked (possibly expired: an expired invitation can still be resent)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """An offer of a role in a business, sent to an email address; access starts only when accepted.

    Only a SHA-256 of the link's token is stored: the database alone cannot be used to accept it.
    Resending replaces the token (the old link stops working) and the expiry.
    """

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ("-sent_at", "-id")
        constraints = [
            # One open invitation per address and business: inviting again resends it.
            models.UniqueConstraint(
                fields=("business", "email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="uniq_open_invitation_business_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.business} ({self.role}, {self.state})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "pending"

    @property
    def is_usable(self) -> bool:
        return self.state == "pending"


class AuditEventQuerySet(BusinessQuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only.")

    def delete(self):
        raise TypeError("Audit events are append-only: they leave only when retention expires them.")

    def expire(self) -> int:
        """Delete these rows because their business keeps them no longer (`accounts.activity`): the only
        deletion of audit rows there is."""
        deleted, _ = super().delete()
        return deleted


class AuditEvent(models.Model):
    """Append-only record of who did what: staff actions, system actions and every Graph API call."""

    business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("business", "-created_at"), name="audit_business_time")]

    def __str__(self) -> str:
        who = self.actor or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only.")
