"""Fixtures of the integration tier: a real Celery worker, a cuttable PostgreSQL link, a private Redis.

These tests run only when DATABASE_URL points at PostgreSQL and REDIS_URL is set (``scripts/test.sh``
runs them as ``pytest -m integration`` in their own process). The worker is a subprocess
(``celery -A config worker``) against the pytest-django test database; the test process itself
publishes to the same Redis broker (Redis DB 11), so ``.delay()`` and the webhook's enqueue go through
a real broker. Every process started here is killed with its whole process group on teardown.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import kombu.pools
import pytest

from config.tests.log_guard import find_secret

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CELERY = Path(sys.executable).parent / "celery"
BROKER_DB = 11
PRIVATE_REDIS_PORT = 16399
WORKER_APP_PREFIX = "reliab-worker"
# Where a worker's Graph calls go unless a test points it at the sandbox: a closed port, so a profile
# lookup fails at once (and is retried later) instead of hanging.
UNREACHABLE_GRAPH_URL = "http://127.0.0.1:9/sandbox/graph/v25.0"
DEFAULT_TIMEOUT = 30.0


def integration_unavailable() -> str | None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return "the integration tier needs DATABASE_URL pointing at PostgreSQL"
    if not os.environ.get("REDIS_URL"):
        return "the integration tier needs REDIS_URL"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = integration_unavailable()
    if reason is None:
        return
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


# --- polling ----------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.1,
             message: str = "a condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {timeout:.0f} s waiting for {message} (last value {value!r})\n{_diagnostics()}"
            )
        time.sleep(interval)


# Workers of the running test, so a timeout can show what they were doing.
_ACTIVE_WORKERS: list[CeleryWorker] = []


def _diagnostics() -> str:
    lines = []
    for worker in _ACTIVE_WORKERS:
        state = "running" if worker.running else f"exited ({worker.process.returncode if worker.process else '-'})"
        tail = "\n".join(worker.log().splitlines()[-25:])
        lines.append(f"--- worker {worker.name} ({state}), last lines of its log ---\n{tail}")
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(broker_url_from_env(), socket_timeout=2)
        lines.append(f"--- broker: queue 'celery' {client.llen('celery')} message(s), unacked {client.hlen('unacked')}, "
                     f"bindings {sorted(client.smembers('_kombu.binding.celery'))}")
    return "\n".join(lines)


def redis_url(*, host: str, port: int, db: int) -> str:
    return f"redis://{host}:{port}/{db}"


def broker_url_from_env() -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return redis_url(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, db=BROKER_DB)


def redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5).flushdb()


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


# --- a TCP proxy that can be cut ------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses new ones.

    While cut, a connection is accepted and closed at once, which PostgreSQL clients see as the
    server going away ("server closed the connection unexpectedly").
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._blackhole = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.forwarded = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._blackhole.is_set():
                # A peer that accepts and then never answers (a hung server, a dropped route).
                with self._lock:
                    self._sockets.add(client)
                continue
            if not self._up.is_set():
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.forwarded += 1
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(target)
            _close(source)
            _close(target)

    def cut(self) -> None:
        """Drop every connection; new ones are closed at once (a stopped server)."""
        self._up.clear()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close(sock)

    def hang(self) -> None:
        """Drop every connection; new ones are accepted and then never answered."""
        self.cut()
        self._blackhole.set()

    def restore(self) -> None:
        if self._blackhole.is_set():
            # Whoever still waits on a hung connection gets an error now, as when the peer finally gives up.
            self.cut()
            self._blackhole.clear()
        self._up.set()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        _close(self._listener)
        self._thread.join(timeout=5)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


# --- processes --------------------------------------------------------------------------------------


def _kill_group(process: subprocess.Popen, *, graceful: bool) -> None:
    if process.poll() is not None:
        return
    if graceful:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


# Every process group started here, killed at exit too in case a teardown never ran (pytest interrupted).
_STARTED: list[subprocess.Popen] = []


@atexit.register
def _kill_leftovers() -> None:
    for process in _STARTED:
        with contextlib.suppress(Exception):
            _kill_group(process, graceful=False)


def _spawn(command: list[str], **kwargs: Any) -> subprocess.Popen:
    process = subprocess.Popen(command, start_new_session=True, **kwargs)
    _STARTED.append(process)
    return process


class PrivateRedis:
    """A redis-server of this test only (no persistence), so it can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return redis_url(host="127.0.0.1", port=self.port, db=db)

    def start(self) -> None:
        self.process = _spawn(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: redis_ping(self.url()), timeout=15, message=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            # SIGKILL: an outage, not a clean shutdown (nothing is kept either way).
            _kill_group(self.process, graceful=False)
            self.process = None
        wait_for(lambda: not port_open(self.port), timeout=15, message=f"port {self.port} to close")


class CeleryWorker:
    """``celery -A config worker`` in its own process group, logging to a file the test can read."""

    _numbers = itertools.count(1)

    def __init__(self, *, broker_url: str, database_url: str, log_dir: Path, pool: str = "solo",
                 concurrency: int = 1, extra_env: dict[str, str] | None = None,
                 settings_module: str = "config.settings.test") -> None:
        self.number = next(self._numbers)
        self.name = f"{WORKER_APP_PREFIX}-{os.getpid()}-{self.number}"
        self.broker_url = broker_url
        self.database_url = database_url
        self.pool = pool
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.settings_module = settings_module
        self.log_path = log_dir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def application_name(self) -> str:
        # What the worker's PostgreSQL sessions are called in pg_stat_activity.
        return self.name

    def start(self, *, timeout: float = 60) -> CeleryWorker:
        separator = "&" if "?" in self.database_url else "?"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_BROKER_URL": self.broker_url,
            "DATABASE_URL": f"{self.database_url}{separator}application_name={self.application_name}",
            "FACEBOOK_GRAPH_URL": UNREACHABLE_GRAPH_URL,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        command = [
            str(CELERY), "-A", "config", "worker", f"--pool={self.pool}", f"--concurrency={self.concurrency}",
            "-l", "info", "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-Q", "live,celery",
        ]
        with self.log_path.open("ab") as log:
            self.process = _spawn(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(
            lambda: " ready." in self.log() or self.process.poll() is not None,
            timeout=timeout, interval=0.2, message=f"worker {self.name} to be ready",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, *, timeout: float = DEFAULT_TIMEOUT, count: int = 1) -> list[str]:
        regex = re.compile(pattern)
        return wait_for(
            lambda: (found := regex.findall(self.log())) and len(found) >= count and found,
            timeout=timeout, message=f"{count} log line(s) matching {pattern!r} from {self.name}",
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pool_children(self) -> list[int]:
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no shutdown, no acks, no cleanup."""
        if self.process is not None:
            _kill_group(self.process, graceful=False)

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process, graceful=True)


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_database_url(django_db_setup, django_db_blocker) -> str:
    """DATABASE_URL of the pytest-django test database, straight to PostgreSQL (never through a proxy)."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    parts = urlsplit(os.environ["DATABASE_URL"])
    user = quote(settings_dict.get("USER") or parts.username or "", safe="")
    password = settings_dict.get("PASSWORD") or parts.password or ""
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or parts.hostname or "127.0.0.1"
    port = settings_dict.get("PORT") or parts.port or 5432
    return urlunsplit(("postgres", f"{credentials}{host}:{port}", f"/{settings_dict['NAME']}", "", ""))


def _configure_producer(url: str, *, eager: bool) -> None:
    """Point this process's Celery app at ``url`` (what the live server's webhook view publishes to)."""
    from config.celery_app import app

    os.environ["CELERY_BROKER_URL"] = url  # celery reads this before its own setting
    app.conf.broker_url = url
    app.conf.task_always_eager = eager
    # kombu keeps one producer/connection pool per broker URL in a process-wide registry: drop them
    # all, so nothing keeps publishing to the previous broker (or reuses a pool closed with it).
    kombu.pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def celery_broker() -> Iterator[Callable[[str], None]]:
    """This process publishes to the shared broker (Redis DB 11, emptied first); call it to switch broker."""
    previous_env = os.environ.get("CELERY_BROKER_URL")
    default = broker_url_from_env()
    redis_flush(default)
    _configure_producer(default, eager=False)

    def use(url: str) -> None:
        _configure_producer(url, eager=False)

    yield use
    _configure_producer("memory://", eager=True)
    if previous_env is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = previous_env


def pg_sessions(application_name: str) -> list[dict[str, Any]]:
    """PostgreSQL sessions of one worker (by application_name): pid, state, wait event, open transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Within a transaction PostgreSQL answers from one snapshot of the statistics; take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid, state, wait_event_type, xact_start IS NOT NULL FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        )
        return [
            {"pid": pid, "state": state, "wait_event_type": wait, "in_transaction": in_transaction}
            for pid, state, wait, in_transaction in cursor.fetchall()
        ]


def pg_terminate(application_name: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )


@pytest.fixture
def start_worker(transactional_db, worker_database_url, celery_broker, tmp_path) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real workers (default: solo pool on the shared broker); all are stopped before the DB is flushed.

    Teardown also fails the test if a worker wrote a token to its log (what config/tests/log_guard.py
    does for this process).
    """
    workers: list[CeleryWorker] = []

    def start(*, broker_url: str | None = None, database_url: str | None = None, pool: str = "solo",
              concurrency: int = 1, extra_env: dict[str, str] | None = None,
              settings_module: str = "config.settings.test") -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=broker_url or broker_url_from_env(), database_url=database_url or worker_database_url,
            log_dir=tmp_path,
            pool=pool, concurrency=concurrency, extra_env=extra_env, settings_module=settings_module,
        )
        workers.append(worker)
        _ACTIVE_WORKERS.append(worker)
        return worker.start()

    yield start
    _ACTIVE_WORKERS.clear()
    for worker in workers:
        worker.stop()
    # A killed worker's PostgreSQL session may outlive it for a moment; pytest-django's flush must not wait on it.
    for worker in workers:
        pg_terminate(worker.application_name)
    leaks = []
    for worker in workers:
        for line in worker.log().splitlines():
            if find_secret(line):
                leaks.append(f"{worker.name}: {line[:200]}")
    if leaks:
        pytest.fail(
            "A worker wrote a token or secret to its log (every handler of the worker's logging must carry "
            "config.logging.RedactTokensFilter):\n  " + "\n  ".join(leaks[:10]),
            pytrace=False,
        )


@pytest.fixture
def worker(start_worker) -> CeleryWorker:
    return start_worker()


@pytest.fixture
def db_proxy(live_server) -> Iterator[TcpProxy]:
    """The live server's database connections go through a TcpProxy; the test's own connection does not.

    Every request of the live server opens a new connection (CONN_MAX_AGE is 0 in the test settings)
    from the shared settings dict, so switching HOST/PORT there reroutes the live server at once. The
    test thread connects first, so it keeps talking to PostgreSQL directly while the proxy is cut.
    """
    from django.db import connection

    connection.ensure_connection()
    settings_dict = connection.settings_dict
    host, port = settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432)
    proxy = TcpProxy(host, port)
    original = (settings_dict.get("HOST"), settings_dict.get("PORT"))
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(proxy.port)
    try:
        yield proxy
    finally:
        settings_dict["HOST"], settings_dict["PORT"] = original
        proxy.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(PRIVATE_REDIS_PORT))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_page(page, live_server):
    """The seeded sandbox Page behind `page`, its customer, and a page token the sandbox accepts."""
    from sandbox.models import Config, FacebookUser, Token, new_token
    from sandbox.models import Page as SandboxPage
    from sandbox.seed import seed

    seed()
    # Meta's echo, delivery and read come back to the live server as signed webhooks.
    Config.objects.update_or_create(pk=1, defaults={
        "send_receipts": True, "webhook_url": f"{live_server.url}/webhooks/facebook/", "echo_delay": 0.2,
        "read_delay": 0.5,
    })
    sandbox_page = SandboxPage.objects.get(page_id=page.account_id)
    user = FacebookUser.objects.get(fb_id="10215241773831025")
    token = Token.objects.create(token=new_token(), kind=Token.Kind.PAGE, user=user, page=sandbox_page,
                                 scopes=["pages_messaging", "pages_manage_metadata", "pages_show_list"])
    page.access_token = token.token
    page.save(update_fields=["access_token"])
    return sandbox_page


