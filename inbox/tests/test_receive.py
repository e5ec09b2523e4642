"""The webhook's one INSERT and the drain's wake-up flag (inbox/ingest/receive.py, inbox/ingest/wake.py)."""

from __future__ import annotations

import asyncio
import os
import threading
from unittest import mock

import pytest
from django.db import connection, models

from inbox.ingest import receive, wake
from inbox.models import WebhookEvent

# --- the INSERT -------------------------------------------------------------------------------------


def _insert_columns() -> list[str]:
    listed = receive.INSERT_SQL.split("(", 1)[1].split(")", 1)[0]
    return [name.strip() for name in listed.split(",")]


def test_the_insert_targets_the_model_table():
    assert receive.INSERT_SQL.startswith(f"INSERT INTO {WebhookEvent._meta.db_table} (")


def test_the_insert_sets_every_not_null_column_of_the_model():
    """A NOT NULL column without a database default that the statement omits would fail every ack."""
    required = [
        field.column for field in WebhookEvent._meta.concrete_fields
        if not field.primary_key and not field.null and field.db_default is models.NOT_PROVIDED
    ]
    missing = set(required) - set(_insert_columns())
    assert not missing, f"add {sorted(missing)} to inbox.ingest.receive.INSERT_SQL"


def test_the_insert_has_a_value_per_column_and_three_parameters():
    values = receive.INSERT_SQL.split("VALUES (", 1)[1].rsplit(")", 1)[0]
    assert len(values.split(",")) == len(_insert_columns())
    assert values.count("%s") == len(receive.insert_params(b"", "")) == 3


@pytest.mark.django_db
def test_a_stored_row_has_the_model_defaults(django_assert_num_queries):
    body = b"\x00raw \xff bytes"
    with django_assert_num_queries(1):
        answer = receive.webhook_event_store(body, "sha256=abc")
    assert answer is receive.ACCEPTED
    event = WebhookEvent.objects.get()
    fresh = WebhookEvent()
    assert bytes(event.body) == body and event.signature == "sha256=abc"
    for field in WebhookEvent._meta.concrete_fields:
        if field.name not in ("id", "body", "signature", "received_at"):
            assert getattr(event, field.attname) == getattr(fresh, field.attname), field.name
    assert abs((event.received_at - fresh.received_at).total_seconds()) < 60
    # Found by the drain's query, as a row created by the ORM is.
    assert WebhookEvent.objects.filter(state="pending", received_at__lte=fresh.received_at).count() == 1


@pytest.mark.django_db
def test_a_database_error_is_503_with_retry_after_and_wakes_nothing(caplog):
    from django.db import OperationalError

    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")), \
            mock.patch("inbox.ingest.receive.webhook_events_wake") as wake_up:
        answer = receive.webhook_event_store(b"{}", "sha256=abc")
    assert answer.status == 503 and dict(answer.headers)["Retry-After"] == "5"
    wake_up.assert_not_called()
    assert "answering 503 so Meta retries" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_drain_is_woken_only_after_the_commit():
    from django.db import transaction

    with mock.patch("inbox.ingest.receive.webhook_events_wake") as wake_up:
        with transaction.atomic():
            receive.webhook_event_store(b"{}", "sha256=abc")
            wake_up.assert_not_called()
        wake_up.assert_called_once()
        with transaction.atomic():
            receive.webhook_event_store(b"{}", "sha256=abc")
            transaction.set_rollback(True)
        wake_up.assert_called_once()  # nothing committed, nothing to drain
    assert WebhookEvent.objects.count() == 1
    connection.close()


def test_announced_sizes_over_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert receive.announced_too_large(b"101") and receive.announced_too_large("101")
    assert not receive.announced_too_large(b"100") and not receive.announced_too_large(None)
    assert not receive.announced_too_large(b"abc")  # the body's real size decides then
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    assert not receive.announced_too_large(b"10000000")


# --- the wake-up flag ---------------------------------------------------------------------------------


