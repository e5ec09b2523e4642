"""The sandbox's Meta side: Facebook users, their Pages, tokens, customers and what the app sent.

Development and tests only (the app is not installed in production). The state lives in the
database so the web server, a Celery worker and the test process all see the same fake Meta.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone


def new_token(prefix: str = "EAAS") -> str:
    # Shaped like Meta's tokens (they start with EAA), so the log redaction is exercised too.
    return prefix + secrets.token_urlsafe(48).replace("-", "x").replace("_", "y")


class FacebookUser(models.Model):
    """A person with a Facebook account who can sign in through the sandbox's Login dialog."""

    fb_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Page(models.Model):
    page_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    username = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=100, blank=True)
    category_list = models.JSONField(default=list, blank=True)
    fan_count = models.PositiveIntegerField(default=0)
    followers_count = models.PositiveIntegerField(default=0)
    # The linked Instagram professional account, if any.
    ig_id = models.CharField(max_length=32, blank=True)
    ig_username = models.CharField(max_length=100, blank=True)
    ig_name = models.CharField(max_length=200, blank=True)
    ig_followers_count = models.PositiveIntegerField(default=0)
    users = models.ManyToManyField(FacebookUser, through="PageRole", related_name="pages")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class PageRole(models.Model):
    """A person's role on a Page, as Meta's `tasks` (MESSAGING, MANAGE, …)."""

    user = models.ForeignKey(FacebookUser, on_delete=models.CASCADE, related_name="roles")
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="roles")
    tasks = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user", "page"), name="sandbox_uniq_page_role")]

    def __str__(self) -> str:
        return f"{self.user} on {self.page}"


class Customer(models.Model):
    """Someone who messages a Page (PSID) or its Instagram account (IGSID)."""

    class Platform(models.TextChoices):
        FACEBOOK = "FACEBOOK", "Facebook"
        INSTAGRAM = "INSTAGRAM", "Instagram"

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="customers")
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.FACEBOOK)
    psid = models.CharField(max_length=32, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    username = models.CharField(max_length=100, blank=True)
    # When the customer last wrote: opens the 24-hour window (HUMAN_AGENT: 7 days).
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Set when the person blocked the Page: the Send API answers 551.
    blocked = models.BooleanField(default=False)

    class Meta:
        ordering = ("page", "first_name")

    def __str__(self) -> str:
        return self.name or self.psid

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.username


class AuthCode(models.Model):
    """A code the Login dialog handed to redirect_uri; exchanged once for a user token."""

    code = models.CharField(max_length=80, unique=True)
    user = models.ForeignKey(FacebookUser, on_delete=models.CASCADE)
    redirect_uri = models.URLField(max_length=1000)
    scopes = models.JSONField(default=list)
    page_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Login code for {self.user}"


class Token(models.Model):
    class Kind(models.TextChoices):
        USER = "USER", "User"
        PAGE = "PAGE", "Page"

    token = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    user = models.ForeignKey(FacebookUser, on_delete=models.CASCADE, related_name="tokens")
    page = models.ForeignKey(Page, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    scopes = models.JSONField(default=list)
    # The Pages the person selected in the dialog (debug_token's granular_scopes target_ids).
    page_ids = models.JSONField(default=list)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never (a Page token from a long-lived user token)
    long_lived = models.BooleanField(default=False)
    # Set through the control API: the token answers code 190 with this subcode.
    invalid_subcode = models.PositiveIntegerField(null=True, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    class Meta:
        indexes = [models.Index(fields=("page", "kind"), name="sandbox_token_page_kind")]

    def __str__(self) -> str:  # never the token itself
        return f"{self.get_kind_display()} token of {self.user}" + (f" for {self.page}" if self.page_id else "")


class Subscription(models.Model):
    """The app installed on a Page (`subscribed_apps`) with its fields."""

    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="subscription")
    fields = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Subscription of {self.page}"


class SentMessage(models.Model):
    """A Send API call the sandbox accepted (messages and sender actions), for tests to inspect."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="sent")
    recipient_id = models.CharField(max_length=32)
    message_id = models.CharField(max_length=100, blank=True)
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"Sent to {self.recipient_id} by {self.page}"


class Fault(models.Model):
    """Make the next `remaining` Graph calls matching method+path fail (or stall) as told."""

    method = models.CharField(max_length=8, blank=True, help_text="Blank: any method.")
    path = models.CharField(max_length=300, help_text="Graph path without version, e.g. /104857600123456/messages.")
    remaining = models.PositiveIntegerField(default=1)
    http_status = models.PositiveIntegerField(default=500)
    code = models.IntegerField(null=True, blank=True)
    subcode = models.IntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    # Seconds to wait before answering (to provoke the client's read timeout); 0: none.
    delay = models.FloatField(default=0)
    # With a delay: still carry out the call (the request "reached Meta") before answering.
    then_succeed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.method or '*'} {self.path} fails {self.remaining} more time(s)"


class GraphCall(models.Model):
    """Every Graph call the sandbox answered (never the token), for tests and demos."""

    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveIntegerField()
    error_code = models.IntegerField(null=True, blank=True)
    had_token = models.BooleanField(default=False)
    had_proof = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class Config(models.Model):
    """Switches for tests and demos (one row)."""

    webhook_url = models.URLField(max_length=500, blank=True, help_text="Blank: settings.SANDBOX_WEBHOOK_URL.")
    send_receipts = models.BooleanField(default=True, help_text="Post echo, delivery and read webhooks after a send.")
    echo_delay = models.FloatField(default=0.2)
    read_delay = models.FloatField(default=1.0)
    human_agent_approved = models.BooleanField(default=True)
    require_appsecret_proof = models.BooleanField(default=True)

    def __str__(self) -> str:
        return "Sandbox configuration"

    @classmethod
    def get(cls) -> Config:
        config, _ = cls.objects.get_or_create(pk=1)
        return config


class ThreadControl(models.Model):
    """Which app owns one customer's thread on a Page (Handover Protocol); no row: the Primary
    Receiver (our app) does."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="thread_controls")
    psid = models.CharField(max_length=32)
    owner_app_id = models.CharField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("page", "psid"), name="sandbox_uniq_thread_control")]

    def __str__(self) -> str:
        return f"{self.psid} on {self.page}: app {self.owner_app_id}"


