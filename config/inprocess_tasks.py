"""Celery tasks of the embedded default, run in this process after the response (docs/serving.md).

Without a broker (``CELERY_TASK_ALWAYS_EAGER``) Celery runs a task inside the call to ``.delay()``:
inside the webhook's request, a profile lookup and its retry sleeps would hold Meta's answer for
seconds. When ``TASKS_IN_BACKGROUND_THREAD`` is on and a server started a runner (``runner_start``,
done by ``manage.py runserver``), ``InProcessTask.apply_async`` queues the eager run on background
threads instead, once the caller's transaction has committed:

- one lane per Celery queue, as the workers of production take them: ``live`` (applying webhooks,
  sending replies) has one thread, so events apply in order and never wait behind the ``celery``
  lane's lookups and downloads, which wait on the network and have a few threads of their own;
- a retry with a countdown is put back on its lane for later, never slept in a thread;
- every task closes the database connections it opened; a failing task is logged and the lane
  goes on;
- stopping abandons what is still queued: every task is idempotent and recoverable (a webhook event
  stays pending and is drained at the next start or by the requeue task), as with a killed worker.

Management commands and the unit tests start no runner: their tasks stay synchronous and eager, and
a task with no retry cap (the drain) gets ``IN_PLACE_MAX_RETRIES`` retries there, since Celery runs
each one at once.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from celery.utils import uuid
from kombu import serialization

logger = logging.getLogger(__name__)

LIVE_QUEUE = "live"
# Threads per lane; a queue not named here runs on the default lane.
LANE_THREADS = {LIVE_QUEUE: 1}
DEFAULT_LANE = "celery"
# Lookups against the sandbox are served by the same server's one thread for sync views: more
# threads here would only queue there, in front of webhook answers.
DEFAULT_LANE_THREADS = 2
STOP_WAIT_SECONDS = 5.0
# Tries a task without a retry cap gets when it runs in place (no broker and no runner: management
# commands, the unit tests), where Celery follows a retry at once, without its countdown.
IN_PLACE_MAX_RETRIES = 3


@dataclass(order=True)
class Job:
    due: float
    seq: int
    task_name: str = field(compare=False)
    args: tuple = field(compare=False, default=())
    kwargs: dict = field(compare=False, default_factory=dict)
    task_id: str = field(compare=False, default="")
    retries: int = field(compare=False, default=0)
    # Set for the periodic entries of CELERY_BEAT_SCHEDULE: run again this many seconds later.
    every: float | None = field(compare=False, default=None)


_in_lane = threading.local()


def current_lane() -> str | None:
    """The lane of this thread when it is a runner's (where a retry is queued, not run again at once)."""
    return getattr(_in_lane, "lane", None)


class Lane:
    """Jobs due at a time, run by ``threads`` threads in due order."""

    def __init__(self, name: str, threads: int, run: Callable[[Job], None]) -> None:
        self.name = name
        self._run = run
        self._heap: list[Job] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._running = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"tasks-{name}-{n}", daemon=True) for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def put(self, job: Job) -> bool:
        with self._cond:
            if self._stopping:
                return False
            heapq.heappush(self._heap, job)
            self._cond.notify()
            return True

    def idle(self) -> bool:
        """Nothing running and nothing queued (a periodic entry waiting for its next run does not count)."""
        with self._cond:
            return not self._running and not any(job.every is None for job in self._heap)

    def stop(self) -> int:
        """Refuse new jobs and drop the queued ones; returns how many were dropped (periodic ones excluded)."""
        with self._cond:
            self._stopping = True
            dropped = sum(1 for job in self._heap if job.every is None)
            self._heap.clear()
            self._cond.notify_all()
            return dropped

    def join(self, deadline: float) -> bool:
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._stopping:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        self._running += 1
                        return heapq.heappop(self._heap)
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _work(self) -> None:
        from django.db import connections

        _in_lane.lane = self.name
        try:
            while (job := self._next()) is not None:
                try:
                    self._run(job)
                finally:
                    with self._cond:
                        self._running -= 1
                        self._cond.notify_all()
        finally:
            connections.close_all()  # this thread's connections only