@pytest.fixture
def memory_flag(settings):
    """The in-process flag, cleared (the process keeps one per URL, so an earlier test may have set it)."""
    settings.INBOX_WEBHOOK_WAKE_URL = "memory://"
    wake.drain_flag_clear()
    yield wake.drain_flag()
    wake.drain_flag_clear()


@pytest.fixture
def drain_task():
    with mock.patch("inbox.ingest.wake.enqueue") as enqueue:
        yield enqueue


def test_the_memory_flag_queues_one_drain_until_cleared_or_expired(memory_flag, drain_task):
    for _ in range(3):
        wake.webhook_events_wake()
    assert drain_task.call_count == 1
    wake.drain_flag_clear()
    wake.webhook_events_wake()
    assert drain_task.call_count == 2
    wake.webhook_events_wake(force=True)  # at start-up: whatever the flag says
    assert drain_task.call_count == 3
    flag = wake.MemoryDrainFlag(seconds=0.0)
    assert flag.claim() and flag.claim()  # an expired flag is free again


def test_the_memory_flag_is_claimed_by_one_thread_of_many():
    flag = wake.MemoryDrainFlag()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(flag.claim())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def test_without_a_flag_every_wake_queues_a_drain(settings, drain_task):
    settings.INBOX_WEBHOOK_WAKE_URL = ""
    for _ in range(3):
        wake.webhook_events_wake()
    wake.drain_flag_clear()  # nothing to clear, no error
    assert drain_task.call_count == 3


def test_an_unknown_flag_url_is_refused(settings):
    settings.INBOX_WEBHOOK_WAKE_URL = "memcached://x"
    with pytest.raises(ValueError, match="INBOX_WEBHOOK_WAKE_URL"):
        wake.drain_flag()


def test_redis_down_still_queues_a_drain_and_the_drain_still_runs(settings, drain_task, caplog):
    # Nothing listens on this port: every flag call fails fast.
    settings.INBOX_WEBHOOK_WAKE_URL = "redis://127.0.0.1:1/0"
    wake.webhook_events_wake()
    wake.webhook_events_wake()
    assert drain_task.call_count == 2  # an outage costs a drain per webhook, never a lost one
    wake.drain_flag_clear()
    asyncio.run(wake.webhook_events_awake())
    assert drain_task.call_count == 3
    assert "Drain flag unavailable" in caplog.text


def test_concurrent_loop_wakes_share_one_round_trip_and_one_more_after_it(settings, drain_task):
    """Acks finishing while a claim is in flight ask for one more claim after it, not one each."""
    settings.INBOX_WEBHOOK_WAKE_URL = "memory://"
    claims: list[int] = []

    class SlowFlag(wake.MemoryDrainFlag):
        async def aclaim(self) -> bool:
            claims.append(1)
            await asyncio.sleep(0.01)
            return self.claim()

    async def burst() -> None:
        with mock.patch("inbox.ingest.wake.drain_flag", return_value=SlowFlag()):
            await asyncio.gather(*(wake.webhook_events_awake() for _ in range(20)))

    asyncio.run(burst())
    assert len(claims) == 2  # the first, and one covering the 19 that finished during it
    assert drain_task.call_count == 1  # the second found the flag set by the first


def test_a_wake_after_the_drain_cleared_the_flag_queues_the_next_drain_on_a_loop(memory_flag, drain_task):

    async def wakes() -> None:
        await wake.webhook_events_awake()
        await wake.webhook_events_awake()
        wake.drain_flag_clear()
        await wake.webhook_events_awake()

    asyncio.run(wakes())
    assert drain_task.call_count == 2


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis (REDIS_URL)")
def test_the_redis_flag_is_one_key_the_sync_and_async_clients_share(drain_task):
    flag = wake.RedisDrainFlag(os.environ["REDIS_URL"], key="inbox:test-drain-queued")
    flag.clear()
    try:
        assert flag.claim()
        assert not asyncio.run(flag.aclaim())
        flag.clear()
        assert not flag.is_set()

        async def claim_and_close() -> bool:
            try:
                return await flag.aclaim()
            finally:
                await flag.aclose()

        assert asyncio.run(claim_and_close())
        assert not flag.claim() and flag.is_set()
    finally:
        flag.clear()
