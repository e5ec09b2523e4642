"""Helpers for webhook tests: fixtures as Meta's exact bytes, signed, posted through the real view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import TestCase
from django.urls import reverse

from inbox.facebook.signature import compute_signature

FIXTURES = Path(__file__).parent / "fixtures" / "facebook"

PAGE_ID = "104857600123456"
OTHER_PAGE_ID = "104857600654321"
IG_ACCOUNT_ID = "17841400000000000"
PSID = "7012345678901234"
OTHER_PSID = "7098765432109876"
IGSID = "987654321098765"

PROFILE = {
    "first_name": "Giulia",
    "last_name": "Bianchi",
    "profile_pic": "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=7012345678901234&ext=1&hash=AbCd",
    "id": PSID,
}


def load_fixture(name: str) -> bytes:
    """A fixture's bytes exactly as Meta would POST them (never re-serialised)."""
    if not name.endswith(".json"):
        name += ".json"
    return (FIXTURES / name).read_bytes()


def sign_payload(body: bytes, secret: str | None = None) -> str:
    """The X-Hub-Signature-256 header Meta would send for ``body``."""
    return compute_signature(body, settings.FACEBOOK_APP_SECRET if secret is None else secret)


def webhook_url() -> str:
    return reverse("webhooks:facebook")


def post_webhook(client: Any, body: bytes, *, signature: str | None = "", run_tasks: bool = True, **extra: Any):
    """POST ``body`` signed (or with the given ``signature``; None sends no header) to the endpoint.

    With ``run_tasks`` the after-commit callbacks run, so the (eager) processing task runs too, also
    inside a test transaction.
    """
    headers: dict[str, str] = {}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature or sign_payload(body)
    if not run_tasks:
        return client.post(webhook_url(), data=body, content_type="application/json", **headers, **extra)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(webhook_url(), data=body, content_type="application/json", **headers, **extra)


def run_on_commit(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` and then run the after-commit callbacks it registered (tasks, broadcasts)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return func(*args, **kwargs)


class FakeGraph:
    """Replaces the Graph client's network calls used by ingest (profile lookup, media download).

    ``profile`` is the answer of ``user_profile`` (or an exception to raise); ``downloads`` maps a
    URL to ``(bytes, content_type)`` or an exception; other URLs give ``default_download``.
    Calls are recorded in ``profile_calls`` / ``download_calls``. Pass ``profile=False`` or
    ``download=False`` to leave that call to the real client (and mock HTTP with ``responses``).
    """

    def __init__(self, *, profile: bool = True, download: bool = True) -> None:
        self.patch_profile = profile
        self.patch_download = download
        self.profile: dict | Exception = dict(PROFILE)
        self.downloads: dict[str, tuple[bytes, str] | Exception] = {}
        self.default_download: tuple[bytes, str] | Exception = (b"\x89PNG fake image bytes", "image/png")
        self.profile_calls: list[dict] = []
        self.download_calls: list[str] = []
        self._patches: list[Any] = []

    def __enter__(self) -> FakeGraph:
        from unittest import mock

        fake = self

        def user_profile(client: Any, *, user_id: str, platform: str) -> dict:
            # The account the client was built for is its call recorder's (social.services.graph_client).
            account = getattr(client.on_call, "account", None)
            fake.profile_calls.append({"user_id": user_id, "platform": platform, "account": account})
            if isinstance(fake.profile, Exception):
                raise fake.profile
            return dict(fake.profile, id=user_id)

        def download(client: Any, url: str, *, max_bytes: int) -> tuple[bytes, str]:
            fake.download_calls.append(url)
            answer = fake.downloads.get(url, fake.default_download)
            if isinstance(answer, Exception):
                raise answer
            return answer

        self._patches = []
        if self.patch_profile:
            self._patches.append(mock.patch("social.graph.GraphClient.user_profile", user_profile))
        if self.patch_download:
            self._patches.append(mock.patch("social.graph.GraphClient.download", download))
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for patch in reversed(self._patches):
            patch.stop()


def process_at_once(*event_ids: int) -> list[BaseException]:
    """Process these stored webhook events on as many threads at once, each with its own database
    connection (two workers racing); returns what they raised."""
    import threading

    from django.db import connection

    from inbox.ingest.drain import webhook_event_process

    errors: list[BaseException] = []

    def worker(event_id: int) -> None:
        try:
            webhook_event_process(event_id=event_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with FakeGraph():
        threads = [threading.Thread(target=worker, args=(event_id,)) for event_id in event_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    return errors


def logged_in_client(user, business_id: int | None = None):
    """A test client signed in as ``user``, with ``business_id`` chosen in its session (as switching does)."""
    from django.test import Client

    from accounts.middleware import SESSION_KEY

    client = Client()
    client.force_login(user)
    if business_id is not None:
        session = client.session
        session[SESSION_KEY] = business_id
        session.save()
    return client


# --- the channel layer, as a page's socket would see it ------------------------------------------------------


def layer_listen(layer: Any, business_id: int) -> str:
    """A new channel in the business's group: what an open inbox page of that business receives."""
    from asgiref.sync import async_to_sync

    from inbox.realtime import business_group

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(business_group(business_id), channel)
    return channel


def layer_nothing(layer: Any, channel: str) -> bool:
    """Nothing arrives on `channel` within 0.3 s. On the Redis layer, a receive given up on binds the
    channel's queue to that call's event loop: check a channel this way only when nothing else reads it."""
    import asyncio

    from asgiref.sync import async_to_sync

    async def attempt() -> bool:
        try:
            await asyncio.wait_for(layer.receive(channel), timeout=0.3)
        except TimeoutError:
            return True
        return False

    return async_to_sync(attempt)()
