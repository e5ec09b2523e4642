"""The webhook's ASGI fast path: ``POST /webhooks/facebook/`` without Django's request cycle.

Every customer message arrives through this one request, and its cost decides how many messages a
web process can acknowledge (docs/quality-targets.md: a share of a bare HMAC + INSERT endpoint). Django's
request cycle alone costs more than that, so this wrapper answers that POST itself, in the event
loop, and hands every other request (the GET handshake, other paths, WebSockets, lifespan) to the
wrapped app unchanged:

- 403 without ``X-Hub-Signature-256``, before the body is read;
- 413 when ``Content-Length`` or the streamed body exceeds ``DATA_UPLOAD_MAX_MEMORY_SIZE``;
- 403 when the signature does not match the raw bytes (nothing stored, a warning logged);
- one INSERT of a ``WebhookEvent`` row through a small psycopg async pool (autocommit), built from
  the model's fields, then 200 ``EVENT_RECEIVED``; any database error or a database that does not
  answer within ``db_timeout`` is a 503 with ``Retry-After: 5`` so Meta retries;
- after the answer, the drain is woken exactly as the Django view does (``webhook_events_wake``).

It is the Django view ``inbox.webhooks._receive`` step for step; the view still serves the same URL
when the fast path is off: on SQLite (the embedded default) or with ``INBOX_WEBHOOK_FAST_PATH=0``.
Host validation and the HTTPS redirect, which Django's middleware would do, are done here too.
The body is never parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from inbox.facebook.signature import verify_signature

logger = logging.getLogger("inbox.webhooks")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SIGNATURE_HEADER = b"x-hub-signature-256"
TEXT_PLAIN = (b"content-type", b"text/plain")
# Options in DATABASES[...]["OPTIONS"] that are Django's, not libpq's.
_DJANGO_ONLY_OPTIONS = {"pool", "isolation_level", "server_side_binding", "assume_role", "cursor_factory", "context"}


def fast_path_enabled() -> bool:
    """On with PostgreSQL unless the setting ``INBOX_WEBHOOK_FAST_PATH`` is off."""
    from django.db import connections

    return settings.INBOX_WEBHOOK_FAST_PATH and connections["default"].vendor == "postgresql"


def connection_kwargs(database: dict[str, Any]) -> dict[str, Any]:
    """psycopg connection keywords for a ``DATABASES`` entry (as Django's backend builds them)."""
    options = {k: v for k, v in (database.get("OPTIONS") or {}).items() if k not in _DJANGO_ONLY_OPTIONS}
    kwargs: dict[str, Any] = {"dbname": database.get("NAME") or "postgres", **options}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if database.get(key):
            kwargs[name] = str(database[key]) if key == "PORT" else database[key]
    kwargs.setdefault("connect_timeout", 3)
    kwargs.setdefault("application_name", "inbox-webhook")
    kwargs["client_encoding"] = "UTF8"
    kwargs["autocommit"] = True
    return kwargs


def _prepared_default(field: Any, connection: Any, body: bytes, header: str, now: Any) -> Any:
    """The database value of ``field``'s callable default, computed per row."""
    return field.get_db_prep_save(field.get_default(), connection)


class _LoopState:
    """What belongs to one event loop: the database pool and the Redis client of the drain flag."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pool: Any = None
        self.opening: asyncio.Future | None = None
        self.redis: Any = None


class WebhookFastPath:
    """ASGI wrapper: answers ``POST`` to the webhook URL itself, passes everything else to ``app``.

    ``database`` (a ``DATABASES`` entry) defaults to ``settings.DATABASES["default"]``; the pool is
    created on first use, one per process and event loop, and closed by ``aclose()``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        enabled: bool | None = None,
        database: dict[str, Any] | None = None,
        min_size: int = 1,
        max_size: int = 4,
        acquire_timeout: float = 2.0,
        db_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self._enabled = enabled
        self._database = database
        self.min_size, self.max_size = min_size, max_size
        self.acquire_timeout, self.db_timeout = acquire_timeout, db_timeout
        self._path: str | None = None
        self._state: _LoopState | None = None
        self._insert: tuple[str, list[Callable[[bytes, str, Any], Any]]] | None = None
        self._allowed_hosts: set[str] = set()
        self._wake_flag: _FlagTarget | None | bool = False  # False: not looked up yet

    # -- routing ------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = fast_path_enabled()
        return self._enabled

    @property
    def path(self) -> str:
        if self._path is None:
            from django.urls import reverse

            self._path = reverse("webhooks:facebook")
        return self._path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path and self.enabled:
            await self.receive_webhook(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- the POST -----------------------------------------------------------------------------------

    async def receive_webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        signature = content_length = host = forwarded = None
        proxy_header = _proxy_ssl_header()
        for name, value in scope["headers"]:
            if name == SIGNATURE_HEADER:
                signature = value
            elif name == b"content-length":
                content_length = value
            elif name == b"host":
                host = value
            elif proxy_header is not None and name == proxy_header[0]:
                forwarded = value
        refusal = self._middleware_refusal(scope, host, forwarded, proxy_header)
        if refusal is not None:
            await refusal(send)
            return
        if not signature:
            # Refused before the body is even read.
            logger.warning("Webhook POST without X-Hub-Signature-256 refused")
            await _respond(send, 403, b"Forbidden")
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and content_length is not None:
            try:
                too_big = int(content_length) > limit
            except ValueError:
                too_big = False
            if too_big:
                return await self._too_large(send, content_length.decode("latin-1"))
        try:
            body = await _read_body(receive, limit)
        except _Disconnected:
            return
        if body is None:
            return await self._too_large(send, content_length.decode("latin-1") if content_length else "none")
        header = signature.decode("latin-1")
        if not verify_signature(body, header, settings.FACEBOOK_APP_SECRET):
            # A forgery or a misconfigured app secret: either way nothing is stored, and it must be noticed.
            logger.warning("Webhook POST with an invalid signature refused (%d bytes)", len(body))
            await _respond(send, 403, b"Forbidden")
            return
        if not await self._store(body, header, send):
            return
        await _respond(send, 200, b"EVENT_RECEIVED")
        # The row is committed (autocommit): wake the drain, as the view does on commit. After the
        # answer, so Meta's request never waits on Redis or the broker.
        await self._wake()

    async def _too_large(self, send: Send, content_length: str) -> None:
        logger.error("Webhook body over DATA_UPLOAD_MAX_MEMORY_SIZE refused (Content-Length %s)", content_length)
        await _respond(send, 413, b"Request body too large")

    def _middleware_refusal(self, scope: Scope, host: bytes | None, forwarded: bytes | None,
                            proxy_header: tuple[bytes, bytes] | None) -> Callable[[Send], Awaitable[None]] | None:
        """What Django's middleware would answer before the view: a disallowed Host, the HTTPS redirect."""
        if host is not None:
            host_name = host.decode("latin-1")
        else:  # HTTP/1.0 without Host: Django falls back to the server's name and port
            server = scope.get("server") or ("", None)
            host_name = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
        if host_name not in self._allowed_hosts:
            from django.http.request import split_domain_port, validate_host

            allowed = settings.ALLOWED_HOSTS
            if settings.DEBUG and not allowed:
                allowed = [".localhost", "127.0.0.1", "[::1]"]
            domain, _port = split_domain_port(host_name)
            if not (domain and validate_host(domain, allowed)):
                logger.warning("Webhook POST with a disallowed Host refused")
                return lambda send: _respond(send, 400, b"Bad Request")
            if len(self._allowed_hosts) < 64:
                self._allowed_hosts.add(host_name)
        if settings.SECURE_SSL_REDIRECT:
            secure = scope.get("scheme") == "https" or (proxy_header is not None and forwarded == proxy_header[1])
            if not secure:
                location = f"https://{settings.SECURE_SSL_HOST or host_name}{self.path}".encode("latin-1")
                return lambda send: _respond(send, 301, b"", [(b"location", location)])
        return None

    # -- the database -------------------------------------------------------------------------------

    async def _store(self, body: bytes, header: str, send: Send) -> bool:
        """INSERT the event; on any failure answer 503 (``Retry-After: 5``) and return False.

        A database that accepts the connection and never answers must not hold Meta's request: the
        request is answered 503 after ``db_timeout`` while the hung query is cancelled in the
        background (psycopg waits up to 10 s for a cancelled query to end).
        """
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        timed_out = False

        def on_timeout() -> None:
            nonlocal timed_out
            timed_out = True
            logger.error("Webhook event could not be stored within %.0f s; answering 503 so Meta retries",
                         self.db_timeout)
            loop.create_task(_unavailable(send))
            if task is not None:
                task.cancel()

        watchdog = loop.call_later(self.db_timeout, on_timeout)
        try:
            sql, makers = self._insert_statement()
            now = timezone.now()
            values = [make(body, header, now) for make in makers]
            pool = await self._pool()
            async with pool.connection(timeout=self.acquire_timeout) as conn:
                await conn.execute(sql, values)
        except asyncio.CancelledError:
            if not timed_out:
                raise
            return False
        except Exception:
            watchdog.cancel()
            if timed_out:
                return False
            # Meta redelivers on any non-200, so the message is not lost while the database is down.
            logger.exception("Webhook event could not be stored; answering 503 so Meta retries")
            await _unavailable(send)
            return False
        watchdog.cancel()
        return not timed_out

    def _insert_statement(self) -> tuple[str, list[Callable[[bytes, str, Any], Any]]]:
        """``INSERT INTO <WebhookEvent's table> (<every concrete non-pk column>) VALUES (...)``.

        Built from the model so a field added later gets its default here as in ``objects.create``:
        parameters for the body, the signature, the receive time (defaults of ``timezone.now``) and
        callable defaults (computed per request); every other default converted for the database
        once and written into the statement as a literal.
        """
        if self._insert is None:
            from django.db import connections
            from psycopg import sql as psql

            from inbox.models import WebhookEvent

            connection = connections["default"]
            columns: list[str] = []
            placeholders: list[str] = []
            makers: list[Callable[[bytes, str, Any], Any]] = []
            for field in WebhookEvent._meta.concrete_fields:
                if field.primary_key:
                    continue
                columns.append(connection.ops.quote_name(field.column or field.name))
                if field.name == "body":
                    makers.append(lambda body, header, now: body)
                elif field.name == "signature":
                    makers.append(lambda body, header, now: header)
                elif field.has_default() and field.default is timezone.now:
                    makers.append(lambda body, header, now: now)
                elif field.has_default() and callable(field.default):
                    makers.append(functools.partial(_prepared_default, field, connection))
                else:
                    literal = psql.Literal(field.get_db_prep_save(field.get_default(), connection)).as_string(None)
                    placeholders.append(literal.replace("%", "%%"))
                    continue
                placeholders.append("%s")
            table = connection.ops.quote_name(WebhookEvent._meta.db_table)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(placeholders)})"  # noqa: S608 (quoted names from the model, literals quoted by psycopg)
            self._insert = (sql, makers)
        return self._insert

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            # A new event loop (tests run one per test): the old loop's pool cannot be used from it.
            state = self._state = _LoopState(loop)
        return state

    async def _pool(self) -> Any:
        state = self._loop_state()
        if state.pool is None:
            from psycopg_pool import AsyncConnectionPool

            database = self._database if self._database is not None else settings.DATABASES["default"]
            kwargs = connection_kwargs(database)
            state.pool = AsyncConnectionPool(
                kwargs=kwargs, min_size=self.min_size, max_size=self.max_size,
                timeout=self.acquire_timeout, reconnect_timeout=60, name="inbox-webhook", open=False,
            )
            # Do not wait for the first connection: a database that is down answers 503 after the
            # acquire timeout, and the pool keeps trying in the background.
            state.opening = asyncio.ensure_future(state.pool.open(wait=False))
        if state.opening is not None:
            await asyncio.shield(state.opening)
            state.opening = None
        return state.pool

    async def aclose(self) -> None:
        """Close this loop's pool and Redis client (tests; a server simply exits)."""
        state, self._state = self._state, None
        if state is None:
            return
        if state.pool is not None:
            with contextlib.suppress(Exception):
                await state.pool.close(timeout=2)
        if state.redis is not None:
            with contextlib.suppress(Exception):
                await state.redis.aclose()

    # -- waking the drain ---------------------------------------------------------------------------

    async def _wake(self) -> None:
        """``webhook_events_wake`` without a thread hop on the common path.

        The flag is the same key and value as the view's ``caches[alias].add(DRAIN_QUEUED_KEY, 1)``
        (Django's RedisCache stores an int as is), set with ``SET NX EX`` on the cache's Redis; only
        when it was not set yet does a thread publish the drain (``webhook_events_wake(force=True)``).
        Any other cache, or a Redis error, goes through ``webhook_events_wake`` itself.
        """
        from inbox.ingest.wake import webhook_events_wake

        force = False
        flag = self._flag_target()
        if flag is not None:
            try:
                if not await self._flag_client(flag).set(flag.key, 1, nx=True, ex=flag.seconds):
                    return
                force = True
            except Exception:
                force = False
        try:
            await asyncio.to_thread(webhook_events_wake, force=force)
        except Exception:
            logger.exception("Could not wake the webhook drain; the stored events stay pending for the requeue task")

    def _flag_target(self) -> _FlagTarget | None:
        if self._wake_flag is False:
            self._wake_flag = None
            alias = getattr(settings, "INBOX_WEBHOOK_WAKE_CACHE", "")
            if alias:
                from django.core.cache import caches
                from django.core.cache.backends.redis import RedisCache

                from inbox.ingest.wake import DRAIN_QUEUED_KEY, DRAIN_QUEUED_SECONDS

                cache = caches[alias]
                options = getattr(cache, "_options", {}) or {}
                # A plain RedisCache whose URL says everything (no client options): else the sync path.
                seconds = cache.get_backend_timeout(DRAIN_QUEUED_SECONDS)
                if type(cache) is RedisCache and not options and seconds:
                    self._wake_flag = _FlagTarget(
                        url=cache._servers[0],  # type: ignore[attr-defined]  # RedisCache keeps its URLs here
                        key=cache.make_and_validate_key(DRAIN_QUEUED_KEY), seconds=int(seconds),
                    )
        return self._wake_flag if isinstance(self._wake_flag, _FlagTarget) else None

    def _flag_client(self, target: _FlagTarget) -> Any:
        state = self._loop_state()
        if state.redis is None:
            # redis-py's asyncio client (with the hiredis parser), one small pool per event loop.
            from redis.asyncio import Redis

            state.redis = Redis.from_url(target.url, max_connections=8, socket_timeout=1, socket_connect_timeout=1)
        return state.redis


@dataclass(frozen=True)
class _FlagTarget:
    """The drain flag on the cache's Redis: same key and value as ``caches[alias].add(key, 1, timeout)``."""

    url: str
    key: str
    seconds: int


async def _read_body(receive: Receive, limit: int | None) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if limit is not None and size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Disconnected(Exception):
    """The client went away before the body was complete: there is no one to answer."""


def _proxy_ssl_header() -> tuple[bytes, bytes] | None:
    header = settings.SECURE_PROXY_SSL_HEADER
    if not header:
        return None
    name, value = header
    return name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1"), value.encode("latin-1")


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [TEXT_PLAIN, (b"content-length", str(len(body)).encode()), *(headers or ())],
    })
    await send({"type": "http.response.body", "body": body})


async def _unavailable(send: Send) -> None:
    with contextlib.suppress(Exception):  # the client may be gone
        await _respond(send, 503, b"Service unavailable", [(b"retry-after", b"5")])


__all__ = ["WebhookFastPath", "connection_kwargs", "fast_path_enabled"]