def db_url_via(proxy: TcpProxy, database_url: str) -> str:
    """``database_url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(database_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# --- webhook bodies -------------------------------------------------------------------------------------


def message_batch(*, page_id: str, psid: str, count: int, tag: str, start: int = 0) -> tuple[bytes, list[str]]:
    """One body with ``count`` text messages from one customer, as Meta batches them; returns (body, mids)."""
    from sandbox import payloads

    base_ms = 1_731_580_000_000
    mids = [f"m_{tag}_{index:05d}" for index in range(start, start + count)]
    items = [
        payloads.text_message(page_id=page_id, psid=psid, text=f"{tag} message {index}", mid=mid,
                              timestamp_ms=base_ms + index)
        for index, mid in zip(range(start, start + count), mids, strict=True)
    ]
    body = payloads.encode(
        payloads.envelope(object_type="page", entries=[payloads.entry(account_id=page_id, events=items)])
    )
    return body, mids


def post_webhook(base_url: str, body: bytes, *, timeout: float = 30) -> int:
    """POST ``body`` signed with the app secret, as Meta does; returns the status (0: no answer in time)."""
    import requests
    from django.conf import settings

    from sandbox import payloads

    try:
        return payloads.post_webhook(f"{base_url}/webhooks/facebook/", body, settings.FACEBOOK_APP_SECRET,
                                     timeout=timeout)
    except requests.RequestException:
        return 0


def events_settled(count: int) -> bool:
    """Exactly ``count`` webhook events are stored and none is pending any more."""
    from inbox.models import WebhookEvent

    states = list(WebhookEvent.objects.values_list("state", flat=True))
    return len(states) == count and WebhookEvent.State.PENDING not in states


def assert_stored_once(*, account, mids: list[str]) -> None:
    """Every mid is one row, nothing else was stored, and the conversation counted each message once."""
    from inbox.models import ChatMessage, Conversation

    stored = list(ChatMessage.objects.filter(account=account).values_list("message_id", flat=True))
    missing = sorted(set(mids) - set(stored))
    duplicated = sorted({mid for mid in stored if stored.count(mid) > 1})
    assert not missing, f"{len(missing)} message(s) lost, e.g. {missing[:3]}"
    assert not duplicated, f"message(s) stored twice: {duplicated[:3]}"
    assert len(stored) == len(mids)
    conversations = list(Conversation.objects.filter(account=account))
    assert len(conversations) == 1
    assert conversations[0].unread_count == len(mids), "a message was counted twice (or not at all)"
