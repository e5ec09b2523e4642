"""The Graph API transport: the only code that talks to Meta (docs/messenger-platform.md §6–§12).

Every call goes through one `requests.Session` per process, sends `appsecret_proof` with its token
(the token itself travels in the Authorization header, never in a URL), maps Meta's error body to
an exception class by kind and parses the rate-limit usage headers. That is all: it writes nothing
to the database, never sleeps and never repeats a call. Each call is reported to the hooks given at
construction (`social.services.graph_client` audits it, holds calls near Meta's usage limit and flags
an account whose token died); retrying a transient failure is the Celery task's job
(`config.tasks.RetryingTask`), and a web request shows the error.
"""

from __future__ import annotations

import hashlib
import hmac
import json as jsonlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from config.logging import redact
from config.tasks import RetryLater
from social.safe_fetch import FetchRefused, fetch

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

logger = logging.getLogger(__name__)

# Meta throttles at 100 %; stop ourselves a little before (docs/messenger-platform.md §12).
USAGE_STOP_PERCENT = 95
USAGE_WARN_PERCENT = 80
DEFAULT_RETRY_AFTER_SECONDS = 60
MAX_PAGES = 50
# What the history import reads of each message (Conversations API).
HISTORY_MESSAGE_FIELDS = "id,created_time,from,to,message,attachments,sticker"

TRANSIENT_CODES = frozenset({1, 2, 1200})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014})
OUTSIDE_WINDOW = frozenset({(10, 2018278), (10, 2534022)})
RECIPIENT_UNAVAILABLE = frozenset({(100, 2018001), (200, 1545041), (200, 2018028), (200, 2018027), (200, 2018021)})
PERMISSION_SUBCODES = frozenset({2018065, 2018108, 2018344})
THREAD_OWNED_ELSEWHERE = (10, 2018300)


# ERRORS
# ------------------------------------------------------------------------------
class GraphAPIError(Exception):
    """Meta refused or failed a call; `code`/`subcode` are Meta's (§6.5), `http_status` ours to log."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
        user_message: str | None = None,
        may_have_succeeded: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.error_type = error_type
        self.user_message = user_message
        # True when the request may have reached Meta and been acted on (a read timeout, a 5xx
        # without Meta's error body): a send must then not be repeated blindly.
        self.may_have_succeeded = may_have_succeeded

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id {self.fbtrace_id}")
        return redact(" · ".join(parts))


class TransientGraphError(GraphAPIError, RetryLater):
    """5xx, codes 1/2/1200, timeouts and connection errors: worth retrying later (by the task)."""


class RateLimitError(TransientGraphError):
    """Codes 4/17/32/613/80006 or our own throttle: retry after `retry_after` seconds."""

    retry_after: int

    def __init__(self, message: str, *, retry_after: int = DEFAULT_RETRY_AFTER_SECONDS, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


class TokenInvalidError(GraphAPIError):
    """Code 190: the token expired or was invalidated; the account needs reconnecting."""


class GraphPermissionError(GraphAPIError):
    """A permission, role or app-review problem (10, 200–299, 3, 2018065/2018108)."""


class OutsideWindowError(GraphAPIError):
    """The messaging window is closed (10/2018278, 10/2534022): don't retry."""


class RecipientUnavailableError(GraphAPIError):
    """The person can't be messaged (551, 100/2018001, 200/1545041): don't retry."""


class InvalidParameterError(GraphAPIError):
    """Code 100: the request itself is wrong."""


class ThreadOwnedElsewhereError(GraphPermissionError):
    """10/2018300: another app owns the customer's thread (Handover Protocol); take control first."""


class DownloadRefused(GraphAPIError):
    """Our media fetch policy refused a URL (origin, address, redirects, size or time): never retried."""


def _error_class(*, code: int | None, subcode: int | None, http_status: int | None) -> type[GraphAPIError]:
    if code == 190 or code == 102:
        return TokenInvalidError
    if code in RATE_LIMIT_CODES:
        return RateLimitError
    if (code, subcode) in OUTSIDE_WINDOW:
        return OutsideWindowError
    if (code, subcode) == THREAD_OWNED_ELSEWHERE:
        return ThreadOwnedElsewhereError
    if code == 551 or (code, subcode) in RECIPIENT_UNAVAILABLE:
        return RecipientUnavailableError
    if subcode in PERMISSION_SUBCODES or code in (3, 10) or (code is not None and 200 <= code <= 299):
        return GraphPermissionError
    if code in TRANSIENT_CODES:
        return TransientGraphError
    if code == 100:
        return InvalidParameterError
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return RateLimitError if http_status == 429 else TransientGraphError
    return GraphAPIError


