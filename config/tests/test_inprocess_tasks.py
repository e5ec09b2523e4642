"""The in-process task runner of the embedded default (config/inprocess_tasks.py).

The probe tasks below record what ran, in which thread, and can be held on a gate, so each test
proves an order of events rather than a timing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

import pytest
from django.db import connections, transaction

from config import inprocess_tasks
from config.celery_app import app
from config.inprocess_tasks import Runner, runner_start, runner_stop
from config.tasks import RetryingTask, RetryLater

WAIT = 5.0
runs: dict[str, list] = defaultdict(list)
gates: dict[str, threading.Event] = {}


def gate(name: str) -> threading.Event:
    gates[name] = threading.Event()
    return gates[name]


def wait_for(predicate, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@app.task(name="config.tests.probe")
def probe(name: str, hold: str | None = None) -> str:
    if hold is not None and not gates[hold].wait(WAIT):
        raise TimeoutError(f"gate {hold} never opened")
    runs[name].append(threading.current_thread().name)
    return name


@app.task(bind=True, name="config.tests.flaky", max_retries=3)
def flaky(self, name: str, failures: int, countdown: float) -> None:
    runs[name].append((self.request.retries, time.monotonic(), threading.current_thread().name))
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError("Meta is not answering"), countdown=countdown)


class MetaThrottles(RetryLater):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Meta asks us to wait")
        self.retry_after = retry_after


@app.task(bind=True, base=RetryingTask, name="config.tests.throttled", max_retries=2)
def throttled(self, name: str, failures: int, retry_after: int) -> None:
    # No hand-written retry: RetryingTask's autoretry takes the error's retry_after as countdown.
    runs[name].append((self.request.retries, time.monotonic(), threading.current_thread().name))
    if self.request.retries < failures:
        raise MetaThrottles(retry_after)


@app.task(bind=True, base=RetryingTask, name="config.tests.database_down", max_retries=None)
def database_down(self, name: str, failures: int) -> None:
    # As the drain: retried without a cap while the database is unavailable.
    from django.db import OperationalError

    runs[name].append(self.request.retries)
    if self.request.retries < failures:
        raise OperationalError("the database is down")


@app.task(name="config.tests.broken")
def broken(name: str) -> None:
    runs[name].append(threading.current_thread().name)
    raise ValueError("a bug in a task")


@app.task(name="config.tests.uses_database")
def uses_database(name: str) -> None:
    from django.contrib.sites.models import Site

    Site.objects.count()
    runs[name].append(connections["default"])


@pytest.fixture(autouse=True)
def _clean():
    runs.clear()
    gates.clear()
    yield
    for event in gates.values():
        event.set()


@pytest.fixture
def runner(settings):
    """The background mode of `manage.py runserver`; the unit-test settings keep tasks eager in place."""
    settings.TASKS_IN_BACKGROUND_THREAD = True
    started = runner_start(default_threads=2)
    yield started
    for event in gates.values():
        event.set()
    runner_stop()


def test_without_a_runner_tasks_run_eagerly_in_the_caller(settings):
    settings.TASKS_IN_BACKGROUND_THREAD = True  # the setting alone starts nothing (management commands)
    probe.delay("inline")
    assert runs["inline"] == [threading.current_thread().name]


def test_the_caller_gets_control_back_before_the_task_runs(runner):
    hold = gate("held")
    started = time.monotonic()
    result = probe.delay("later", hold="held")
    assert time.monotonic() - started < 1
    assert runs["later"] == []  # still held: .delay() did not run it in this thread
    assert result.id
    hold.set()
    assert runner.wait_idle(WAIT)
    assert len(runs["later"]) == 1 and runs["later"][0].startswith("tasks-celery-")


def test_queues_map_to_lanes_as_on_the_production_workers(runner):
    from inbox import tasks

    assert inprocess_tasks._queue_name(tasks.webhook_events_drain, {}) == "live"
    assert inprocess_tasks._queue_name(tasks.message_send, {}) == "live"
    assert inprocess_tasks._queue_name(tasks.contact_profile_fetch, {}) == "celery"
    assert inprocess_tasks._queue_name(tasks.attachment_download, {}) == "celery"
    assert runner.lane_for("live").name == "live"
    assert runner.lane_for("celery").name == "celery"
    assert runner.lane_for("unknown").name == "celery"


def test_a_hanging_background_task_never_delays_the_live_lane(runner):
    gate("lookup")
    probe.apply_async(("lookup-1",), {"hold": "lookup"}, queue="celery")
    probe.apply_async(("lookup-2",), {"hold": "lookup"}, queue="celery")  # both background threads busy
    for n in range(3):
        probe.apply_async((f"message-{n}",), queue="live")
    assert wait_for(lambda: all(runs[f"message-{n}"] for n in range(3)))
    assert runs["lookup-1"] == runs["lookup-2"] == []
    assert {runs[f"message-{n}"][0] for n in range(3)} == {"tasks-live-0"}


def test_live_tasks_run_one_at_a_time_in_order(runner):
    hold = gate("first")
    probe.apply_async(("first",), {"hold": "first"}, queue="live")
    probe.apply_async(("second",), queue="live")
    time.sleep(0.2)
    assert runs["second"] == []  # behind the first, as on a one-process `live` worker
    hold.set()
    assert wait_for(lambda: runs["second"])


def test_a_retry_waits_its_countdown_on_the_lane_without_holding_a_thread(runner):
    flaky.apply_async(("flaky", 2, 0.4), queue="live")
    assert wait_for(lambda: len(runs["flaky"]) == 1)
    probe.apply_async(("meanwhile",), queue="live")  # the only live thread is free during the countdown
    assert wait_for(lambda: runs["meanwhile"], timeout=0.3)
    assert len(runs["flaky"]) == 1
    assert wait_for(lambda: len(runs["flaky"]) == 3)
    (r0, t0, thread0), (r1, t1, thread1), (r2, t2, thread2) = runs["flaky"]
    assert (r0, r1, r2) == (0, 1, 2)
    assert thread0 == thread1 == thread2 == "tasks-live-0"  # retried on the lane it came from
    assert t1 - t0 >= 0.35 and t2 - t1 >= 0.35


def test_an_autoretry_waits_meta_s_retry_after_on_the_lane_not_inline(runner, monkeypatch):
    # The wait is whole seconds: shorten the clock of the lane's countdown instead of the test.
    monkeypatch.setattr(inprocess_tasks, "_delay_seconds", lambda countdown, eta: (countdown or 0) / 10)
    throttled.apply_async(("throttled", 1, 4), queue="live")
    assert wait_for(lambda: len(runs["throttled"]) == 1)
    probe.apply_async(("meanwhile",), queue="live")  # the lane's thread is free during the countdown
    assert wait_for(lambda: runs["meanwhile"], timeout=0.3)
    assert len(runs["throttled"]) == 1
    assert wait_for(lambda: len(runs["throttled"]) == 2)
    (r0, t0, thread0), (r1, t1, thread1) = runs["throttled"]
    assert (r0, r1) == (0, 1) and thread0 == thread1 == "tasks-live-0"
    assert t1 - t0 >= 0.35  # retry_after=4 s, scaled by 1/10


def test_an_autoretry_stops_at_max_retries(runner, monkeypatch):
    # Backoff with jitter (up to 2 s, then 4 s here), scaled down.
    monkeypatch.setattr(inprocess_tasks, "_delay_seconds", lambda countdown, eta: (countdown or 0) / 100)
    throttled.apply_async(("always", 99, 0), queue="live")
    assert wait_for(lambda: len(runs["always"]) == 3)  # the first run + max_retries=2
    assert runner.wait_idle(WAIT)
    time.sleep(0.1)
    assert len(runs["always"]) == 3


def test_eagerly_an_autoretry_runs_again_at_once_up_to_max_retries():
    # The unit tests' mode (no runner): Celery follows the retry in place, without waiting.
    started = time.monotonic()
    result = throttled.apply(("eager", 99, 60))
    assert result.failed() and isinstance(result.result, MetaThrottles)
    assert [retries for retries, _, _ in runs["eager"]] == [0, 1, 2]
    assert time.monotonic() - started < 5


def test_in_place_a_task_without_a_retry_cap_gets_a_few_tries_not_a_recursion():
    # Celery would follow its retries at once down to Python's recursion limit (~20 s of CPU).
    from django.db import OperationalError

    result = database_down.apply(("in place", 10_000))
    assert result.failed() and isinstance(result.result, OperationalError)
    assert runs["in place"] == list(range(inprocess_tasks.IN_PLACE_MAX_RETRIES + 1))


def test_on_a_runner_lane_a_task_without_a_retry_cap_keeps_retrying(runner, monkeypatch):
    monkeypatch.setattr(inprocess_tasks, "_delay_seconds", lambda countdown, eta: 0.0)
    tries = inprocess_tasks.IN_PLACE_MAX_RETRIES + 3
    database_down.apply_async(("on a lane", tries - 1), queue="live")
    assert wait_for(lambda: len(runs["on a lane"]) == tries)
    assert runs["on a lane"] == list(range(tries))


def test_retries_stop_at_max_retries_and_are_logged(runner, caplog):
    caplog.set_level(logging.INFO)
    flaky.apply_async(("forever", 99, 0.01), queue="live")
    assert wait_for(lambda: len(runs["forever"]) == 4)  # the first run + max_retries=3
    assert runner.wait_idle(WAIT)
    time.sleep(0.1)
    assert len(runs["forever"]) == 4
    assert {thread for _, _, thread in runs["forever"]} == {"tasks-live-0"}
    assert any("config.tests.flaky" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)


def test_a_failing_task_is_logged_and_the_lane_goes_on(runner, caplog):
    broken.apply_async(("broken",), queue="live")
    probe.apply_async(("after",), queue="live")
    assert wait_for(lambda: runs["after"])
    assert runs["broken"] == runs["after"] == ["tasks-live-0"]  # the same thread went on
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("config.tests.broken" in m and "a bug in a task" in m for m in messages), messages


def test_an_unknown_task_is_logged_and_the_lane_goes_on(runner, caplog):
    runner.submit("config.tests.no_such_task", queue="live")
    probe.apply_async(("after",), queue="live")
    assert wait_for(lambda: runs["after"])
    assert any("config.tests.no_such_task" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_arguments_go_through_the_serializer_as_with_a_broker(runner):
    with pytest.raises(Exception, match="JSON serializable|not serializable"):
        probe.delay(object())
    assert runner.wait_idle(WAIT)
    assert dict(runs) == {}


def test_stop_abandons_queued_tasks_and_lets_the_running_one_finish(runner):
    hold = gate("running")
    probe.apply_async(("running",), {"hold": "running"}, queue="live")
    assert wait_for(lambda: not runner.lanes["live"].idle())
    for n in range(3):
        probe.apply_async((f"queued-{n}",), queue="live")
    flaky.apply_async(("retrying", 1, 30), queue="celery")  # its retry waits on the lane
    assert wait_for(lambda: len(runs["retrying"]) == 1)
    threading.Timer(0.2, hold.set).start()
    assert runner.stop(timeout=WAIT) == 4  # three queued, one retry
    assert runs["running"]  # finished, not killed
    assert all(runs[f"queued-{n}"] == [] for n in range(3))
    assert runner.submit("config.tests.probe", ("too-late",)) is False


def test_after_the_runner_stopped_tasks_run_eagerly_again(runner):
    runner_stop()
    probe.delay("after-stop")
    assert runs["after-stop"] == [threading.current_thread().name]


def test_periodic_entries_run_every_interval():
    runner = Runner(default_threads=1).start()
    try:
        count = runner.schedule_periodic({
            "tick": {"task": "config.tests.probe", "schedule": 0.1, "args": ("tick",)},
            "nightly": {"task": "config.tests.probe", "schedule": object(), "args": ("crontab",)},
        })
        assert count == 1
        assert wait_for(lambda: len(runs["tick"]) >= 3)
        assert runs["crontab"] == []
    finally:
        runner.stop(timeout=WAIT)


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_a_transaction_starts_after_commit(runner):
    with transaction.atomic():
        probe.delay("committed")
        time.sleep(0.2)
        assert runs["committed"] == []
    assert wait_for(lambda: runs["committed"])


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_a_rolled_back_transaction_never_runs(runner):
    with pytest.raises(RuntimeError), transaction.atomic():
        probe.delay("rolled-back")
        raise RuntimeError
    assert runner.wait_idle(WAIT)
    assert runs["rolled-back"] == []


@pytest.mark.django_db(transaction=True)
def test_database_connections_are_closed_around_every_task(runner, monkeypatch):
    import django.db

    calls = []
    real = django.db.close_old_connections
    monkeypatch.setattr(django.db, "close_old_connections", lambda: (calls.append(1), real()))
    uses_database.delay("db")
    assert runner.wait_idle(WAIT)
    assert len(runs["db"]) == 1
    assert len(calls) == 2  # before and after the task
    wrapper = runs["db"][0]
    if not getattr(wrapper, "is_in_memory_db", lambda: False)():  # SQLite's shared in-memory test database is never closed
        assert wrapper.connection is None


def test_every_periodic_entry_names_a_task_the_runner_knows(runner, settings):
    """runserver imports no `tasks` module by itself: starting the runner registers them all, as a worker does."""
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, f"{entry['task']} is not registered where the in-process runner looks"
