"""The webhook on the embedded default with tasks on background threads (config/inprocess_tasks.py).

Meta waits for the 200 at most 20 s and disables a subscription that keeps timing out, so applying
the event, and above all a profile lookup waiting on the network, must happen after the answer.
Every check here waits on events the patched services signal: the test and the task threads never
use the (shared in-memory) test database at the same time.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings

from config.celery_app import app
from config.inprocess_tasks import runner_start, runner_stop
from inbox.ingest.wake import webhook_events_wake
from inbox.models import ChatMessage, Contact, WebhookEvent
from inbox.tests.helpers import PAGE_ID, PROFILE, sign_payload, webhook_url
from sandbox import payloads

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5.0


@pytest.fixture
def runner(settings, transactional_db):
    settings.TASKS_IN_BACKGROUND_THREAD = True
    busy_gate.clear()
    started = runner_start()
    yield started
    busy_gate.set()
    runner_stop()


busy_gate = threading.Event()


@app.task(name="config.tests.block")
def block() -> None:
    busy_gate.wait(WAIT)


class Drains:
    """Wraps the drain service: it can be held before it touches the database, and it counts runs."""

    def __init__(self, monkeypatch) -> None:
        import inbox.ingest.drain as service

        self.hold = threading.Event()
        self.hold.set()
        self.applied = threading.Semaphore(0)
        self.threads: list[str] = []
        real = service.webhook_events_drain

        def drain(*args, **kwargs):
            self.threads.append(threading.current_thread().name)
            self.hold.wait(WAIT)
            try:
                return real(*args, **kwargs)
            finally:
                self.applied.release()

        monkeypatch.setattr(service, "webhook_events_drain", drain)

    def wait(self) -> None:
        assert self.applied.acquire(timeout=WAIT), "no drain ran"


@pytest.fixture
def drains(monkeypatch):
    return Drains(monkeypatch)


@pytest.fixture
def slow_profiles(monkeypatch):
    """A profile lookup that hangs until released (Meta not answering)."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def user_profile(client, *, user_id: str, platform: str) -> dict:
        started.release()
        release.wait(WAIT)
        return dict(PROFILE, id=user_id)

    monkeypatch.setattr("social.graph.GraphClient.user_profile", user_profile)
    yield release, started
    release.set()


def post(client, *, psid: str, text: str):
    body = payloads.encode(payloads.envelope(object_type="page", entries=[
        payloads.entry(account_id=PAGE_ID, events=[payloads.text_message(page_id=PAGE_ID, psid=psid, text=text)]),
    ]))
    started = time.monotonic()
    response = client.post(webhook_url(), data=body, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=sign_payload(body))
    return response, time.monotonic() - started


def test_the_answer_comes_before_the_event_is_applied_and_it_is_applied_right_after(client, page, runner, drains,
                                                                                     slow_profiles):
    release_profiles, _ = slow_profiles
    release_profiles.set()
    drains.hold.clear()
    response, _ = post(client, psid="7000000000000101", text="Is the shop open today?")
    assert response.status_code == 200
    # Answered while the drain is still held: the request did not apply the event.
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PENDING
    assert not ChatMessage.objects.exists()
    drains.hold.set()
    drains.wait()
    assert runner.wait_idle(WAIT)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.get().content == "Is the shop open today?"
    assert drains.threads == ["tasks-live-0"]


def test_a_hanging_profile_lookup_delays_neither_the_answer_nor_the_next_message(client, page, runner, drains,
                                                                               slow_profiles):
    release_profiles, lookups_started = slow_profiles
    first, elapsed_first = post(client, psid="7000000000000201", text="First customer")
    drains.wait()
    assert lookups_started.acquire(timeout=WAIT)  # the new customer's lookup now hangs
    second, elapsed_second = post(client, psid="7000000000000202", text="Second customer")
    drains.wait()
    assert lookups_started.acquire(timeout=WAIT)  # and so does the next one, on another thread
    assert first.status_code == second.status_code == 200
    assert elapsed_first < 1 and elapsed_second < 1
    # Both messages are in while both lookups still hang.
    assert set(ChatMessage.objects.values_list("content", flat=True)) == {"First customer", "Second customer"}
    assert set(Contact.objects.values_list("profile_state", flat=True)) == {Contact.ProfileState.PENDING}
    release_profiles.set()
    assert runner.wait_idle(WAIT)
    assert set(Contact.objects.values_list("profile_state", flat=True)) == {Contact.ProfileState.FETCHED}


def test_a_hanging_lookup_on_every_background_thread_still_lets_messages_through(client, page, runner, drains,
                                                                               slow_profiles):
    release_profiles, lookups_started = slow_profiles
    threads = len(runner.lanes[runner.default_lane]._threads)
    for n in range(threads + 2):
        response, elapsed = post(client, psid=f"70000000000003{n:02d}", text=f"Message {n}")
        assert response.status_code == 200 and elapsed < 1
        drains.wait()
    assert ChatMessage.objects.count() == threads + 2
    release_profiles.set()
    assert runner.wait_idle(WAIT)
    assert Contact.objects.filter(profile_state=Contact.ProfileState.FETCHED).count() == threads + 2


def test_events_left_pending_at_stop_are_applied_at_the_next_start(client, page, runner, drains, slow_profiles):
    slow_profiles[0].set()
    block.apply_async((), queue="live")  # the live lane is busy when the webhook arrives
    response, _ = post(client, psid="7000000000000401", text="Sent while the server stops")
    assert response.status_code == 200
    threading.Timer(0.2, busy_gate.set).start()
    # The drain is abandoned (with whatever else was still queued on a loaded machine, e.g. a second wake).
    assert runner.stop(timeout=WAIT) >= 1
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PENDING

    runner_stop()
    restarted = runner_start()
    webhook_events_wake(force=True)  # as `manage.py runserver` does at start
    drains.wait()
    assert restarted.wait_idle(WAIT)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.get().content == "Sent while the server stops"


def test_the_unit_test_settings_keep_tasks_in_the_request():
    assert settings.CELERY_TASK_ALWAYS_EAGER
    assert not getattr(settings, "TASKS_IN_BACKGROUND_THREAD", False)
