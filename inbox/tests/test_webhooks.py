"""The webhook endpoint: handshake, signature, durable storage before the 200, and its failure modes."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import OperationalError

from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.helpers import (
    FIXTURES,
    PAGE_ID,
    PSID,
    FakeGraph,
    load_fixture,
    post_webhook,
    run_on_commit,
    sign_payload,
    webhook_url,
)

pytestmark = pytest.mark.django_db

ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


# --- GET: the subscription handshake --------------------------------------------------------------


def test_handshake_echoes_the_challenge_as_plain_text(client, settings):
    response = client.get(
        webhook_url(),
        {"hub.mode": "subscribe", "hub.verify_token": settings.FACEBOOK_VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "sandbox-verify-token", "hub.challenge": "1"},
        {"hub.challenge": "1"},
        {},
    ],
)
def test_handshake_with_a_wrong_token_or_mode_is_forbidden(client, params):
    response = client.get(webhook_url(), params)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_handshake_is_refused_when_no_verify_token_is_configured(client, settings):
    settings.FACEBOOK_VERIFY_TOKEN = ""
    response = client.get(webhook_url(), {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403


def test_other_methods_are_not_allowed(client):
    assert client.put(webhook_url(), data=b"{}").status_code == 405


# --- POST: signature ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        None,  # header missing
        "sha256=" + "0" * 64,
        "sha256=zz",
        "sha1=" + "0" * 40,
        "garbage",
    ],
)
def test_a_missing_or_wrong_signature_is_403_and_nothing_is_stored(client, page, signature):
    response = post_webhook(client, load_fixture("message_text"), signature=signature)
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0
    assert ChatMessage.objects.count() == 0


def test_a_body_signed_with_another_secret_is_refused(client, page):
    body = load_fixture("message_text")
    response = post_webhook(client, body, signature=sign_payload(body, secret="someone-elses-secret"))
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_a_signature_of_other_bytes_is_refused(client, page):
    body = load_fixture("message_text")
    # The same JSON re-serialised (as a careless receiver would hash it) is other bytes.
    reserialised = json.dumps(json.loads(body)).encode()
    response = post_webhook(client, body, signature=sign_payload(reserialised))
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_signature_is_checked_with_an_empty_app_secret_refused(client, page, settings):
    body = load_fixture("message_text")
    settings.FACEBOOK_APP_SECRET = ""
    response = post_webhook(client, body, signature=sign_payload(body, secret=""))
    assert response.status_code == 403


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_signed_over_its_exact_bytes_is_stored_verbatim(client, page, name):
    body = load_fixture(name)
    response = post_webhook(client, body, run_tasks=False)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.signature == sign_payload(body)
    assert event.state == WebhookEvent.State.PENDING


def test_escapes_survive_signing_and_decoding(client, page):
    body = load_fixture("message_text")
    assert b"\\u00e9" in body and b"\\ud83d\\ude00" in body and b"\\u0040" in body
    response = post_webhook(client, body)
    assert response.status_code == 200
    message = ChatMessage.objects.get()
    assert message.content == "Un caf\u00e9 pour 2 ? \U0001f600 R\u00e9ponse \u00e0 hello@example.com"


def test_slash_escapes_in_urls_survive(client, page):
    response = post_webhook(client, load_fixture("message_image"))
    assert response.status_code == 200
    message = ChatMessage.objects.get()
    assert message.media_urls[0].startswith("https://scontent.xx.fbcdn.net/v/t1.15752-9/123456789_n.jpg?")


# --- POST: the cheap path -------------------------------------------------------------------------


def test_the_view_makes_one_insert_and_parses_nothing(client, page, django_assert_num_queries):
    body = load_fixture("message_text")
    with mock.patch("inbox.facebook.parsing.parse_body") as parse_body, django_assert_num_queries(1):
        response = post_webhook(client, body, run_tasks=False)
    assert response.status_code == 200
    parse_body.assert_not_called()


def test_processing_is_handed_over_after_commit_once_per_burst(client, page):
    from inbox.ingest.drain import webhook_events_drain

    body = load_fixture("message_text")
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async") as apply_async:
        assert post_webhook(client, body).status_code == 200
        apply_async.assert_called_once()
        # A drain is already queued: the next acks publish nothing.
        assert post_webhook(client, body).status_code == 200
        assert post_webhook(client, body).status_code == 200
        apply_async.assert_called_once()
        assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PENDING}

        # The drain clears the flag before it claims: the first event stored after it queues the next.
        assert run_on_commit(webhook_events_drain) == 3
        assert post_webhook(client, body).status_code == 200
        assert apply_async.call_count == 2
    assert ChatMessage.objects.count() == 1
    assert WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).count() == 3


def test_without_a_shared_cache_every_webhook_queues_a_drain(client, page, settings):
    """A cache local to the web process cannot tell the worker's drain apart: no flag then."""
    settings.INBOX_WEBHOOK_WAKE_URL = ""
    body = load_fixture("message_text")
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async") as apply_async:
        for _ in range(3):
            assert post_webhook(client, body).status_code == 200
    assert apply_async.call_count == 3


