"""The inbox tasks leave retrying to Celery (config.tasks.RetryingTask): which failures are retried, after what."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from config.inprocess_tasks import InProcessTask
from config.tasks import RetryingTask
from inbox import tasks
from inbox.services import replies
from inbox.services.replies import ReplyRetryLater
from social.graph import GraphPermissionError, RateLimitError, TransientGraphError

pytestmark = pytest.mark.django_db


@pytest.fixture
def countdowns(monkeypatch):
    """The countdowns tasks hand to Celery's retry (which is not run: one try per test)."""
    seen: list[float | None] = []

    def retry(self, *args, countdown=None, **kwargs):
        seen.append(countdown)
        return Retry(exc=kwargs.get("exc"), when=countdown)

    monkeypatch.setattr(InProcessTask, "retry", retry)
    return seen


@pytest.mark.parametrize("name", ["webhook_events_drain", "webhook_event_process", "attachment_download",
                                  "contact_profile_fetch", "message_send"])
def test_the_tasks_that_may_meet_meta_or_a_database_down_share_one_retry_policy(name):
    task = getattr(tasks, name)
    assert isinstance(task, RetryingTask) and task.acks_late
    assert task.retry_backoff and task.retry_jitter and task.retry_backoff_max


def test_a_reply_is_retried_after_the_countdown_its_service_asked_for(monkeypatch, countdowns):
    def busy(*, message_id):
        raise ReplyRetryLater("Another worker is sending this reply.", countdown=replies.SEND_LEASE_SECONDS)

    monkeypatch.setattr(replies, "reply_deliver", busy)
    assert tasks.message_send.apply((1,)).state == "RETRY"
    assert countdowns == [replies.SEND_LEASE_SECONDS]


def test_a_reply_gives_up_after_the_last_retry(monkeypatch):
    given_up = []
    monkeypatch.setattr(replies, "reply_deliver", lambda *, message_id: (_ for _ in ()).throw(
        ReplyRetryLater("Meta is not answering", countdown=0)))
    monkeypatch.setattr(replies, "reply_give_up", lambda *, message_id, error: given_up.append((message_id, error)))
    assert tasks.message_send.apply((7,)).result == "failed"  # eager: every retry at once, then the give-up
    assert given_up == [(7, "Meta is not answering")]


def test_a_drain_deadlock_goes_again_at_once_and_a_database_outage_backs_off(monkeypatch, countdowns):
    import inbox.ingest.drain as drain

    errors = [OperationalError("deadlock detected"), OperationalError("server closed the connection")]

    def failing(**kwargs):
        raise errors.pop(0)

    monkeypatch.setattr(drain, "webhook_events_drain", failing)
    assert tasks.webhook_events_drain.apply().state == "RETRY"
    assert tasks.webhook_events_drain.apply().state == "RETRY"
    assert countdowns[0] == 0
    assert 0 <= countdowns[1] <= tasks.webhook_events_drain.retry_backoff * 2
    assert tasks.webhook_events_drain.max_retries is None  # the requeue task would wake one anyway


@pytest.mark.parametrize(("error", "retried"), [
    (TransientGraphError("Meta is down"), True),
    (RateLimitError("slow down", retry_after=600), True),
    (OperationalError("the database is restarting"), True),
    (GraphPermissionError("no"), False),
    (ValueError("a bug"), False),
])
def test_a_profile_lookup_retries_what_may_get_better_and_records_the_rest(
        monkeypatch, countdowns, page, error, retried):
    import inbox.services.contacts as contacts
    from inbox.models import Contact
    from inbox.tests.factories import ContactFactory

    contact = ContactFactory(account=page)

    def failing(*, contact):
        raise error

    monkeypatch.setattr(contacts, "contact_profile_fetch", failing)
    result = tasks.contact_profile_fetch.apply((contact.pk,))
    contact.refresh_from_db()
    if retried:
        assert result.state == "RETRY" and contact.profile_state != Contact.ProfileState.FAILED
        if isinstance(error, RateLimitError):
            assert countdowns == [600]  # Meta's wait, not our backoff
    else:
        assert result.successful() and countdowns == []
        assert contact.profile_state == Contact.ProfileState.FAILED
