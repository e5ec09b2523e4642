"""Channel health: how one connected Page or Instagram account is doing, as its business can see it.

"A message never arrived" is the complaint every inbox hears. Every raw webhook event is stored, so the
page can answer it: events received per hour, the ones that failed or found no connected page (with
the reason, and a replay for owners and admins), replies Meta refused, media that could not be
stored, the webhook subscription, and the token's expiry with a forecast.

Reads only (selectors). Each section is one query on an index: events per hour from the drain's
hourly counts (WebhookEventHour), failed and unroutable events by state and time
(webhook_event_state_time, then the account's id inside the event: JSON containment on PostgreSQL,
checked in Python on SQLite, whose embedded default holds few), failed replies by the partial index
msg_failed_by_account, failed downloads by attachment_state_time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from inbox.latency import Summary, latency_summary
from inbox.models import Attachment, ChatMessage, WebhookEvent, WebhookEventHour
from social.models import Platform, SocialAccount

State = WebhookEvent.State
PROBLEM_STATES = (State.FAILED, State.UNROUTABLE)
# The hours the events chart covers, and how many problem rows each list shows.
HOURS = 48
LIST_LIMIT = 20
# The days before a token's expiry at which its business is warned (banner, and an email each time).
TOKEN_WARNING_DAYS = (10, 3, 1)
OBJECT_TYPES = {Platform.FACEBOOK: "page", Platform.INSTAGRAM: "instagram"}


@dataclass(frozen=True)
class HourCount:
    hour: dt.datetime
    received: int
    problems: int  # failed or unroutable


@dataclass(frozen=True)
class TokenForecast:
    name: str  # "Page token" / "Facebook user token"
    expires_at: dt.datetime | None  # None: does not expire
    days_left: int | None
    level: str  # "ok", "warning" (≤ 10 days), "danger" (≤ 3 days or expired)


@dataclass
class ChannelHealth:
    account: SocialAccount
    since: dt.datetime
    hours: list[HourCount] = field(default_factory=list)
    received: int = 0
    problem_events: list[WebhookEvent] = field(default_factory=list)
    failed_replies: list[ChatMessage] = field(default_factory=list)
    failed_downloads: list[Attachment] = field(default_factory=list)
    tokens: list[TokenForecast] = field(default_factory=list)
    webhook_fields: list[str] = field(default_factory=list)
    latency: list[Summary] = field(default_factory=list)


def channel_health(*, account: SocialAccount, now: dt.datetime | None = None) -> ChannelHealth:
    now = now or timezone.now()
    since = (now - dt.timedelta(hours=HOURS - 1)).astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    health = ChannelHealth(account=account, since=since)
    health.hours, health.problem_events = _events(account=account, since=since)
    health.received = sum(hour.received for hour in health.hours)
    health.failed_replies = list(
        ChatMessage.objects.filter(
            account=account, direction=ChatMessage.Direction.OUTBOUND, status=ChatMessage.Status.FAILED
        )
        .select_related("conversation__contact")
        .order_by("-timestamp", "-id")[:LIST_LIMIT]
    )
    health.failed_downloads = list(
        Attachment.objects.filter(state=Attachment.State.FAILED, message__account=account)
        .select_related("message__conversation")
        .order_by("-created_at", "-id")[:LIST_LIMIT]
    )
    health.tokens = token_forecasts(account=account, now=now)
    health.latency = latency_summary(account_pk=account.pk, now=now)
    health.webhook_fields = list(
        settings.FACEBOOK_WEBHOOK_FIELDS
        if account.platform == Platform.FACEBOOK
        else getattr(settings, "INSTAGRAM_WEBHOOK_FIELDS", ())
    )
    return health


def _events(*, account: SocialAccount, since: dt.datetime) -> tuple[list[HourCount], list[WebhookEvent]]:
    """The account's events per hour since `since`, and the latest that failed or found no page.

    Received: the drain's hourly counts (WebhookEventHour, 48 rows). Problems: the events failed or
    unroutable now (few, by webhook_event_state_time), so a replay that fixed one takes it off the chart.
    """
    object_type = OBJECT_TYPES.get(Platform(account.platform), "")
    received = dict(
        WebhookEventHour.objects.filter(object_type=object_type, meta_id=account.account_id, hour__gte=since)
        .values_list("hour", "received")
    )
    problem_events = _naming(WebhookEvent.objects.filter(state__in=PROBLEM_STATES), account)
    problems: dict[dt.datetime, int] = {}
    for received_at in problem_events.filter(received_at__gte=since, object_type=object_type).values_list(
        "received_at", flat=True
    ):
        hour = WebhookEventHour.hour_of(received_at)
        problems[hour] = problems.get(hour, 0) + 1
    hours = [
        HourCount(hour=hour, received=max(received.get(hour, 0), problems.get(hour, 0)), problems=problems.get(hour, 0))
        for hour in (since + dt.timedelta(hours=n) for n in range(HOURS))
    ]
    # Problems of any age, not only of the chart's hours: a failure from last week still wants replaying.
    latest = problem_events.order_by("-received_at", "-id").defer("body")[:LIST_LIMIT]
    return hours, list(latest)


def _naming(events, account: SocialAccount):
    """The events whose entries name this account, routed (account_ids) or not (unroutable_account_ids)."""
    if connection.features.supports_json_field_contains:
        return events.filter(
            Q(account_ids__contains=[account.account_id]) | Q(unroutable_account_ids__contains=[account.account_id])
        )
    # SQLite (the embedded default, a single machine's traffic): the ids are checked in Python.
    ids = [
        pk
        for pk, routed, unroutable in events.values_list("pk", "account_ids", "unroutable_account_ids").iterator()
        if account.account_id in (routed or ()) or account.account_id in (unroutable or ())
    ]
    return events.filter(pk__in=ids)


def event_names_account(event: WebhookEvent, account: SocialAccount) -> bool:
    return account.account_id in (event.account_ids or ()) or account.account_id in (event.unroutable_account_ids or ())


def token_forecasts(*, account: SocialAccount, now: dt.datetime | None = None) -> list[TokenForecast]:
    """When the account's tokens expire, and how urgent that is (warned at 10, 3 and 1 days)."""
    now = now or timezone.now()
    send = account.send_account
    forecasts = []
    for name, expires_at in (("Page token", send.expires_at), ("Facebook user token", send.user_token_expires_at)):
        if expires_at is None:
            forecasts.append(TokenForecast(name=name, expires_at=None, days_left=None, level="ok"))
            continue
        days_left = (expires_at - now).days
        first_warning, last_warnings = TOKEN_WARNING_DAYS[0], TOKEN_WARNING_DAYS[1]
        level = "danger" if days_left <= last_warnings else "warning" if days_left <= first_warning else "ok"
        forecasts.append(TokenForecast(name=name, expires_at=expires_at, days_left=days_left, level=level))
    return forecasts
