"""The webhook's ASGI adapter: ``POST /webhooks/facebook/`` (and its GET handshake) without Django.

Every customer message arrives through this one request, and its cost decides how many messages a
web process can acknowledge (docs/quality-targets.md: a share of the barest INSERT endpoint). Django's
request cycle alone costs more than that (bench/README.md, "View or adapter"), so this wrapper
answers that POST in the event loop and hands every other request (other paths and methods,
WebSockets, lifespan) to the wrapped app unchanged. It answers Meta's GET handshake too, so an ASGI
worker never loads Django's URLconf for the webhook (its views and the API: ~17 MiB a worker).

The steps are ``inbox.ingest.receive``'s, as in the Django view (``inbox.webhooks``): signature, size
limit, the same INSERT (run through a small psycopg async pool in autocommit), 503 with
``Retry-After`` on a database error, and the drain's wake-up (``inbox.ingest.wake``) after the answer.
What is left here is what only an ASGI app has to do: read the streamed body, answer a database that
does not answer within ``db_timeout`` with a 503, keep the pool, and what Django's middleware would
do before the view (host validation, the HTTPS redirect). On SQLite (the embedded default) or with
``INBOX_WEBHOOK_FAST_PATH=0`` the view answers the POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings

from config.metrics import webhook_answered
from inbox.ingest import receive as steps
from inbox.ingest.wake import webhook_events_awake

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


class _LoopPool:
    """The database pool of one event loop (a pool's connections belong to the loop that opened them)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pool: Any = None
        self.opening: asyncio.Future | None = None


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
        max_size: int | None = None,
        acquire_timeout: float = 2.0,
        db_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self._enabled = enabled
        self._database = database
        self.min_size = min_size
        self.max_size = max_size if max_size is not None else settings.INBOX_WEBHOOK_FAST_PATH_POOL_SIZE
        self.acquire_timeout, self.db_timeout = acquire_timeout, db_timeout
        self._loop_pool: _LoopPool | None = None
        self._allowed_hosts: set[str] = set()

    # -- routing ------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = fast_path_enabled()
        return self._enabled

    @property
    def path(self) -> str:
        # A constant, not reverse(): reversing loads the whole URLconf (every view, the API), which
        # an ASGI worker that only serves webhooks and sockets never needs (docs/serving.md, memory).
        return steps.FACEBOOK_WEBHOOK_PATH

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and self.enabled:
            if scope["method"] == "POST":
                await self.receive_webhook(scope, receive, send)
                return
            if scope["method"] == "GET":
                await self.verify_subscription(scope, send)
                return
        await self.app(scope, receive, send)

    # -- the handshake ------------------------------------------------------------------------------

    async def verify_subscription(self, scope: Scope, send: Send) -> None:
        """Meta's GET that subscribes the endpoint, answered as the view does (``subscription_answer``)."""
        _signature, _content_length, host, forwarded = _read_headers(scope)
        refusal = self._middleware_refusal(scope, host, forwarded)
        if refusal is not None:
            await refusal(send)
            return
        # As Django's QueryDict reads it: UTF-8, blank values kept, the last of repeated names.
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        answer = steps.subscription_answer(
            query.get("hub.mode", ""), query.get("hub.verify_token", ""), query.get("hub.challenge", ""),
        )
        await _respond(send, answer, counted=False)

    # -- the POST -----------------------------------------------------------------------------------

    async def receive_webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        signature, content_length, host, forwarded = _read_headers(scope)
        refusal = self._middleware_refusal(scope, host, forwarded)
        if refusal is not None:
            await refusal(send)
            return
        answer = steps.refused_unsigned(signature)
        if answer is None and steps.announced_too_large(content_length):
            answer = steps.too_large(content_length)
        if answer is None:
            try:
                body = await _read_body(receive, steps.body_limit())
            except _Disconnected:
                return
            header = signature.decode("latin-1") if signature else ""
            if body is None:
                answer = steps.too_large(content_length or "none")
            else:
                answer = steps.refused_forged(body, header) or await self._store(body, header, send)
        if answer is None:
            return  # the watchdog has answered already
        await _respond(send, answer)
        if answer is steps.ACCEPTED:
            # The row is committed (autocommit): wake the drain, as the view does on commit. After the
            # answer, so Meta's request never waits on Redis or the broker.
            try:
                await webhook_events_awake()
            except Exception:
                logger.exception("Could not wake the webhook drain; the stored events stay pending for the requeue task")

    def _middleware_refusal(
        self, scope: Scope, host: bytes | None, forwarded: bytes | None,
    ) -> Callable[[Send], Awaitable[None]] | None:
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
                logger.warning("Webhook request with a disallowed Host refused")
                return lambda send: _send(send, 400, b"Bad Request")
            if len(self._allowed_hosts) < 64:
                self._allowed_hosts.add(host_name)
        if settings.SECURE_SSL_REDIRECT:
            proxy_header = _proxy_ssl_header()
            secure = scope.get("scheme") == "https" or (proxy_header is not None and forwarded == proxy_header[1])
            if not secure:
                location = f"https://{settings.SECURE_SSL_HOST or host_name}{self.path}".encode("latin-1")
                return lambda send: _send(send, 301, b"", [(b"location", location)])
        return None

    # -- the database -------------------------------------------------------------------------------

    async def _store(self, body: bytes, header: str, send: Send) -> steps.Answer | None:
        """``webhook_event_astore`` with a deadline; None when the deadline has answered 503 already.

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
            loop.create_task(_unavailable(send, steps.unavailable(timed_out=self.db_timeout)))
            if task is not None:
                task.cancel()

        watchdog = loop.call_later(self.db_timeout, on_timeout)
        try:
            pool = await self._pool()
            answer = await steps.webhook_event_astore(pool, body, header, acquire_timeout=self.acquire_timeout)
        except asyncio.CancelledError:
            if not timed_out:
                raise
            return None
        finally:
            watchdog.cancel()
        return None if timed_out else answer

    async def _pool(self) -> Any:
        loop = asyncio.get_running_loop()
        state = self._loop_pool
        if state is None or state.loop is not loop:
            # A new event loop (tests run one per test): the old loop's pool cannot be used from it.
            state = self._loop_pool = _LoopPool(loop)
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
        """Close this loop's pool (tests; a server simply exits)."""
        state, self._loop_pool = self._loop_pool, None
        if state is not None and state.pool is not None:
            with contextlib.suppress(Exception):
                await state.pool.close(timeout=2)


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


def _read_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None, bytes | None]:
    """In one pass over the headers: the signature, Content-Length, Host and the proxy's scheme header."""
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
    return signature, content_length, host, forwarded


def _proxy_ssl_header() -> tuple[bytes, bytes] | None:
    header = settings.SECURE_PROXY_SSL_HEADER
    if not header:
        return None
    name, value = header
    return name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1"), value.encode("latin-1")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None, *,
                counted: bool = True) -> None:
    if counted:  # the webhooks' answers, by status (config/metrics.py); not the handshake
        webhook_answered(status)
    headers = headers or []
    if not any(name == b"content-type" for name, _ in headers):
        headers = [TEXT_PLAIN, *headers]
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def _respond(send: Send, answer: steps.Answer, *, counted: bool = True) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    await _send(send, answer.status, answer.body, headers, counted=counted)


async def _unavailable(send: Send, answer: steps.Answer) -> None:
    with contextlib.suppress(Exception):  # the client may be gone
        await _respond(send, answer)


__all__ = ["WebhookFastPath", "connection_kwargs", "fast_path_enabled"]