class Runner:
    def __init__(self, *, lane_threads: dict[str, int] | None = None, default_lane: str = DEFAULT_LANE,
                 default_threads: int = DEFAULT_LANE_THREADS) -> None:
        threads = {default_lane: default_threads, **(lane_threads if lane_threads is not None else LANE_THREADS)}
        self.default_lane = default_lane
        self.lanes = {name: Lane(name, count, self._run) for name, count in threads.items()}
        self._seq = itertools.count()
        self._stopped = False

    def start(self) -> Runner:
        for lane in self.lanes.values():
            lane.start()
        return self

    def lane_for(self, queue: str | None) -> Lane:
        return self.lanes.get(queue or "", self.lanes[self.default_lane])

    def submit(self, task_name: str, args: tuple = (), kwargs: dict | None = None, *, queue: str | None = None,
               task_id: str | None = None, retries: int = 0, delay: float = 0.0, every: float | None = None) -> bool:
        """Queue one run; False when the runner is stopping (the work is recovered as after a restart)."""
        job = Job(
            due=time.monotonic() + max(0.0, delay), seq=next(self._seq), task_name=task_name, args=tuple(args or ()),
            kwargs=dict(kwargs or {}), task_id=task_id or uuid(), retries=retries, every=every,
        )
        if self.lane_for(queue).put(job):
            return True
        logger.warning("Task %s[%s] not queued: the in-process runner is stopping", task_name, job.task_id)
        return False

    def schedule_periodic(self, schedule: dict[str, dict]) -> int:
        """Run the CELERY_BEAT_SCHEDULE entries given in seconds, as beat would; returns how many."""
        from celery import current_app

        count = 0
        for entry in schedule.values():
            seconds = entry.get("schedule")
            if isinstance(seconds, timedelta):
                seconds = seconds.total_seconds()
            if not isinstance(seconds, int | float) or seconds <= 0:
                continue  # crontab entries need beat
            task = current_app.tasks.get(entry["task"])
            queue = _queue_name(task, entry.get("options") or {}) if task is not None else None
            self.submit(entry["task"], entry.get("args") or (), entry.get("kwargs") or {}, queue=queue,
                        delay=float(seconds), every=float(seconds))
            count += 1
        return count

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no lane runs or holds a job (retries included); True if that happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(lane.idle() for lane in self.lanes.values()):
                return True
            time.sleep(0.01)
        return all(lane.idle() for lane in self.lanes.values())

    def stop(self, timeout: float = STOP_WAIT_SECONDS) -> int:
        """Drop queued jobs, let running ones finish for up to ``timeout`` seconds; returns how many were dropped."""
        if self._stopped:
            return 0
        self._stopped = True
        dropped = sum(lane.stop() for lane in self.lanes.values())
        deadline = time.monotonic() + timeout
        joined = [lane.join(deadline) for lane in self.lanes.values()]  # every lane, no short cut
        finished = all(joined)
        if dropped:
            logger.warning("In-process tasks: %d queued task(s) abandoned at stop; pending webhook events are "
                           "applied at the next start", dropped)
        if not finished:
            logger.warning("In-process tasks: a task was still running %.0f s after the stop", timeout)
        return dropped

    def _run(self, job: Job) -> None:
        from celery import current_app
        from django.db import close_old_connections, reset_queries

        # As Celery's worker does around each task: a connection past CONN_MAX_AGE (at once on
        # SQLite) or broken is closed, so none outlives its use in a thread without requests.
        close_old_connections()
        reset_queries()  # DEBUG's query log, which a request would reset
        try:
            task = current_app.tasks[job.task_name]
            result = task.apply(job.args, job.kwargs, task_id=job.task_id, retries=job.retries, throw=False)
            if result.failed():
                # Celery's tracer has logged the traceback; this says where it ran.
                logger.warning("In-process task %s[%s] failed", job.task_name, job.task_id)
        except Exception:
            logger.exception("In-process task %s[%s] could not run", job.task_name, job.task_id)
        finally:
            close_old_connections()
        if job.every is not None:
            self.submit(job.task_name, job.args, job.kwargs, queue=current_lane(), delay=job.every, every=job.every)


_lock = threading.Lock()
_runner: Runner | None = None


