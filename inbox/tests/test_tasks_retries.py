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


# --- one task for a batch's new customers -------------------------------------------------------------


@pytest.fixture
def handed_over(monkeypatch):
    """What the batch lookup hands over to lookups of their own: (task, args, options)."""
    import config.tasks

    queued: list[tuple[str, tuple, dict]] = []
    monkeypatch.setattr(config.tasks, "enqueue", lambda name, *args, **options: queued.append((name, args, options)))
    return queued


@pytest.fixture
def profiles(monkeypatch):
    """Each contact's lookup answers what ``answers[contact.pk]`` says (an error is raised); records the calls."""
    import inbox.services.contacts as contacts
    from inbox.models import Contact

    answers: dict[int, object] = {}
    asked: list[int] = []

    def fetch(*, contact):
        asked.append(contact.pk)
        answer = answers.get(contact.pk)
        if isinstance(answer, Exception):
            raise answer
        Contact.objects.filter(pk=contact.pk).update(profile_state=Contact.ProfileState.FETCHED)
        return contact

    monkeypatch.setattr(contacts, "contact_profile_fetch", fetch)
    return answers, asked


def _states(contacts) -> list[str]:
    for contact in contacts:
        contact.refresh_from_db()
    return [contact.profile_state for contact in contacts]


def test_a_batch_lookup_hands_a_failure_that_may_pass_to_a_lookup_of_its_own_and_goes_on(
        page, profiles, handed_over):
    from inbox.models import Contact
    from inbox.tests.factories import ContactFactory

    answers, asked = profiles
    contacts = [ContactFactory(account=page, profile_state=Contact.ProfileState.PENDING) for _ in range(4)]
    answers[contacts[1].pk] = TransientGraphError("Meta is down")
    answers[contacts[2].pk] = GraphPermissionError("no")

    assert tasks.contact_profiles_fetch.apply(([c.pk for c in contacts],)).successful()
    assert asked == [c.pk for c in contacts]
    F, P, X = Contact.ProfileState.FETCHED, Contact.ProfileState.PENDING, Contact.ProfileState.FAILED
    assert _states(contacts) == [F, P, X, F]  # the permanent failure recorded, the transient one not yet
    assert len(handed_over) == 1
    name, args, options = handed_over[0]
    assert (name, args, options["retries"]) == ("inbox.tasks.contact_profile_fetch", (contacts[1].pk,), 1)
    assert 0 <= options["countdown"] <= tasks.contact_profiles_fetch.retry_backoff


def test_a_rate_limit_hands_over_the_contacts_not_asked_yet_after_metas_wait(page, profiles, handed_over):
    from inbox.models import Contact
    from inbox.tests.factories import ContactFactory

    answers, asked = profiles
    contacts = [ContactFactory(account=page, profile_state=Contact.ProfileState.PENDING) for _ in range(3)]
    answers[contacts[1].pk] = RateLimitError("slow down", retry_after=600)

    assert tasks.contact_profiles_fetch.apply(([c.pk for c in contacts],)).successful()
    assert asked == [contacts[0].pk, contacts[1].pk]  # no more calls into a rate limit
    assert [(args, options["retries"], options["countdown"]) for _, args, options in handed_over] == [
        ((contacts[1].pk,), 1, 600), ((contacts[2].pk,), 1, 600),
    ]


def test_a_batch_lookup_meeting_the_database_down_is_retried_whole(page, profiles, handed_over, countdowns):
    from inbox.models import Contact
    from inbox.tests.factories import ContactFactory

    answers, _asked = profiles
    contacts = [ContactFactory(account=page, profile_state=Contact.ProfileState.PENDING) for _ in range(2)]
    answers[contacts[1].pk] = OperationalError("the database is restarting")

    assert tasks.contact_profiles_fetch.apply(([c.pk for c in contacts],)).state == "RETRY"
    assert handed_over == [] and len(countdowns) == 1
    assert _states(contacts)[1] == Contact.ProfileState.PENDING


def test_a_long_batch_lookup_leaves_the_rest_to_the_next_task(monkeypatch, page, profiles):
    """A worker given both queues takes drains first only between tasks: a long list must not hold it."""
    from inbox.models import Contact
    from inbox.tests.factories import ContactFactory

    _answers, asked = profiles
    queued: list[tuple[str, tuple]] = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *args, **options: queued.append((name, args)))
    monkeypatch.setattr(tasks, "PROFILE_LOOKUPS_SECONDS", 0)
    contacts = [ContactFactory(account=page, profile_state=Contact.ProfileState.PENDING) for _ in range(3)]

    assert tasks.contact_profiles_fetch.apply(([c.pk for c in contacts],)).successful()
    assert asked == [contacts[0].pk]  # always at least one lookup per task
    assert queued == [("inbox.tasks.contact_profiles_fetch", ([contacts[1].pk, contacts[2].pk],))]