def error_from_response(*, http_status: int, body: Any, headers: Mapping[str, str] | None = None) -> GraphAPIError:
    """Map Meta's error body (or a bare HTTP failure) to the exception of its kind (§6.5–6.6)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = _as_int(error.get("code"))
        subcode = _as_int(error.get("error_subcode"))
        kwargs: dict[str, Any] = {
            "code": code,
            "subcode": subcode,
            "fbtrace_id": error.get("fbtrace_id"),
            "http_status": http_status,
            "error_type": error.get("type"),
            "user_message": error.get("error_user_msg"),
        }
        message = str(error.get("message") or "Graph API error")
        cls = _error_class(code=code, subcode=subcode, http_status=http_status)
    else:
        kwargs = {"http_status": http_status, "may_have_succeeded": http_status >= 500}
        message = f"Graph API answered HTTP {http_status} without an error body"
        cls = _error_class(code=None, subcode=None, http_status=http_status)
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_usage(headers or {}).regain_seconds or DEFAULT_RETRY_AFTER_SECONDS
    return cls(message, **kwargs)


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# RATE-LIMIT USAGE HEADERS
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    """What the usage headers say: the highest percentage, seconds until access returns, and for which ids."""

    app_percent: float = 0.0
    max_percent: float = 0.0
    regain_seconds: int = 0
    blocked_ids: list[str] = field(default_factory=list)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return value
    return None


def parse_usage(headers: Any) -> Usage:
    """Parse X-App-Usage and X-Business-Use-Case-Usage (percentages; regain time in minutes, §12)."""
    app_percent = max_percent = 0.0
    regain_seconds = 0
    blocked_ids: list[str] = []
    raw_app = _header(headers, "X-App-Usage")
    if raw_app:
        try:
            app = jsonlib.loads(raw_app)
            app_percent = max(float(app.get(k) or 0) for k in ("call_count", "total_time", "total_cputime"))
        except (ValueError, TypeError, AttributeError):
            logger.warning("Unreadable X-App-Usage header")
    max_percent = app_percent
    raw_buc = _header(headers, "X-Business-Use-Case-Usage")
    if raw_buc:
        try:
            for object_id, entries in jsonlib.loads(raw_buc).items():
                for item in entries or []:
                    percent = max(float(item.get(k) or 0) for k in ("call_count", "total_time", "total_cputime"))
                    regain = int(float(item.get("estimated_time_to_regain_access") or 0) * 60)
                    max_percent = max(max_percent, percent)
                    regain_seconds = max(regain_seconds, regain)
                    if regain > 0 or percent >= USAGE_STOP_PERCENT:
                        blocked_ids.append(str(object_id))
        except (ValueError, TypeError, AttributeError):
            logger.warning("Unreadable X-Business-Use-Case-Usage header")
    return Usage(app_percent=app_percent, max_percent=max_percent, regain_seconds=regain_seconds,
                 blocked_ids=blocked_ids)


# HELPERS
# ------------------------------------------------------------------------------
def graph_url() -> str:
    return settings.FACEBOOK_GRAPH_URL.rstrip("/")


def app_token() -> str:
    """The app access token in its `{app_id}|{app_secret}` form (debug_token, §7.1)."""
    return f"{settings.FACEBOOK_APP_ID}|{settings.FACEBOOK_APP_SECRET}"


def appsecret_proof(token: str) -> str:
    """HMAC-SHA256 of the token keyed by the app secret, hex (§7.7)."""
    return hmac.new(settings.FACEBOOK_APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


_session_lock = threading.Lock()
_session_state: dict[str, Any] = {"pid": None, "session": None}


def get_session() -> requests.Session:
    """One pooled session per process (a forked worker builds its own: sockets must not be shared)."""
    pid = os.getpid()
    if _session_state["pid"] != pid:
        with _session_lock:
            if _session_state["pid"] != pid:
                session = requests.Session()
                # Never urllib3's retries: repeating a call is the task's decision (a send must not be).
                adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                _session_state.update(pid=pid, session=session)
    return _session_state["session"]


def _never_sent(exc: requests.RequestException) -> bool:
    """The connection was never established, so Meta cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout):
        text = repr(exc)
        return "NewConnectionError" in text or "Connection refused" in text or "NameResolution" in text
    return False




