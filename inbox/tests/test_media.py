"""Attachments: a row at once, the file copied by a retried task, failures that never lose the message."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
import responses
from django.utils import timezone

from inbox.ingest.replay import webhook_events_replay
from inbox.models import Attachment, ChatMessage, WebhookEvent
from inbox.services.media import MAX_TOTAL_ATTEMPTS
from inbox.tasks import attachment_download, attachments_retry_failed
from inbox.tests.helpers import IG_ACCOUNT_ID, FakeGraph, load_fixture, post_webhook, run_on_commit
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

IMAGE_1 = "https://scontent.xx.fbcdn.net/v/t1.15752-9/123456789_n.jpg?_nc_cat=1&oh=00_AbCd&oe=6760A1B2"
IMAGE_2 = "https://scontent.xx.fbcdn.net/v/t1.15752-9/987654321_n.jpg?oh=00_EfGh&oe=6760A1B2"
JPEG = b"\xff\xd8\xff\xe0 fake jpeg bytes"


@pytest.fixture(autouse=True)
def graph():
    # Real downloads through the Graph client over mocked HTTP; the profile lookup is stubbed.
    with FakeGraph(download=False) as fake:
        fake.profile = {"first_name": "Giulia", "last_name": "Bianchi"}  # no picture to download here
        yield fake


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_attachments_get_rows_at_once_and_files_soon_after(client, page, http):
    http.get(IMAGE_1, body=JPEG, content_type="image/jpeg")
    http.get(IMAGE_2, body=b"second", content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image"))
    message = ChatMessage.objects.get()
    assert message.media_urls == [IMAGE_1, IMAGE_2]
    assert message.conversation.last_message_preview == "Photo"
    first, second = message.attachments.order_by("position")
    assert (first.type, first.url, first.state) == ("image", IMAGE_1, Attachment.State.STORED)
    assert first.file.name.startswith("attachments/") and first.file.name.endswith(".jpg")
    with first.file.open("rb") as handle:
        assert handle.read() == JPEG
    assert first.mime_type == "image/jpeg"
    assert first.size == len(JPEG)
    assert first.stored_at is not None
    assert first.business == page.business
    assert second.state == Attachment.State.STORED


def test_a_failed_download_keeps_the_message_and_the_error(client, page, http):
    http.get(IMAGE_1, status=404)
    http.get(IMAGE_2, body=b"ok", content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image"))
    message = ChatMessage.objects.get()
    failed = message.attachments.get(position=0)
    assert failed.state == Attachment.State.FAILED
    assert "404" in failed.error
    assert failed.attempts == 1  # a 404 is not worth retrying
    assert not failed.file
    assert message.attachments.get(position=1).state == Attachment.State.STORED
    assert message.conversation.unread_count == 1


def test_a_transient_failure_is_retried_then_recorded(client, page, http):
    http.get(IMAGE_1, status=503)
    http.get(IMAGE_2, status=503)
    post_webhook(client, load_fixture("message_image"))
    attachment = Attachment.objects.get(position=0)
    assert attachment.state == Attachment.State.FAILED
    assert "503" in attachment.error or "Transient" in attachment.error
    # The task's retries, one download each (the client never repeats a call).
    assert attachment.attempts == attachment_download.max_retries + 1
    assert len([c for c in http.calls if c.request.url == IMAGE_1]) == attachment_download.max_retries + 1
    assert ChatMessage.objects.count() == 1


def test_a_file_over_the_limit_is_refused(client, page, http, settings):
    settings.INBOX_MEDIA_MAX_BYTES = 10
    http.get(IMAGE_1, body=b"x" * 100, content_type="image/jpeg")
    http.get(IMAGE_2, body=b"x" * 5, content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image"))
    assert Attachment.objects.get(position=0).state == Attachment.State.FAILED
    assert "limit" in Attachment.objects.get(position=0).error
    assert Attachment.objects.get(position=1).state == Attachment.State.STORED


def test_storing_disabled_keeps_metas_link_only(client, page, http, settings):
    settings.INBOX_STORE_MEDIA = {"FACEBOOK": False, "INSTAGRAM": True}
    post_webhook(client, load_fixture("message_image"))
    assert len(http.calls) == 0
    message = ChatMessage.objects.get()
    assert message.media_urls == [IMAGE_1, IMAGE_2]
    assert set(message.attachments.values_list("state", flat=True)) == {Attachment.State.LINK}
    # The link's own signed expiry (oe=6760A1B2, hexadecimal Unix seconds) is when it stops working.
    assert {a.link_expires_at.timestamp() for a in message.attachments.all()} == {0x6760A1B2}


def test_storing_disabled_for_instagram_even_when_the_business_opted_in(client, page, http, settings):
    page.business.instagram_media_store = True
    page.business.save()
    SocialAccountFactory(business=page.business, platform=Platform.INSTAGRAM, account_id=IG_ACCOUNT_ID, page=page)
    settings.INBOX_STORE_MEDIA = {"FACEBOOK": True, "INSTAGRAM": False}
    post_webhook(client, load_fixture("instagram_reel"))
    assert Attachment.objects.get().state == Attachment.State.LINK
    assert len(http.calls) == 0


def test_a_download_queued_before_the_policy_changed_keeps_the_link_only(client, page, http, settings):
    # A pending row (a retry, a row queued before an upgrade) is checked again when its task runs.
    http.get(IMAGE_1, body=JPEG, content_type="image/jpeg")
    http.get(IMAGE_2, body=JPEG, content_type="image/jpeg")
    with mock.patch("inbox.tasks.attachment_download.apply_async"):
        post_webhook(client, load_fixture("message_image"))
    settings.INBOX_STORE_MEDIA = {"FACEBOOK": False, "INSTAGRAM": False}
    for attachment in Attachment.objects.all():
        run_on_commit(attachment_download.delay, attachment.pk)
    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.LINK}
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("fixture", "kind", "payload_key"),
    [
        ("message_sticker", "sticker", "sticker_id"),
        ("message_location", "location", "coordinates"),
        ("message_fallback", "fallback", "title"),
    ],
)
def test_stickers_locations_and_links_are_kept_as_payload(client, page, http, fixture, kind, payload_key):
    post_webhook(client, load_fixture(fixture))
    attachment = Attachment.objects.get()
    assert attachment.type == kind
    assert attachment.state == Attachment.State.SKIPPED
    assert payload_key in attachment.payload
    assert len(http.calls) == 0


def test_video_audio_and_file_are_downloaded(client, page, http):
    http.get(re.compile(r"https://(video\.xx\.fbcdn\.net|cdn\.fbsbx\.com)/.*"), body=b"media",
             content_type="application/octet-stream")
    for name in ("message_video", "message_audio", "message_file"):
        post_webhook(client, load_fixture(name))
    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.STORED}
    names = sorted(a.file.name.rsplit("/", 1)[-1] for a in Attachment.objects.all())
    assert any(name.startswith("menu-hiver") and name.endswith(".pdf") for name in names)


def test_retry_failed_downloads_later(client, page, http):
    http.get(IMAGE_1, status=503)
    http.get(IMAGE_2, body=b"ok", content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image"))
    failed = Attachment.objects.get(position=0)
    assert failed.state == Attachment.State.FAILED

    http.replace(responses.GET, IMAGE_1, body=JPEG, content_type="image/jpeg")
    assert run_on_commit(attachments_retry_failed) == 1
    failed.refresh_from_db()
    assert failed.state == Attachment.State.STORED
    assert failed.error == ""
    # Nothing left to retry.
    assert run_on_commit(attachments_retry_failed) == 0


def test_retry_picks_up_pending_downloads_whose_task_was_lost(client, page, http):
    http.get(IMAGE_1, body=JPEG, content_type="image/jpeg")
    http.get(IMAGE_2, body=JPEG, content_type="image/jpeg")
    with mock.patch("inbox.tasks.attachment_download.apply_async", side_effect=ConnectionError("broker down")):
        post_webhook(client, load_fixture("message_image"))
    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.PENDING}
    assert run_on_commit(attachments_retry_failed) == 0  # too recent: its task may still be queued
    Attachment.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert run_on_commit(attachments_retry_failed) == 2
    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.STORED}


def test_failed_downloads_are_given_up_after_enough_tries(client, page, http):
    http.get(IMAGE_1, status=404)
    http.get(IMAGE_2, status=404)
    post_webhook(client, load_fixture("message_image"))
    Attachment.objects.update(attempts=10)
    assert run_on_commit(attachments_retry_failed) == 0
    Attachment.objects.update(attempts=1, created_at=timezone.now() - timedelta(days=4))
    assert run_on_commit(attachments_retry_failed) == 0


def test_a_stored_attachment_is_not_downloaded_again(client, page, http):
    http.get(IMAGE_1, body=JPEG, content_type="image/jpeg")
    http.get(IMAGE_2, body=JPEG, content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image"))
    calls = len(http.calls)
    attachment = Attachment.objects.get(position=0)
    run_on_commit(attachment_download.delay, attachment.pk)
    assert len(http.calls) == calls
    # A replayed webhook neither adds rows nor downloads again.
    run_on_commit(webhook_events_replay, event_ids=[WebhookEvent.objects.get().pk])
    assert Attachment.objects.count() == 2
    assert len(http.calls) == calls


def test_a_storage_error_is_retried_and_recorded(client, page, http):
    http.get(IMAGE_1, body=JPEG, content_type="image/jpeg")
    http.get(IMAGE_2, body=JPEG, content_type="image/jpeg")
    with mock.patch("django.core.files.storage.FileSystemStorage.save", side_effect=OSError("disk full")):
        post_webhook(client, load_fixture("message_image"))
    attachment = Attachment.objects.get(position=0)
    assert attachment.state == Attachment.State.FAILED
    assert "disk full" in attachment.error
    assert ChatMessage.objects.count() == 1


def _escaped(url: str) -> bytes:
    return url.replace("/", "\\/").encode()  # as the fixture spells URLs


def test_a_url_on_our_network_is_refused_for_good_with_the_reason(client, page, http):
    inside = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    http.get(IMAGE_2, body=JPEG, content_type="image/jpeg")
    post_webhook(client, load_fixture("message_image").replace(_escaped(IMAGE_1), _escaped(inside)))
    refused = Attachment.objects.get(position=0)
    assert refused.url == inside
    assert refused.state == Attachment.State.FAILED
    assert refused.error == "Refused: http://169.254.169.254 is not an allowed media origin."
    assert not refused.file
    assert [call.request.url for call in http.calls] == [IMAGE_2]  # nothing was asked of that address
    # Policy, not bad luck: neither the task nor the periodic retry tries again.
    assert refused.attempts == MAX_TOTAL_ATTEMPTS
    assert run_on_commit(attachments_retry_failed) == 0
    assert Attachment.objects.get(position=1).state == Attachment.State.STORED
    assert ChatMessage.objects.get().attachments.count() == 2


def test_a_meta_host_resolving_to_our_network_is_refused(client, page, monkeypatch):
    # No `http` fixture: the real transport, whose DNS answer here is a loopback address.
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "scontent.xx.fbcdn.net":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 443))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    post_webhook(client, load_fixture("message_image"))
    for attachment in Attachment.objects.all():
        assert attachment.state == Attachment.State.FAILED
        assert attachment.error == "Refused: scontent.xx.fbcdn.net resolves to a loopback address (127.0.0.1)."
        assert attachment.attempts == MAX_TOTAL_ATTEMPTS
    assert ChatMessage.objects.count() == 1


# --- the embedded default: downloads after the answer, outside the drain's transaction --------------


@pytest.fixture
def runner(settings, transactional_db):
    from config.inprocess_tasks import runner_start, runner_stop

    settings.TASKS_IN_BACKGROUND_THREAD = True
    started = runner_start()
    yield started
    runner_stop()


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_download_runs_after_the_answer_and_the_drains_commit(client, page, runner):
    from django.db import connection

    from inbox.models import WebhookEvent
    from inbox.tests.helpers import sign_payload, webhook_url

    release = threading.Event()
    seen: list[dict] = []

    def download(graph_client, url, *, max_bytes):
        seen.append({
            "thread": threading.current_thread().name,
            "in_transaction": connection.in_atomic_block,
            "event_state": WebhookEvent.objects.get().state,  # the drain has committed its outcome
        })
        release.wait(5)  # Meta's CDN answering slowly
        return JPEG, "image/jpeg"

    body = load_fixture("message_image")
    with mock.patch("social.graph.GraphClient.download", download):
        started = time.monotonic()
        response = client.post(webhook_url(), data=body, content_type="application/json",
                               HTTP_X_HUB_SIGNATURE_256=sign_payload(body))
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 1  # the answer never waits on a download
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Both downloads hang on the task lane, while the message is already in and its event processed.
        assert ChatMessage.objects.count() == 1
        assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
        release.set()
        assert runner.wait_idle(5)
    assert len(seen) == 2
    assert all(call["thread"].startswith("tasks-celery-") for call in seen)
    assert not any(call["in_transaction"] for call in seen)
    assert {call["event_state"] for call in seen} == {WebhookEvent.State.PROCESSED}
    assert set(Attachment.objects.values_list("state", flat=True)) == {Attachment.State.STORED}
