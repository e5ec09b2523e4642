"""End to end through a real worker: signed POST to the live server → 200 → the worker stores it once."""

from __future__ import annotations

import pytest

from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.tests.integration.conftest import message_batch, post_webhook, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PSID = "7012345678901234"


def _all_processed(count: int) -> bool:
    states = list(WebhookEvent.objects.values_list("state", flat=True))
    return len(states) == count and all(state == WebhookEvent.State.PROCESSED for state in states)


def test_a_signed_webhook_is_stored_exactly_once_by_the_worker(live_server, page, sandbox_page, start_worker):
    # The worker looks the customer up in the sandbox's Graph API, as it would at Meta.
    worker = start_worker(extra_env={"FACEBOOK_GRAPH_URL": f"{live_server.url}/sandbox/graph/v25.0"})
    first, first_mids = message_batch(page_id=page.account_id, psid=PSID, count=3, tag="e2e")
    second, second_mids = message_batch(page_id=page.account_id, psid=PSID, count=2, tag="e2e", start=3)

    assert post_webhook(live_server.url, first) == 200
    assert post_webhook(live_server.url, second) == 200
    # Meta delivers at least once: the same body again must not make a second copy of anything.
    assert post_webhook(live_server.url, first) == 200

    # The raw bytes are stored before the answer, one row per POST.
    assert sorted(bytes(body) for body in WebhookEvent.objects.values_list("body", flat=True)) == sorted(
        [first, first, second]
    )
    wait_for(lambda: _all_processed(3), message="the worker to process the 3 webhook events")

    mids = first_mids + second_mids
    stored = list(ChatMessage.objects.filter(account=page).values_list("message_id", flat=True))
    assert sorted(stored) == sorted(mids)
    conversation = Conversation.objects.get(account=page)
    assert conversation.unread_count == len(mids)
    assert conversation.last_message_preview == "e2e message 4"
    assert Contact.objects.filter(account=page).count() == 1
    # The profile lookup ran in its own task after the message was stored.
    wait_for(lambda: Contact.objects.get(account=page).name == "Giulia Bianchi", message="the profile lookup")
    # It was the worker, not this process, that ran the tasks.
    assert worker.wait_for_log(r"Task inbox\.tasks\.webhook_events_drain\[[^\]]+\] succeeded")


def test_an_event_for_an_unconnected_page_is_kept_not_lost(live_server, page, worker):
    body, _ = message_batch(page_id="199999999999999", psid=PSID, count=1, tag="stranger")
    assert post_webhook(live_server.url, body) == 200
    event = WebhookEvent.objects.get()
    wait_for(lambda: WebhookEvent.objects.get(pk=event.pk).state != WebhookEvent.State.PENDING,
             message="the worker to route the event")
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.UNROUTABLE
    assert event.unroutable_account_ids == ["199999999999999"]
    assert bytes(event.body) == body
    assert not ChatMessage.objects.exists()


def test_a_body_that_is_not_json_is_stored_and_marked_failed(live_server, page, worker):
    body = b"\x00not json at all\xff"
    assert post_webhook(live_server.url, body) == 200
    event = WebhookEvent.objects.get()
    wait_for(lambda: WebhookEvent.objects.get(pk=event.pk).state == WebhookEvent.State.FAILED,
             message="the worker to mark the event failed")
    event.refresh_from_db()
    assert bytes(event.body) == body
    assert "not valid UTF-8" in event.last_error or "not valid JSON" in event.last_error


def test_the_worker_pushes_the_new_message_to_open_inbox_pages_in_other_processes(live_server, page, worker):
    """The worker (one process) broadcasts through Redis; a page's socket lives in another (this one)."""
    import asyncio

    from channels.layers import get_channel_layer

    from inbox.realtime import business_group

    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"

    async def listen() -> str:
        channel = await layer.new_channel()
        await layer.group_add(business_group(page.business_id), channel)
        body, _mids = message_batch(page_id=page.account_id, psid=PSID, count=1, tag="live push")
        status = await asyncio.to_thread(post_webhook, live_server.url, body)
        assert status == 200
        try:
            event = await asyncio.wait_for(layer.receive(channel), timeout=30)
        finally:
            await layer.group_discard(business_group(page.business_id), channel)
        return event["html"]

    html = asyncio.run(listen())
    message = ChatMessage.objects.get(account=page)
    assert f'id="message-{message.pk}"' in html
    assert "live push message 0" in html


def test_webhooks_do_not_wait_behind_a_backlog_of_other_tasks(live_server, page, celery_broker, start_worker):
    """Profile lookups and downloads call Meta and can pile up; the drain's queue ("live") is taken first."""
    from inbox.tasks import contact_profile_fetch

    for missing_contact in range(900_000, 900_040):
        contact_profile_fetch.delay(missing_contact)  # each is quick (no such contact) but they queue first
    body, mids = message_batch(page_id=page.account_id, psid=PSID, count=2, tag="first-in-line")
    assert post_webhook(live_server.url, body) == 200

    worker = start_worker()
    wait_for(lambda: _all_processed(1), message="the worker to apply the webhook")
    # The task's log line is written after its transaction commits: wait for it too.
    worker.wait_for_log(r"Task inbox\.tasks\.webhook_events_drain\[[^\]]+\] succeeded")
    lines = worker.log().splitlines()
    drained = next(i for i, line in enumerate(lines) if "inbox.tasks.webhook_events_drain" in line and "succeeded" in line)
    lookups = [i for i, line in enumerate(lines) if "inbox.tasks.contact_profile_fetch" in line and "succeeded" in line]
    # At most the few tasks the worker had already reserved run before the drain.
    assert sum(i < drained for i in lookups) <= 8, lines[: drained + 1]
    assert sorted(ChatMessage.objects.values_list("message_id", flat=True)) == sorted(mids)