# THE CLIENT
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphCall:
    """One request as the transport saw it, handed to the client's ``on_call`` hook. Never a token:
    ``path`` is the Graph path (or a download's host and path, without its query)."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    kind: str = "graph"  # or "download"
    fields: str = ""
    error: GraphAPIError | None = None
    usage: Usage = field(default_factory=Usage)
    # The call carried the client's own token (not the app token, not none): a 190 is about it.
    own_token: bool = False

    @property
    def error_class(self) -> str:
        return type(self.error).__name__ if self.error is not None else ""


OnCall = Callable[[GraphCall], None]
# Called before each request; raises (a RateLimitError) to hold the call back.
BeforeCall = Callable[[], None]


class GraphClient:
    """Sends one request per call and raises the error of its kind; see the module docstring.

    ``page_id`` is the Page the Send API acts for (an Instagram account's parent Page).
    """

    def __init__(
        self,
        *,
        access_token: str = "",
        page_id: str = "",
        before_call: BeforeCall | None = None,
        on_call: OnCall | None = None,
    ) -> None:
        self.access_token = access_token
        self._page_id = page_id
        self.before_call = before_call
        self.on_call = on_call

    def __repr__(self) -> str:  # never the token
        return f"<GraphClient page={self._page_id or None!r} token={'yes' if self.access_token else 'no'}>"

    @property
    def page_id(self) -> str:
        if not self._page_id:
            raise GraphAPIError("This Graph client was not built for an account.")
        return self._page_id

    # Generic calls -------------------------------------------------------------
    def get(self, path: str, params: dict | None = None) -> dict:
        return self._request("GET", path, params=params)

    def post(self, path: str, data: dict | None = None, json: dict | None = None) -> dict:
        return self._request("POST", path, data=data, json=json)

    def delete(self, path: str, params: dict | None = None) -> dict:
        return self._request("DELETE", path, params=params)

    def paginate(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a cursor-paginated edge, following `paging.cursors.after` while `next` exists."""
        params = dict(params or {})
        for _ in range(MAX_PAGES):
            page = self.get(path, params)
            yield from page.get("data") or []
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            params["after"] = after
        logger.warning("Stopped paginating %s after %d pages", path, MAX_PAGES)

    # Messenger -----------------------------------------------------------------
    def send_message(
        self,
        *,
        recipient_id: str,
        messaging_type: str,
        text: str | None = None,
        attachment_url: str | None = None,
        attachment_type: str | None = None,
        attachment_id: str | None = None,
        quick_replies: list[dict] | None = None,
        reply_to_mid: str | None = None,
        tag: str | None = None,
        metadata: str | None = None,
    ) -> dict:
        """Send API (§6.2). After a read timeout or a bare 5xx the error says ``may_have_succeeded``:
        the message may already be out, and the caller must not send it again blindly.

        An attachment goes by ``attachment_id`` (from `upload_attachment`) or by a URL Meta fetches."""
        message: dict[str, Any] = {}
        if attachment_id:
            message["attachment"] = {"type": attachment_type or "file", "payload": {"attachment_id": attachment_id}}
        elif attachment_url:
            message["attachment"] = {
                "type": attachment_type or "file",
                "payload": {"url": attachment_url, "is_reusable": True},
            }
        elif text is not None:
            message["text"] = text
        else:
            raise InvalidParameterError("A message needs text or an attachment.")
        if quick_replies:
            message["quick_replies"] = quick_replies
        if metadata:
            message["metadata"] = metadata
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "messaging_type": messaging_type, "message": message}
        if reply_to_mid:
            body["reply_to"] = {"mid": reply_to_mid}
        if tag:
            body["tag"] = tag
        return self.post(f"{self.page_id}/messages", json=body)

    def upload_attachment(self, *, attachment_type: str, filename: str, content: IO[bytes], content_type: str) -> dict:
        """Attachment Upload API: `{"attachment_id": "..."}`, reusable in later sends (Meta keeps it 90 days)."""
        message = {"attachment": {"type": attachment_type, "payload": {"is_reusable": True}}}
        return self._request(
            "POST", f"{self.page_id}/message_attachments", data={"message": jsonlib.dumps(message)},
            files={"filedata": (filename, content, content_type)},
        )

    def send_sender_action(self, *, recipient_id: str, action: str, payload: dict | None = None) -> dict:
        """typing_on, typing_off, mark_seen; react / unreact with ``payload`` {message_id, reaction}."""
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "sender_action": action}
        if payload:
            body["payload"] = payload
        return self.post(f"{self.page_id}/messages", json=body)

    # Comments on posts and media (docs/messenger-platform.md "Comments on posts and media") ------
    def comment_reply(self, *, comment_id: str, message: str, instagram: bool) -> dict:
        """A public reply: ``{"id": "<new comment id>"}``. A Page comment takes ``/comments``, an
        Instagram comment ``/replies``."""
        return self.post(f"{comment_id}/{'replies' if instagram else 'comments'}", data={"message": message})

    def comment_hide(self, *, comment_id: str, hidden: bool, instagram: bool) -> dict:
        """``{"success": true}``; Meta names the flag ``hide`` on Instagram and ``is_hidden`` on Pages."""
        flag = "true" if hidden else "false"
        return self.post(str(comment_id), data={"hide": flag} if instagram else {"is_hidden": flag})

    def comment_delete(self, *, comment_id: str) -> dict:
        return self.delete(str(comment_id))

    def post_details(self, *, post_id: str, instagram: bool) -> dict:
        """What a comment is on: a Page post's message, link and picture, or an Instagram media's caption,
        link and picture (the comment webhooks name the post only)."""
        fields = "caption,permalink,media_type,media_url,thumbnail_url" if instagram else "message,permalink_url,full_picture"
        return self.get(str(post_id), {"fields": fields})

    def private_reply(self, *, comment_id: str, text: str, metadata: str | None = None) -> dict:
        """Send API with ``recipient: {comment_id}``: one message to the commenter, answered without
        ``recipient_id`` (``{"message_id": ...}``)."""
        message: dict[str, Any] = {"text": text}
        if metadata:
            message["metadata"] = metadata
        return self.post(f"{self.page_id}/messages", json={"recipient": {"comment_id": comment_id}, "message": message})

    # Handover Protocol and Messenger profile (docs/messenger-platform.md) ------------
    def thread_owner(self, *, recipient_id: str) -> dict:
        """{"data": [{"thread_owner": {"app_id": "..."}}]}: the app that owns the customer's thread."""
        return self.get(f"{self.page_id}/thread_owner", {"recipient": recipient_id})

    def take_thread_control(self, *, recipient_id: str, metadata: str = "") -> dict:
        body: dict[str, Any] = {"recipient": {"id": recipient_id}}
        if metadata:
            body["metadata"] = metadata
        return self.post(f"{self.page_id}/take_thread_control", json=body)

    def pass_thread_control(self, *, recipient_id: str, target_app_id: str, metadata: str = "") -> dict:
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "target_app_id": target_app_id}
        if metadata:
            body["metadata"] = metadata
        return self.post(f"{self.page_id}/pass_thread_control", json=body)

    def messenger_profile_get(self, *, fields: str) -> dict:
        return self.get(f"{self.page_id}/messenger_profile", {"fields": fields})

    def messenger_profile_set(self, *, properties: dict) -> dict:
        """{"result": "success"}; ``properties`` in Meta's shapes (greeting, ice_breakers, persistent_menu)."""
        return self.post(f"{self.page_id}/messenger_profile", json=properties)

    def messenger_profile_delete(self, *, fields: list[str]) -> dict:
        return self._request("DELETE", f"{self.page_id}/messenger_profile", json={"fields": list(fields)})

    def user_profile(self, *, user_id: str, platform: str) -> dict:
        fields = "name,username,profile_pic" if platform == "INSTAGRAM" else "first_name,last_name,profile_pic"
        return self.get(str(user_id), {"fields": fields})

    # Conversations API (history; docs/messenger-platform.md "History import") ----------
    def conversations(self, *, platform: str, after: str = "", limit: int = 25, message_limit: int = 25) -> dict:
        """One page of the Page's conversations, most recently updated first, each with its newest
        messages; ``platform`` is ``messenger`` or ``instagram``. Returns Meta's body (data, paging)."""
        params = {
            "platform": platform,
            "fields": f"participants,updated_time,messages.limit({int(message_limit)}){{{HISTORY_MESSAGE_FIELDS}}}",
            "limit": int(limit),
        }
        if after:
            params["after"] = after
        return self.get(f"{self.page_id}/conversations", params)

    def thread_messages(self, conversation_id: str, *, after: str = "", limit: int = 25) -> dict:
        """One page of a conversation's messages, newest first (Meta's body: data, paging)."""
        params: dict[str, Any] = {"fields": HISTORY_MESSAGE_FIELDS, "limit": int(limit)}
        if after:
            params["after"] = after
        return self.get(f"{conversation_id}/messages", params)

    # OAuth and tokens (§7) -------------------------------------------------------
    def exchange_code(self, *, code: str, redirect_uri: str) -> dict:
        """The OAuth code → a user token ({"access_token", "token_type", "expires_in"})."""
        params = {
            "client_id": settings.FACEBOOK_APP_ID,
            "client_secret": settings.FACEBOOK_APP_SECRET,
            "redirect_uri": redirect_uri,
            "code": code,
        }
        return self._request("GET", "oauth/access_token", params=params, token="")

    def exchange_token(self, *, token: str) -> dict:
        """A short-lived (or current long-lived) user token → a long-lived one (§7.2)."""
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": settings.FACEBOOK_APP_ID,
            "client_secret": settings.FACEBOOK_APP_SECRET,
            "fb_exchange_token": token,
        }
        return self._request("GET", "oauth/access_token", params=params, token="")

    def debug_token(self, *, input_token: str) -> dict:
        """`debug_token` with the app token (§7.4); returns the `data` object."""
        body = self._request("GET", "debug_token", params={"input_token": input_token}, token=app_token())
        return body.get("data") or {}

    # Media ----------------------------------------------------------------------
    def download(self, url: str, *, max_bytes: int) -> tuple[bytes, str]:
        """Fetch a media URL (attachment, profile picture) through social/safe_fetch.py; no token is
        sent. Returns (content, content_type). A URL that policy refuses raises ``DownloadRefused``:
        fetching it again would be refused again."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameterError("Not a downloadable URL.")
        where = f"{parts.netloc}{parts.path}"
        started = time.monotonic()
        status = None
        try:
            # The sandbox's origin (development only) is served by this client's session.
            fetched = fetch(url, max_bytes=max_bytes, timeout=settings.GRAPH_API_TIMEOUT, local_session=get_session())
            status = fetched.status
            if status >= 400:
                raise error_from_response(http_status=status, body=None, headers=fetched.headers)
        except FetchRefused as exc:
            error: GraphAPIError = DownloadRefused(exc.reason, http_status=status)
        except requests.RequestException as exc:
            error = TransientGraphError(f"Download failed: {type(exc).__name__}")
        except GraphAPIError as exc:
            error = exc
        else:
            self._report("GET", where, status, started, kind="download")
            return fetched.content, fetched.content_type
        self._report("GET", where, status, started, kind="download", error=error)
        raise error

    # The one request ----------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        json: dict | None = None,
        files: dict | None = None,
        token: str | None = None,
    ) -> dict:
        token = self.access_token if token is None else token
        own_token = bool(token) and token == self.access_token
        path = path.strip("/")
        if "://" in path or "?" in path:
            raise InvalidParameterError("Pass a Graph path and params, not a URL.")
        url = f"{graph_url()}/{path}"
        query = dict(params or {})
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            query["appsecret_proof"] = appsecret_proof(token)
        fields = str((params or {}).get("fields") or "")

        if self.before_call is not None:
            self.before_call()
        started = time.monotonic()
        try:
            response = get_session().request(
                method, url, params=query, data=data, json=json, files=files, headers=headers,
                timeout=settings.GRAPH_API_TIMEOUT,
            )
        except requests.RequestException as exc:
            error: GraphAPIError = TransientGraphError(
                f"Graph API unreachable: {type(exc).__name__}", may_have_succeeded=not _never_sent(exc)
            )
            self._report(method, path, None, started, fields=fields, own_token=own_token, error=error)
            raise error from None
        body = _json_or_none(response)
        usage = parse_usage(response.headers)
        if usage.max_percent >= USAGE_WARN_PERCENT:
            logger.warning("Graph API usage at %.0f%% of Meta's limit", usage.max_percent)
        if response.ok and isinstance(body, dict) and "error" not in body:
            self._report(method, path, response.status_code, started, fields=fields, own_token=own_token,
                         usage=usage)
            return body
        if response.ok:
            error = GraphAPIError("Graph API answered without a JSON object.", http_status=response.status_code)
        else:
            error = error_from_response(http_status=response.status_code, body=body, headers=response.headers)
        self._report(method, path, response.status_code, started, fields=fields, own_token=own_token,
                     usage=usage, error=error)
        raise error

    def _report(self, method: str, path: str, status: int | None, started: float, *, kind: str = "graph",
                fields: str = "", own_token: bool = False, usage: Usage | None = None,
                error: GraphAPIError | None = None) -> None:
        call = GraphCall(
            method=method, path="/" + path.lstrip("/"), status=status,
            duration_ms=int((time.monotonic() - started) * 1000), kind=kind, fields=redact(fields),
            error=error, usage=usage or Usage(), own_token=own_token,
        )
        level = logging.WARNING if error is not None else logging.DEBUG
        logger.log(level, "Graph %s %s -> %s in %d ms%s", method, call.path, status, call.duration_ms,
                   f" ({error})" if error is not None else "")
        if self.on_call is None:
            return
        try:
            self.on_call(call)
        except Exception:  # the call's outcome matters more than what is done with its record
            logger.exception("The hook of a Graph call failed")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