def runner_start(*, periodic: dict[str, dict] | None = None, **kwargs: Any) -> Runner:
    """Start this process's runner (idempotent); from now on tasks queue on it when the setting is on."""
    global _runner
    with _lock:
        if _runner is None:
            from celery import current_app

            # As a worker does at start: import every app's `tasks` module (Celery's autodiscovery), so
            # each periodic entry finds its task whatever the process happened to import before.
            current_app.loader.import_default_modules()
            _runner = Runner(**kwargs).start()
            if periodic:
                _runner.schedule_periodic(periodic)
            atexit.register(runner_stop)
        return _runner


def runner_stop(timeout: float = STOP_WAIT_SECONDS) -> int:
    global _runner
    with _lock:
        runner, _runner = _runner, None
    return runner.stop(timeout) if runner is not None else 0


def current_runner() -> Runner | None:
    """The runner tasks go to, or None: run them as Celery would (a broker, or eagerly in place)."""
    from django.conf import settings

    if _runner is None or not getattr(settings, "TASKS_IN_BACKGROUND_THREAD", False):
        return None
    if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return None
    return _runner


def _queue_name(task: Task, options: dict) -> str | None:
    queue = options.get("queue")
    if queue is None:
        try:
            queue = task.app.amqp.router.route(options, task.name).get("queue")
        except Exception:  # an unusual router: the default lane
            return None
    return getattr(queue, "name", queue)


def _delay_seconds(countdown: float | None, eta: datetime | str | None) -> float:
    if countdown is not None:
        return float(countdown)
    if eta is None:
        return 0.0
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    when = parse_datetime(eta) if isinstance(eta, str) else eta
    if when is None:
        return 0.0
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return max(0.0, (when - timezone.now()).total_seconds())


class InProcessTask(Task):
    """The project's Celery task class (``Celery(task_cls=...)``): unchanged unless a runner is on."""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        runner = current_runner()
        if runner is None:
            return super().apply_async(args, kwargs, task_id=task_id, producer=producer, link=link,
                                       link_error=link_error, shadow=shadow, **options)
        from django.db import transaction

        # Through the serializer, as a broker would: the task gets copies, and what could not be
        # sent fails here, in the caller, as in production.
        content_type, encoding, data = serialization.dumps((args or (), kwargs or {}), self.app.conf.task_serializer)
        args, kwargs = serialization.loads(data, content_type, encoding, accept=[content_type])
        task_id = task_id or uuid()
        job = {
            "args": args, "kwargs": kwargs, "task_id": task_id, "retries": options.get("retries") or 0,
            "queue": _queue_name(self, options), "delay": _delay_seconds(options.get("countdown"), options.get("eta")),
        }
        # After the caller's transaction commits: the task must see its rows, and nothing runs for
        # a transaction that rolls back.
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: runner.submit(self.name, **job))
        else:
            runner.submit(self.name, **job)
        return self.AsyncResult(task_id)

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None,
              **options):
        # Eagerly, Celery runs the retry again at once (Task.apply follows Retry.sig); in a runner
        # thread it is queued for its countdown instead, and apply() sees no signature to follow.
        limit = self.max_retries if max_retries is None else max_retries
        if (limit is None and self.request.is_eager and current_lane() is None
                and self.request.retries >= IN_PLACE_MAX_RETRIES):
            # Run in place, a retry cannot wait: one without a cap would repeat at once, down to
            # Python's recursion limit (the drain with the database down: 20 s of CPU). The error
            # ends the task, as at a cap. (Not by passing max_retries on: Celery keeps that on the
            # task object, for every later call in this process.)
            if exc is not None:
                raise exc
            raise self.MaxRetriesExceededError(f"{self.name}: no retry cap, run in place")
        ret = super().retry(args=args, kwargs=kwargs, exc=exc, throw=False, eta=eta, countdown=countdown,
                            max_retries=max_retries, **options)
        if current_lane() is not None and ret.sig is not None:
            sig, ret.sig = ret.sig, None
            runner, sig_options = current_runner(), sig.options
            # Back on the lane it came from, as a worker retries to the task's own queue.
            queued = runner is not None and runner.submit(
                self.name, tuple(sig.args), dict(sig.kwargs), queue=current_lane(),
                task_id=sig_options.get("task_id"), retries=sig_options.get("retries") or 0,
                delay=_delay_seconds(sig_options.get("countdown"), sig_options.get("eta")),
            )
            if not queued:
                logger.warning("Retry of %s[%s] dropped: the in-process runner has stopped", self.name,
                               self.request.id)
        if throw:
            raise ret
        return ret
