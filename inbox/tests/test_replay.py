"""Operations: the replay command, the admin action and the periodic requeue of stale events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from inbox.ingest.replay import webhook_events_replay, webhook_events_requeue_stale
from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.helpers import FakeGraph, load_fixture, post_webhook, run_on_commit

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def stored(name: str, *, state: str = State.PENDING, received_at: datetime | None = None) -> WebhookEvent:
    """A stored, not yet processed event (as if its task had been lost)."""
    event = WebhookEvent.objects.create(body=load_fixture(name), state=state)
    if received_at is not None:
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=received_at)
    return event


def replay(*args: str) -> str:
    out, err = StringIO(), StringIO()
    run_on_commit(call_command, "replay_webhook_events", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


# --- the command ----------------------------------------------------------------------------------


def test_replay_failed_events_by_default(page):
    failed = stored("message_text", state=State.FAILED)
    pending = stored("postback")
    output = replay()
    assert "1 event(s) queued for replay." in output
    failed.refresh_from_db()
    pending.refresh_from_db()
    assert failed.state == State.PROCESSED
    assert pending.state == State.PENDING
    assert ChatMessage.objects.count() == 1


def test_replay_by_state_and_time_range(page):
    day = datetime(2026, 5, 1, tzinfo=UTC)
    before = stored("message_text", received_at=day - timedelta(hours=1))
    inside = stored("postback", received_at=day + timedelta(hours=1))
    after = stored("referral", received_at=day + timedelta(days=1, hours=1))
    output = replay("--state", "pending", "--since", "2026-05-01", "--until", "2026-05-02T00:00:00")
    assert "1 event(s) queued for replay." in output
    assert [WebhookEvent.objects.get(pk=e.pk).state for e in (before, inside, after)] == [
        State.PENDING, State.PROCESSED, State.PENDING,
    ]
    assert list(ChatMessage.objects.values_list("kind", flat=True)) == [ChatMessage.Kind.POSTBACK]


def test_replay_all_with_a_progress_bar_and_processed_events_stay_as_they_are(client, page):
    post_webhook(client, load_fixture("message_text"))
    stored("unknown_event", state=State.UNROUTABLE)
    unread = ChatMessage.objects.get().conversation.unread_count
    output = replay("--state", "all")
    assert "2 event(s) queued for replay." in output
    assert "2/2" in output  # tqdm
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {State.PROCESSED}
    # The replayed event's message and its opt-in notice (which is never unread).
    assert ChatMessage.objects.count() == 3
    assert ChatMessage.objects.first().conversation.unread_count == unread + 1


def test_replay_in_process(page):
    stored("message_text", state=State.UNROUTABLE)
    output = replay("--state", "unroutable", "--now")
    assert "1 event(s) replayed." in output
    assert WebhookEvent.objects.get().state == State.PROCESSED


def test_replay_dry_run_changes_nothing(page):
    stored("message_text", state=State.FAILED)
    assert "1 event(s) would be replayed." in replay("--dry-run")
    assert WebhookEvent.objects.get().state == State.FAILED


def test_replay_with_nothing_to_do(page):
    assert "0 event(s) queued for replay." in replay("--state", "failed")


@pytest.mark.parametrize(
    "args",
    [("--since", "yesterday"), ("--since", "2026-05-02", "--until", "2026-05-01"), ("--state", "weird")],
)
def test_replay_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("replay_webhook_events", *args, stdout=StringIO(), stderr=StringIO())


# --- the service and the admin --------------------------------------------------------------------


def test_replay_service_counts_only_existing_events(page):
    event = stored("message_text", state=State.FAILED)
    assert run_on_commit(webhook_events_replay, event_ids=[event.pk, event.pk, 999_999]) == 1


def test_admin_action_replays_the_selected_events(client, page, django_user_model):
    admin = django_user_model.objects.create_superuser(email="ops@example.com", password="x" * 12)
    client.force_login(admin)
    failed = stored("message_text", state=State.FAILED)
    untouched = stored("postback", state=State.FAILED)
    url = reverse("admin:inbox_webhookevent_changelist")
    with mock.patch("django.db.transaction.on_commit", side_effect=lambda func, *a, **k: func()):
        response = client.post(url, {"action": "replay_selected", "_selected_action": [failed.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 event(s) queued for replay." in response.content.decode()
    failed.refresh_from_db()
    untouched.refresh_from_db()
    assert failed.state == State.PROCESSED
    assert untouched.state == State.FAILED


def test_admin_never_shows_a_tenant_member_the_events(client_member):
    response = client_member.get(reverse("admin:inbox_webhookevent_changelist"))
    assert response.status_code == 302  # to the admin login


# --- the periodic requeue -------------------------------------------------------------------------


def test_requeue_hands_stale_pending_events_to_a_worker(page, settings):
    settings.INBOX_WEBHOOK_REQUEUE_AFTER_SECONDS = 120
    now = timezone.now()
    stale = stored("message_text", received_at=now - timedelta(seconds=300))
    fresh = stored("postback", received_at=now - timedelta(seconds=30))
    done = stored("referral", state=State.PROCESSED, received_at=now - timedelta(hours=1))
    failed = stored("message_quick_reply", state=State.FAILED, received_at=now - timedelta(hours=1))

    # Nothing stale yet: no drain.
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async") as apply_async:
        WebhookEvent.objects.filter(pk=stale.pk).update(received_at=now)
        assert run_on_commit(webhook_events_requeue_stale) == 0
        apply_async.assert_not_called()
    WebhookEvent.objects.filter(pk=stale.pk).update(received_at=now - timedelta(seconds=300))

    # A stale event means its drain was lost: the drain it wakes applies every pending event.
    assert run_on_commit(webhook_events_requeue_stale) == 1
    assert WebhookEvent.objects.get(pk=stale.pk).state == State.PROCESSED
    assert WebhookEvent.objects.get(pk=fresh.pk).state == State.PROCESSED
    assert WebhookEvent.objects.get(pk=done.pk).state == State.PROCESSED
    assert WebhookEvent.objects.get(pk=failed.pk).state == State.FAILED
    assert ChatMessage.objects.count() == 2


def test_requeue_task_is_registered_under_the_beat_name(settings):
    from config.celery_app import app

    assert "inbox.tasks.webhook_events_requeue_stale" in app.tasks
    assert "inbox.tasks.attachments_retry_failed" in app.tasks
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"inbox.tasks.webhook_events_requeue_stale", "inbox.tasks.attachments_retry_failed"} <= beat


def test_requeue_survives_a_broker_that_is_still_down(page):
    stored("message_text", received_at=timezone.now() - timedelta(hours=1))
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async", side_effect=ConnectionError("down")):
        assert run_on_commit(webhook_events_requeue_stale) == 1
    assert WebhookEvent.objects.get().state == State.PENDING