class MessengerProfile(models.Model):
    """A Page's Messenger profile properties as last set (greeting, ice_breakers, persistent_menu …)."""

    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="messenger_profile")
    properties = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Messenger profile of {self.page}"


class ThreadMessage(models.Model):
    """A message of a Page's earlier conversation with a customer, as the Conversations API lists it
    (sandbox/history.py seeds them; the page's replies the Send API accepted are `SentMessage`s)."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="thread_messages")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="thread_messages")
    mid = models.CharField(max_length=100, unique=True)
    from_page = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    # Conversations API attachment entries, as Meta lists them ({"mime_type", "name", "image_data": {...}}).
    attachments = models.JSONField(default=list, blank=True)
    created_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_time", "-id")
        indexes = [models.Index(fields=("customer", "-created_time"), name="sandbox_thread_customer_time")]

    def __str__(self) -> str:
        return f"{'Page' if self.from_page else 'Customer'} message {self.mid}"


class UploadedAttachment(models.Model):
    """A file a Page uploaded through the Attachment Upload API (`POST /{page-id}/message_attachments`)."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="uploaded_attachments")
    attachment_id = models.CharField(max_length=32, unique=True)
    type = models.CharField(max_length=10)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=127, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    content = models.BinaryField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.type} upload {self.attachment_id}"


class Post(models.Model):
    """A Page's post, or an Instagram account's media, that people comment on (sandbox/graph_comments.py)."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="posts")
    post_id = models.CharField(max_length=64, unique=True)
    instagram = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    media_product_type = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{'Media' if self.instagram else 'Post'} {self.post_id}"


class Comment(models.Model):
    """A comment on a post: a customer's (``from_id`` is their PSID here) or the Page's own reply."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    comment_id = models.CharField(max_length=64, unique=True)
    parent_id = models.CharField(max_length=64, blank=True)
    from_id = models.CharField(max_length=32)
    from_name = models.CharField(max_length=200, blank=True)
    from_page = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    created_time = models.DateTimeField(default=timezone.now)
    hidden = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    # The one private reply Meta allows (Send API with recipient.comment_id), once sent.
    private_reply_mid = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"Comment {self.comment_id}"
