"""Faults, each checked against the stored rows: PostgreSQL down, the broker down, a worker killed mid-task.

docs/quality-targets.md, "Nothing lost": whatever fails, every message ends stored exactly once or is retried.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pytest
from django.db import transaction
from kombu import Connection

from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.integration.conftest import (
    TcpProxy,
    assert_stored_once,
    broker_url_from_env,
    db_url_via,
    events_settled,
    message_batch,
    pg_sessions,
    post_webhook,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PSID = "7012345678901234"
# Big enough that applying it takes a while (one savepoint and several statements per message).
BIG_BATCH = 400


def _requeue_stale(settings) -> int:
    """What celery beat runs every minute, with "stale" meaning "pending now" so the test need not wait."""
    from inbox.tasks import webhook_events_requeue_stale

    settings.INBOX_WEBHOOK_REQUEUE_AFTER_SECONDS = 0
    return webhook_events_requeue_stale()


# --- PostgreSQL -----------------------------------------------------------------------------------


def test_database_down_during_webhooks_answers_5xx_and_meta_retries_store_everything_once(
    live_server, page, worker, db_proxy
):
    before, before_mids = message_batch(page_id=page.account_id, psid=PSID, count=2, tag="before")
    assert post_webhook(live_server.url, before) == 200
    assert db_proxy.forwarded >= 1, "the live server does not talk to PostgreSQL through the proxy"

    batches = [message_batch(page_id=page.account_id, psid=PSID, count=3, tag="outage", start=3 * i) for i in range(4)]
    db_proxy.cut()
    statuses = [post_webhook(live_server.url, body) for body, _ in batches]
    # Not a 200 (Meta would drop the delivery) and not a hang: a 5xx that makes Meta retry.
    assert all(500 <= status < 600 for status in statuses), statuses
    assert db_proxy.refused >= len(batches)
    # Nothing half-stored: only the event accepted before the outage exists (this test's own
    # connection goes straight to PostgreSQL).
    assert WebhookEvent.objects.count() == 1
    assert not ChatMessage.objects.filter(message_id__startswith="m_outage").exists()

    db_proxy.restore()
    # Meta retries the same bytes; the first batch is even delivered twice.
    for body, _ in batches:
        assert post_webhook(live_server.url, body) == 200
    assert post_webhook(live_server.url, batches[0][0]) == 200

    wait_for(lambda: events_settled(1 + len(batches) + 1), message="the worker to process every retried event")
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert_stored_once(account=page, mids=before_mids + [mid for _, mids in batches for mid in mids])


def test_a_hung_database_is_answered_with_5xx_quickly_not_a_hanging_request(live_server, page, db_proxy):
    """PostgreSQL accepts the connection and never answers (overloaded host, dropped route), instead of refusing it.

    The answer must still be a quick 5xx, so Meta retries and the request thread is free for the next webhook.
    """
    import time as _time

    db_proxy.hang()
    body, mids = message_batch(page_id=page.account_id, psid=PSID, count=1, tag="hungdb")
    started = _time.monotonic()
    status = post_webhook(live_server.url, body, timeout=15)
    elapsed = _time.monotonic() - started
    db_proxy.restore()
    assert 500 <= status < 600, f"no 5xx within 15 s while the database hangs (status {status})"
    assert elapsed < 10, f"the webhook answer took {elapsed:.1f} s with a hung database"
    assert not WebhookEvent.objects.exists()


def test_database_down_while_the_worker_processes_retries_and_loses_nothing(
    live_server, page, start_worker, worker_database_url
):
    from django.db import connection

    proxy = TcpProxy(connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    try:
        worker = start_worker(database_url=db_url_via(proxy, worker_database_url))
        proxy.cut()
        batches = [message_batch(page_id=page.account_id, psid=PSID, count=3, tag="wdown", start=3 * i) for i in range(3)]
        for body, _ in batches:
            assert post_webhook(live_server.url, body) == 200
        # The worker's drain could not reach the database: it retries, the rows stay pending.
        worker.wait_for_log(r"Webhook drain: database unavailable \(")
        assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PENDING}
        assert not ChatMessage.objects.exists()

        proxy.restore()
        # The task's own retries (2 s, then 4 s backoff) finish the job once the database is back.
        wait_for(lambda: events_settled(len(batches)), timeout=45, message="the retried tasks to process the events")
    finally:
        proxy.close()
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert_stored_once(account=page, mids=[mid for _, mids in batches for mid in mids])


# --- the broker -----------------------------------------------------------------------------------


def test_broker_down_webhooks_are_still_answered_and_the_requeue_task_recovers_them(
    live_server, page, start_worker, private_redis, celery_broker, settings
):
    broker = private_redis.url(0)
    celery_broker(broker)
    worker = start_worker(broker_url=broker)
    before, before_mids = message_batch(page_id=page.account_id, psid=PSID, count=2, tag="bup")
    assert post_webhook(live_server.url, before) == 200
    wait_for(lambda: events_settled(1), message="the worker to process the first event")

    private_redis.stop()
    batches = [message_batch(page_id=page.account_id, psid=PSID, count=3, tag="bdown", start=3 * i) for i in range(4)]
    for body, _ in batches:
        # Meta waits ~20 s at most: the ack must not hang on the dead broker.
        assert post_webhook(live_server.url, body, timeout=10) == 200
    # Stored (exact bytes) and pending: nothing is lost while nobody can be told about them.
    pending = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING)
    assert sorted(bytes(event.body) for event in pending) == sorted(body for body, _ in batches)
    assert not ChatMessage.objects.filter(message_id__startswith="m_bdown").exists()

    private_redis.start()
    assert _requeue_stale(settings) == len(batches)
    wait_for(lambda: events_settled(1 + len(batches)), timeout=60,
             message="the worker to reconnect and process the requeued events")
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert_stored_once(account=page, mids=before_mids + [mid for _, mids in batches for mid in mids])
    assert worker.running


# --- a worker killed mid-task ---------------------------------------------------------------------


def _conversation(page):
    from inbox.tests.factories import ContactFactory, ConversationFactory

    return ConversationFactory(contact=ContactFactory(account=page, external_id=PSID))


@contextmanager
def _conversation_locked(conversation):
    """Hold the conversation's row lock: a worker applying a batch to it gets as far as locking the
    conversation and waits there, inside its transaction. A kill then lands mid-task every time,
    never just after a fast drain's commit. Leaving releases the lock; a killed worker's session
    then finds its client gone and rolls the batch back."""
    from inbox.models import Conversation

    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation.pk)
        yield


def _waiting_for_a_lock(worker) -> bool:
    return any(s["in_transaction"] and s["wait_event_type"] == "Lock" for s in pg_sessions(worker.application_name))


def _unacked_tags(broker: str) -> list[str]:
    import redis

    return [tag.decode() for tag in redis.Redis.from_url(broker).hkeys("unacked")]


def test_a_worker_killed_mid_batch_leaves_nothing_half_applied_and_a_new_worker_recovers(
    live_server, page, start_worker, settings
):
    conversation = _conversation(page)
    first = start_worker()
    body, mids = message_batch(page_id=page.account_id, psid=PSID, count=BIG_BATCH, tag="kill")

    # Mid-task: the worker's session holds the transaction that applies the batch, waiting on the
    # conversation's lock that the test holds.
    with _conversation_locked(conversation):
        assert post_webhook(live_server.url, body) == 200
        wait_for(lambda: _waiting_for_a_lock(first), message="the worker to wait on the conversation's lock")
        first.kill()
    event = WebhookEvent.objects.get()
    wait_for(lambda: not pg_sessions(first.application_name), message="PostgreSQL to drop the dead worker's session")

    # The batch is one transaction: a worker killed half-way leaves no half of it behind.
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PENDING
    assert not ChatMessage.objects.exists()
    # The broker still holds the unacknowledged task (acks_late): it would come back after the visibility timeout.
    broker = broker_url_from_env()
    unacked = _unacked_tags(broker)
    assert unacked, "the killed worker's task was acknowledged before it finished"

    second = start_worker()
    assert _requeue_stale(settings) == 1
    wait_for(lambda: events_settled(1), timeout=60, message="the new worker to process the requeued event")
    assert_stored_once(account=page, mids=mids)

    # Later the broker hands the killed worker's delivery out again (visibility timeout): still once.
    with Connection(broker) as connection:
        channel = connection.default_channel
        for tag in unacked:
            channel.qos.restore_by_tag(tag)
    second.wait_for_log(r"Task inbox\.tasks\.webhook_events_drain\[[^\]]+\] succeeded", count=2, timeout=45)
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert_stored_once(account=page, mids=mids)


def test_a_pool_process_killed_mid_task_is_redelivered_at_once(live_server, page, start_worker):
    conversation = _conversation(page)
    worker = start_worker(pool="prefork", concurrency=1)
    body, mids = message_batch(page_id=page.account_id, psid=PSID, count=BIG_BATCH, tag="child")

    with _conversation_locked(conversation):
        assert post_webhook(live_server.url, body) == 200
        wait_for(lambda: _waiting_for_a_lock(worker), message="the pool process to wait on the conversation's lock")
        children = worker.pool_children()
        assert children
        for pid in children:
            os.kill(pid, signal.SIGKILL)
    # Released: the dead process's session finds its client gone and rolls the batch back.

    # reject_on_worker_lost: the task goes back to the queue and a fresh pool process applies it,
    # with no requeue task and no visibility timeout involved.
    worker.wait_for_log(r"WorkerLostError", timeout=30)
    wait_for(lambda: events_settled(1), timeout=60, message="the redelivered task to process the event")
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert_stored_once(account=page, mids=mids)


# --- Meta failing on send ---------------------------------------------------------------------------


def _send_setup(live_server, page, start_worker, **worker_options):
    from inbox.tests.factories import ContactFactory, ConversationFactory

    worker = start_worker(extra_env={"FACEBOOK_GRAPH_URL": f"{live_server.url}/sandbox/graph/v25.0"}, **worker_options)
    conversation = ConversationFactory(contact=ContactFactory(account=page, external_id=PSID))
    return worker, conversation, f"/{page.account_id}/messages"


def _accepted_sends(sandbox_page) -> list:
    from sandbox.models import SentMessage

    return list(SentMessage.objects.filter(page=sandbox_page, recipient_id=PSID).exclude(message_id=""))


def _assert_sent_once_and_echo_matched(reply, conversation, sandbox_page) -> None:
    sent = _accepted_sends(sandbox_page)
    assert len(sent) == 1, f"{len(sent)} sends accepted by Meta for one reply"
    assert sent[0].body["message"]["text"] == reply.content
    assert sent[0].body["message"]["metadata"] == reply.client_token
    # Meta's echo came back through the webhook: matched to the reply, never a second message.
    wait_for(lambda: ChatMessage.objects.get(pk=reply.pk).status in ("delivered", "read"), timeout=30,
             message="the delivery / read receipts of the reply")
    reply.refresh_from_db()
    assert reply.message_id == sent[0].message_id
    assert ChatMessage.objects.filter(conversation=conversation, direction="outbound").count() == 1


def test_meta_5xx_on_send_is_retried_and_the_reply_is_sent_exactly_once(
    live_server, page, member, sandbox_page, start_worker
):
    from inbox.services.replies import reply_send
    from sandbox.models import Fault, GraphCall

    _worker, conversation, send_path = _send_setup(live_server, page, start_worker)
    # Meta answers the first send with a 500 and its "temporary issue" error (code 2): it did not act on it.
    Fault.objects.create(path=send_path, method="POST", remaining=1, http_status=500, code=2,
                         message="An unexpected error has occurred. Please retry your request later.")

    reply = reply_send(conversation=conversation, user=member, text="Your cake is ready")

    wait_for(lambda: ChatMessage.objects.filter(pk=reply.pk).exclude(message_id=None).exists(), timeout=60,
             message="the retried send to be accepted")
    assert list(GraphCall.objects.filter(method="POST", path=send_path).values_list("status", flat=True)) == [500, 200]
    _assert_sent_once_and_echo_matched(reply, conversation, sandbox_page)


def test_a_send_that_timed_out_but_reached_meta_is_not_sent_again(
    live_server, page, member, sandbox_page, start_worker
):
    """The dangerous case: Meta carried out the send but its answer never came (a read timeout)."""
    from inbox.services.replies import reply_send
    from sandbox.models import Fault, GraphCall

    worker, conversation, send_path = _send_setup(
        live_server, page, start_worker, settings_module="inbox.tests.integration.worker_settings"
    )
    # The sandbox answers after 4 s (the worker gives up after 2 s) and still sends the message.
    Fault.objects.create(path=send_path, method="POST", remaining=1, delay=4, then_succeed=True)

    reply = reply_send(conversation=conversation, user=member, text="Your order has shipped")

    # The worker does not resend at once (Meta may have the message): it schedules a later look.
    worker.wait_for_log(r"Task inbox\.tasks\.message_send\[[^\]]+\] retry: Retry in \d+s", timeout=30)
    # Meta's echo arrives meanwhile and tells us the send went through ...
    wait_for(lambda: ChatMessage.objects.filter(pk=reply.pk).exclude(message_id=None).exists(), timeout=30,
             message="the echo to give the reply its mid")
    # ... so the scheduled retry finds the reply sent and does nothing.
    worker.wait_for_log(r"Task inbox\.tasks\.message_send\[[^\]]+\] succeeded in [0-9.]+s: 'skipped'", timeout=75)
    assert list(GraphCall.objects.filter(method="POST", path=send_path).values_list("status", flat=True)) == [200]
    _assert_sent_once_and_echo_matched(reply, conversation, sandbox_page)


def test_a_hung_broker_does_not_hang_the_webhook_ack(live_server, page, celery_broker):
    """A broker that accepts connections and never answers (not refused): the ack must still come back quickly.

    Meta waits about 20 s for an answer and counts a timeout as a failed delivery; a request thread that
    waits forever on the broker is also one less thread for the next webhook.
    """
    import time as _time

    broker_port = int(broker_url_from_env().rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy("127.0.0.1", broker_port)
    try:
        celery_broker(f"redis://127.0.0.1:{proxy.port}/11")
        proxy.hang()
        body, _ = message_batch(page_id=page.account_id, psid=PSID, count=1, tag="hung")
        started = _time.monotonic()
        status = post_webhook(live_server.url, body, timeout=15)
        elapsed = _time.monotonic() - started
    finally:
        proxy.close()
    assert status == 200, f"no answer to the webhook within 15 s while the broker hangs (status {status})"
    assert elapsed < 10, f"the webhook ack took {elapsed:.1f} s with a hung broker"
    # Stored before the enqueue was tried: the requeue task hands it to a worker later.
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PENDING
