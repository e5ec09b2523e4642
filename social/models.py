from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from accounts.tenancy import BusinessQuerySet
from social.crypto import EncryptedTextField


class Platform(models.TextChoices):
    FACEBOOK = "FACEBOOK", "Facebook"
    INSTAGRAM = "INSTAGRAM", "Instagram"


# Meta's policy enforcement actions that leave something for staff to see (an "unblock" clears them).
POLICY_WARNING = "warning"
POLICY_BLOCK = "block"

# The encrypted fields: pages that only show an account leave them unloaded (and undecrypted).
TOKEN_FIELDS = ("access_token", "refresh_token")


class SocialAccountQuerySet(BusinessQuerySet):
    def connected(self):
        return self.exclude(status=SocialAccount.Status.DISCONNECTED)

    def without_tokens(self):
        """For display: the tokens are not loaded (so never decrypted); reading one costs a query."""
        return self.defer(*TOKEN_FIELDS)


class SocialAccount(models.Model):
    """A connected Facebook Page or Instagram professional account.

    `account_id` is the Page / IG id Meta puts in `entry[].id`; one page has exactly one owning
    business across the installation. Tokens are encrypted at rest and never leave `social/graph.py`.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnecting"
        DISCONNECTED = "disconnected", "Disconnected"

    business = models.ForeignKey("accounts.Business", on_delete=models.PROTECT, related_name="social_accounts")
    # The id the REST API and outbound webhooks use: integer keys never leave the app.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.FACEBOOK)
    account_id = models.CharField(max_length=64)
    account_name = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    # The page token (Instagram accounts use their parent page's token: see `send_token()`).
    access_token = EncryptedTextField()
    # The long-lived user token the page token came from, kept to list and refresh pages.
    refresh_token = EncryptedTextField()
    expires_at = models.DateTimeField(null=True, blank=True)
    user_token_expires_at = models.DateTimeField(null=True, blank=True)
    # Profile and page metadata from the Graph API; never a token.
    settings = models.JSONField(default=dict, blank=True)
    category = models.CharField(max_length=255, blank=True)
    category_list = models.JSONField(default=list, blank=True)
    tasks = models.JSONField(default=list, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    followers_count = models.PositiveIntegerField(null=True, blank=True)
    fan_count = models.PositiveIntegerField(null=True, blank=True)
    picture_url = models.URLField(max_length=1000, blank=True)
    page = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="instagram_accounts",
        help_text="An Instagram account's parent Page, whose id and token the Send API uses.",
    )
    is_active = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    human_agent_enabled = models.BooleanField(
        default=False, help_text="The Meta app is approved for the HUMAN_AGENT tag (replies up to 7 days)."
    )
    auto_assign = models.BooleanField(
        default=False, help_text="New conversations of this page are shared in turn among the business's agents."
    )
    connected_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    token_checked_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    # Meta's latest policy enforcement on this Page (messaging_policy_enforcement): "warning" or
    # "block", with Meta's reason and time; cleared when Meta lifts it ("unblock"). Staff may dismiss
    # the banner: ``policy_dismissed_at`` is then Meta's time of the enforcement they dismissed, so a
    # redelivery of it stays dismissed and a newer one shows again.
    policy_action = models.CharField(max_length=10, blank=True)
    policy_reason = models.TextField(blank=True)
    policy_at = models.DateTimeField(null=True, blank=True)
    policy_dismissed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SocialAccountQuerySet.as_manager()

    class Meta:
        db_table = "social_accounts"
        ordering = ("account_name", "id")
        constraints = [
            models.UniqueConstraint(fields=("platform", "account_id"), name="uniq_social_account_platform_id"),
            models.CheckConstraint(
                condition=Q(status__in=["active", "needs_reconnect", "disconnected"]),
                name="social_account_status_valid",
            ),
        ]
        indexes = [models.Index(fields=("business", "status"), name="social_account_business_status")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} · {self.account_name or self.account_id}"

    @property
    def needs_reconnect(self) -> bool:
        return self.status == self.Status.NEEDS_RECONNECT

    @property
    def policy_notice(self) -> str:
        """ "block" or "warning" while Meta's enforcement stands and staff have not dismissed it, else ""."""
        if self.policy_action not in (POLICY_BLOCK, POLICY_WARNING):
            return ""
        dismissed = self.policy_dismissed_at
        if dismissed is not None and self.policy_at is not None and dismissed >= self.policy_at:
            return ""
        return self.policy_action

    @property
    def send_account(self) -> SocialAccount:
        """The account whose id and token the Send API uses: the parent page for Instagram."""
        if self.platform == Platform.INSTAGRAM and self.page is not None:
            return self.page
        return self


class MessengerProfile(models.Model):
    """What we last pushed to a Page's Messenger profile (greeting, ice breakers, persistent menu),
    in Meta's own shapes, with when and, if the push failed, Meta's error (social/messenger_profile.py)."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="messenger_profiles")
    account = models.OneToOneField(SocialAccount, on_delete=models.CASCADE, related_name="messenger_profile")
    greeting = models.CharField(max_length=160, blank=True)
    # [{"question", "payload"}] and [{"type": "postback"|"web_url", "title", "payload"|"url"}].
    ice_breakers = models.JSONField(default=list, blank=True)
    menu = models.JSONField(default=list, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    pushed_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # Meta's answer to the last read-back (GET messenger_profile), as received.
    meta_profile = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        db_table = "social_messenger_profiles"

    def __str__(self) -> str:
        return f"Messenger profile of {self.account}"