def test_a_signed_body_that_is_not_json_is_stored_and_marked_failed(client, page):
    body = b'{"object":"page","entry":[{"id":'
    response = post_webhook(client, body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.state == WebhookEvent.State.FAILED
    assert "not valid JSON" in event.last_error
    assert event.attempts == 1


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8", b"[1, 2]", b'{"object": "page"}', b"", b"\x00"])
def test_other_signed_junk_is_stored_and_failed_never_a_500(client, page, body):
    response = post_webhook(client, body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.state == WebhookEvent.State.FAILED
    assert event.last_error


def test_an_oversized_body_is_refused_with_413(client, page, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"object": "page", "entry": [], "pad": "x" * 2000}).encode()
    response = post_webhook(client, body)
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_duplicates_store_every_delivery_but_one_message(client, page):
    body = load_fixture("message_text")
    for _ in range(3):
        assert post_webhook(client, body).status_code == 200
    assert WebhookEvent.objects.count() == 3
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    assert ChatMessage.objects.count() == 1
    assert ChatMessage.objects.get().conversation.unread_count == 1


# --- POST: outages --------------------------------------------------------------------------------


def test_database_down_answers_503_and_meta_retry_stores_the_message_once(client, page):
    body = load_fixture("message_text")
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("connection refused")
    ):
        response = post_webhook(client, body)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert WebhookEvent.objects.count() == 0

    # Meta retries the same bytes; later it even redelivers them once more.
    assert post_webhook(client, body).status_code == 200
    assert post_webhook(client, body).status_code == 200
    assert ChatMessage.objects.filter(message_id__startswith="m_Zm9vYmFy").count() == 1
    assert ChatMessage.objects.get().conversation.unread_count == 1


def test_broker_down_still_answers_200_and_the_requeue_task_recovers(client, page):
    from inbox.tasks import webhook_events_requeue_stale

    body = load_fixture("message_text")
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async", side_effect=ConnectionError("broker down")):
        response = post_webhook(client, body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PENDING
    assert ChatMessage.objects.count() == 0

    # Not stale yet: left alone.
    assert run_on_commit(webhook_events_requeue_stale) == 0
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=event.received_at.replace(year=2020))
    assert run_on_commit(webhook_events_requeue_stale) == 1
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.get().message_id.startswith("m_Zm9vYmFy")
    # Processed events are not requeued again.
    assert run_on_commit(webhook_events_requeue_stale) == 0


def test_webhook_never_needs_a_session_or_user(client, page):
    body = load_fixture("message_text")
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load") as load:
        response = post_webhook(client, body, run_tasks=False)
    assert response.status_code == 200
    load.assert_not_called()
    assert "sessionid" not in response.cookies


def test_the_sender_is_known_from_the_fixture(client, page):
    # Guard against fixture drift: the tests above assume this page and customer.
    data = json.loads(load_fixture("message_text"))
    assert data["entry"][0]["id"] == PAGE_ID
    assert data["entry"][0]["messaging"][0]["sender"]["id"] == PSID


def test_processing_does_not_wait_for_the_disk_but_the_ack_does(client, page):
    """The raw event's INSERT (the ack) is durable; applying it may skip the WAL flush, since a lost
    commit leaves the event pending and it is applied again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inbox.ingest.drain import webhook_event_process

    body = load_fixture("message_text")
    with CaptureQueriesContext(connection) as ack, mock.patch("inbox.ingest.receive.webhook_events_wake"):
        assert post_webhook(client, body).status_code == 200
    assert not any("synchronous_commit" in q["sql"] for q in ack.captured_queries)

    event = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=event.pk).update(state=WebhookEvent.State.PENDING)
    with CaptureQueriesContext(connection) as processing:
        webhook_event_process(event_id=event.pk)
    relaxed = [q["sql"] for q in processing.captured_queries if "synchronous_commit" in q["sql"]]
    assert relaxed == (["SET LOCAL synchronous_commit TO OFF"] if connection.vendor == "postgresql" else [])
    assert ChatMessage.objects.count() == 1


def test_the_adapters_path_is_where_the_urlconf_mounts_the_view():
    from django.urls import reverse

    from inbox.ingest.receive import FACEBOOK_WEBHOOK_PATH

    assert reverse("webhooks:facebook") == FACEBOOK_WEBHOOK_PATH
