"""Delivery latency per page: the drain samples how long customers' messages took, channel health shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox import latency
from inbox.ingest.replay import webhook_events_replay
from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, post_webhook, run_on_commit
from sandbox import payloads as p

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def _body(page_id: str, *items: dict) -> bytes:
    return p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=page_id, events=list(items))]))


def test_percentiles_of_the_last_day_per_page(page):
    latency.samples_record({page.pk: {latency.META_TO_STORED: [i / 1000 for i in range(1, 101)]}}, now=NOW)
    latency.samples_record({page.pk + 1: {latency.META_TO_STORED: [9.0]}}, now=NOW)  # another page's
    latency.samples_record({page.pk: {latency.META_TO_STORED: [60.0]}}, now=NOW - timedelta(hours=30))  # too old

    stored, pushed, _ = latency.latency_summary(account_pk=page.pk, now=NOW + timedelta(hours=2))
    assert (stored.kind, stored.samples, stored.p50_ms, stored.p99_ms) == (latency.META_TO_STORED, 100, 50.0, 99.0)
    assert pushed.samples == 0 and pushed.p50_ms is None


def test_a_bucket_keeps_the_latest_samples_only(page):
    latency.samples_record({page.pk: {latency.WEBHOOK_TO_PUSHED: [1.0] * latency.SAMPLES_PER_HOUR}}, now=NOW)
    latency.samples_record({page.pk: {latency.WEBHOOK_TO_PUSHED: [0.002] * 10}}, now=NOW)
    _, pushed, _ = latency.latency_summary(account_pk=page.pk, now=NOW)
    assert pushed.samples == latency.SAMPLES_PER_HOUR
    assert pushed.p50_ms == 1000.0


def test_the_drain_samples_customers_messages_only(client, page):
    meta_ms = int(timezone.now().timestamp() * 1000) - 1500  # Meta stamped it 1.5 s ago
    body = _body(
        page.account_id,
        p.text_message(page_id=page.account_id, psid="7012345678901234", text="Hello", timestamp_ms=meta_ms),
        p.echo(page_id=page.account_id, psid="7012345678901234", text="Hi! How can we help?", mid=p.new_mid()),
    )
    assert post_webhook(client, body).status_code == 200

    stored, pushed, _ = latency.latency_summary(account_pk=page.pk)
    assert stored.samples == 1 and pushed.samples == 1  # the echo is the page's own, not measured
    assert 1400 <= stored.p50_ms < 60_000
    assert 0 <= pushed.p50_ms < 60_000


def test_replays_of_old_events_are_not_the_pages_speed(client, page):
    body = _body(page.account_id, p.text_message(page_id=page.account_id, psid="7012345678901234", text="Late"))
    event = WebhookEvent.objects.create(body=body, state=WebhookEvent.State.FAILED)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=3))

    run_on_commit(webhook_events_replay, event_ids=[event.pk])

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert [s.samples for s in latency.latency_summary(account_pk=page.pk)] == [0, 0, 0]


def test_channel_health_shows_the_figures(client_member, page):
    latency.samples_record({page.pk: {latency.META_TO_STORED: [0.25, 0.5], latency.WEBHOOK_TO_PUSHED: [0.04]}})
    html = client_member.get(reverse("inbox:channel_health", args=[page.public_id])).content.decode()
    assert "Meta → stored" in html and "median <strong>250.0 ms</strong>" in html
    assert "Webhook → pushed to open pages" in html and "<strong>40.0 ms</strong>" in html
    assert "Webhook → on a screen" in html


def test_a_cache_that_is_down_loses_samples_not_messages(client, page, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get_many", down)
    body = _body(page.account_id, p.text_message(page_id=page.account_id, psid="7012345678901234", text="Still here"))
    assert post_webhook(client, body).status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert latency.latency_summary(account_pk=page.pk)[0].samples == 0


# --- each message's stamps, and the screens' acknowledgements ---------------------------------------------


def test_each_customer_message_is_stamped_with_its_webhooks_arrival(client, page):
    assert post_webhook(client, _body(page.account_id, p.text_message(
        page_id=page.account_id, psid="7012345678901234", text="Stamped"))).status_code == 200
    event = WebhookEvent.objects.get()
    message = ChatMessage.objects.get(content="Stamped")
    assert message.received_at == event.received_at
    assert message.timestamp <= message.created_at and message.received_at <= message.created_at


@pytest.mark.parametrize("text", [
    "", "ack", "[]", '{"ack": []}', '{"ack": "1"}', '{"ack": [1.5]}', '{"ack": [true]}', '{"ack": [0]}',
    '{"ack": [1], "presence": "idle"}', '{"ack": [' + ",".join("1" * 51) + "]}", '{"ack": [9223372036854775808]}',
])
def test_only_a_proper_acknowledgement_is_read(text):
    assert latency.ack_parse(text) is None


def test_a_screen_acknowledgement_records_this_business_live_messages_only(page, other_page):
    now = timezone.now()
    ours = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)),
                              received_at=now - timedelta(seconds=0.3))
    replayed = ChatMessageFactory(conversation=ours.conversation, received_at=now - timedelta(hours=2))
    reply = ChatMessageFactory(conversation=ours.conversation, direction=ChatMessage.Direction.OUTBOUND,
                               received_at=now - timedelta(seconds=1))
    theirs = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=other_page)),
                                received_at=now - timedelta(seconds=0.1))

    assert latency.ack_parse(f'{{"ack": [{ours.pk}, {replayed.pk}, {reply.pk}, {theirs.pk}]}}')
    counted = latency.screen_samples_record(
        business_id=page.business_id, message_ids=[ours.pk, replayed.pk, reply.pk, theirs.pk], now=now
    )
    assert counted == 1
    *_, screen = latency.latency_summary(account_pk=page.pk, now=now)
    assert (screen.kind, screen.samples, screen.p50_ms) == (latency.WEBHOOK_TO_SCREEN, 1, 300.0)
    assert latency.latency_summary(account_pk=other_page.pk, now=now)[2].samples == 0
