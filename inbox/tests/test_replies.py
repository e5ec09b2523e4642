from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
import requests
import responses
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import ChatMessage, Conversation
from inbox.services import replies
from inbox.services.replies import ReplyError, ReplyRetryLater, reply_deliver, reply_retry, reply_send, reply_window
from inbox.tasks import message_send
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from social.models import SocialAccount

pytestmark = pytest.mark.django_db

PSID = "7012345678901234"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def conversation(page):
    return ConversationFactory(
        contact=ContactFactory(account=page, external_id=PSID), last_inbound_at=timezone.now() - timedelta(hours=1)
    )


@pytest.fixture
def graph():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _send_url(page) -> str:
    return f"{settings.FACEBOOK_GRAPH_URL.rstrip('/')}/{page.account_id}/messages"


def _ok(graph, page, mid="m_sent_0001"):
    graph.add(responses.POST, _send_url(page), json={"recipient_id": PSID, "message_id": mid}, status=200)


def _error(graph, page, *, status, code, subcode=None, message="Error"):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCd"}
    if subcode:
        error["error_subcode"] = subcode
    graph.add(responses.POST, _send_url(page), json={"error": error}, status=status)


def _queued(conversation, member, *, text="Hello!", **kwargs) -> ChatMessage:
    with mock.patch("inbox.tasks.message_send.apply_async"):
        return reply_send(conversation=conversation, user=member, text=text, **kwargs)


def _sent_body(graph) -> dict:
    return json.loads(graph.calls[-1].request.body)


# --- the messaging window --------------------------------------------------------------------------------


def test_window_inside_24_hours_is_a_response(conversation):
    window = reply_window(conversation=conversation)
    assert (window.state, window.messaging_type, window.tag, window.allowed) == ("open", "RESPONSE", "", True)


def test_window_after_24_hours_is_locked_with_the_reason(conversation):
    conversation.last_inbound_at = timezone.now() - timedelta(hours=30)
    window = reply_window(conversation=conversation)
    assert not window.allowed
    assert "24 hours" in window.reason
    assert window.closed_at == conversation.last_inbound_at + timedelta(hours=24)


def test_window_after_24_hours_uses_human_agent_when_approved(conversation, page):
    page.human_agent_enabled = True
    conversation.last_inbound_at = timezone.now() - timedelta(days=3)
    window = reply_window(conversation=conversation)
    assert (window.state, window.messaging_type, window.tag) == ("human_agent", "MESSAGE_TAG", "HUMAN_AGENT")
    conversation.last_inbound_at = timezone.now() - timedelta(days=8)
    window = reply_window(conversation=conversation)
    assert not window.allowed and "7 days" in window.reason


def test_window_is_locked_without_a_customer_message_or_a_healthy_page(conversation, page):
    conversation.last_inbound_at = None
    assert not reply_window(conversation=conversation).allowed
    conversation.last_inbound_at = timezone.now()
    page.status = SocialAccount.Status.NEEDS_RECONNECT
    window = reply_window(conversation=conversation)
    assert not window.allowed and "reconnect" in window.reason


# --- queueing -----------------------------------------------------------------------------------------


def test_reply_send_queues_an_outbound_row_and_enqueues_after_commit(
    conversation, member, django_capture_on_commit_callbacks
):
    with mock.patch("inbox.tasks.message_send.apply_async") as delay, mock.patch(
        "inbox.services.replies.publish_on_commit"
    ) as publish, django_capture_on_commit_callbacks(execute=True):
        message = reply_send(conversation=conversation, user=member, text="  We open at 9.  ")
    assert (message.direction, message.status, message.source) == ("outbound", "queued", "inbox")
    assert message.content == "We open at 9."
    assert message.sent_by == member and len(message.client_token) == 32
    assert message.message_id is None and message.messaging_type == "RESPONSE"
    assert delay.call_args.args[0] == (message.pk,)
    publish.assert_called_once()
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "We open at 9."
    assert conversation.last_message_direction == "outbound"
    assert AuditEvent.objects.filter(action="message.reply_queued", target_id=str(message.pk), actor=member).exists()


def test_reply_send_outside_the_window_refuses(conversation, member):
    conversation.last_inbound_at = timezone.now() - timedelta(days=2)
    with pytest.raises(ReplyError, match="24 hours"):
        _queued(conversation, member)
    assert not ChatMessage.objects.filter(conversation=conversation).exists()


def test_reply_text_limits(conversation, member, page):
    with pytest.raises(ReplyError, match="2000"):
        _queued(conversation, member, text="x" * 2001)
    page.platform = "INSTAGRAM"
    conversation.platform = "INSTAGRAM"
    with pytest.raises(ReplyError, match="1000 bytes"):
        _queued(conversation, member, text="\u00e9" * 501)


def test_reply_refuses_oversized_images(conversation, member):
    big = SimpleUploadedFile("big.jpg", b"x", content_type="image/jpeg")
    big.size = 25 * 1024 * 1024 + 1  # Meta's limit for any asset it uploads
    with pytest.raises(ReplyError, match="25 MB"):
        _queued(conversation, member, text="", upload=big)
    conversation.platform = "INSTAGRAM"
    big.size = 8 * 1024 * 1024 + 1  # Instagram's images
    with pytest.raises(ReplyError, match="8 MB"):
        _queued(conversation, member, text="", upload=big)
    assert not ChatMessage.objects.filter(conversation=conversation).exists()


# --- sending -----------------------------------------------------------------------------------------


def test_deliver_inside_the_window_sends_a_response_with_the_token(graph, conversation, member, page):
    earlier = ChatMessageFactory(conversation=conversation, timestamp=timezone.now() - timedelta(minutes=5))
    message = _queued(conversation, member)
    later = ChatMessageFactory(conversation=conversation, timestamp=timezone.now() + timedelta(minutes=1))
    _ok(graph, page, mid="m_reply_1")
    assert reply_deliver(message_id=message.pk) == "sent"
    body = _sent_body(graph)
    assert body["messaging_type"] == "RESPONSE" and "tag" not in body
    assert body["recipient"] == {"id": PSID}
    assert body["message"] == {"text": "Hello!", "metadata": message.client_token}
    message.refresh_from_db()
    assert (message.status, message.message_id, message.send_attempts) == ("sent", "m_reply_1", 1)
    assert message.sent_at is not None
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert earlier.is_replied is True and later.is_replied is False
    assert AuditEvent.objects.filter(action="message.reply_sent", target_id=str(message.pk)).exists()


def test_deliver_after_24_hours_uses_human_agent(graph, conversation, member, page):
    page.human_agent_enabled = True
    page.save(update_fields=["human_agent_enabled"])
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    conversation.refresh_from_db()
    message = _queued(conversation, member)
    assert message.messaging_type == "MESSAGE_TAG"
    _ok(graph, page)
    assert reply_deliver(message_id=message.pk) == "sent"
    body = _sent_body(graph)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_deliver_refuses_when_the_window_closed_while_queued(graph, conversation, member):
    message = _queued(conversation, member)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    assert reply_deliver(message_id=message.pk) == "failed"
    assert len(graph.calls) == 0
    message.refresh_from_db()
    assert message.status == "failed" and "24 hours" in message.error


def test_deliver_permanent_error_fails_with_metas_reason(graph, conversation, member, page):
    message = _queued(conversation, member)
    _error(graph, page, status=400, code=551, message="This person isn't available right now.")
    assert reply_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error == "This person isn't available right now."
    assert message.error_code == 551
    assert len(graph.calls) == 1


def test_deliver_invalid_token_fails_and_flags_the_page(graph, conversation, member, page):
    message = _queued(conversation, member)
    _error(graph, page, status=400, code=190, subcode=460, message="Error validating access token")
    assert reply_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    page.refresh_from_db()
    assert message.status == "failed" and message.error_code == 190 and "reconnect" in message.error
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT


def test_deliver_transient_error_asks_for_a_retry_and_keeps_the_row_queued(graph, conversation, member, page):
    message = _queued(conversation, member)
    graph.add(responses.POST, _send_url(page), body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ReplyRetryLater) as excinfo:
        reply_deliver(message_id=message.pk)
    assert excinfo.value.countdown >= 30  # long enough for the echo of a send that did go out
    message.refresh_from_db()
    assert message.status == "queued" and message.message_id is None and "confirm" in message.error
    assert message.extra[replies.UNCONFIRMED_KEY] is True


def test_retry_after_the_echo_arrived_does_not_send_twice(graph, conversation, member, page):
    message = _queued(conversation, member)
    graph.add(responses.POST, _send_url(page), body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ReplyRetryLater):
        reply_deliver(message_id=message.pk)
    # The send did reach Meta: its echo (matched on client_token by ingest) gives the row its mid.
    ChatMessage.objects.filter(pk=message.pk).update(message_id="m_from_echo", status="sent")
    _ok(graph, page)
    assert reply_deliver(message_id=message.pk) == "skipped"
    assert len(graph.calls) == 1


def test_task_retries_a_transient_error_until_sent(graph, conversation, member, page):
    message = _queued(conversation, member)
    _error(graph, page, status=503, code=1200, message="Temporary send message failure")
    _ok(graph, page, mid="m_after_retry")
    graph.add(responses.POST, _send_url(page), json={"error": {"code": 1200, "message": "x"}}, status=503)
    with mock.patch("inbox.services.replies._retry_countdown", return_value=0):
        message_send.delay(message.pk)
    message.refresh_from_db()
    assert (message.status, message.message_id) == ("sent", "m_after_retry")


def test_task_stops_retrying_once_the_echo_arrived(graph, conversation, member, page):
    message = _queued(conversation, member)

    def timeout_then_echo(request):
        ChatMessage.objects.filter(pk=message.pk).update(message_id="m_echo", status="sent")
        raise requests.ReadTimeout("read timed out")

    graph.add_callback(responses.POST, _send_url(page), callback=timeout_then_echo)
    message_send.delay(message.pk)
    assert len(graph.calls) == 1
    message.refresh_from_db()
    assert (message.status, message.message_id) == ("sent", "m_echo")


def test_an_unconfirmed_send_is_never_repeated_automatically(graph, conversation, member, page):
    # A read timeout may mean Meta delivered it: without an echo, staff decide, not a timer.
    message = _queued(conversation, member)
    graph.add(responses.POST, _send_url(page), body=requests.ReadTimeout("read timed out"))
    message_send.delay(message.pk)
    message.refresh_from_db()
    assert message.status == "failed" and message.error == replies.UNCONFIRMED_ERROR
    assert len(graph.calls) == 1


def test_retry_by_hand_after_an_unconfirmed_send_sends_again(graph, conversation, member, page):
    message = _queued(conversation, member)
    graph.add(responses.POST, _send_url(page), body=requests.ReadTimeout("read timed out"))
    message_send.delay(message.pk)
    message.refresh_from_db()
    _ok(graph, page, mid="m_by_hand")
    with mock.patch("inbox.services.replies._enqueue_send"):
        replies.reply_retry(message=message, user=member)
    assert reply_deliver(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.message_id) == ("sent", "m_by_hand")
    assert replies.UNCONFIRMED_KEY not in message.extra


def test_task_gives_up_after_the_last_retry(graph, conversation, member, page):
    # Meta answered with an error body each time, so nothing went out and retrying is safe.
    message = _queued(conversation, member)
    graph.add(responses.POST, _send_url(page), json={"error": {"code": 1200, "message": "x"}}, status=503)
    with mock.patch("inbox.services.replies._retry_countdown", return_value=0):
        message_send.delay(message.pk)
    message.refresh_from_db()
    assert message.status == "failed" and "after 6 tries" in message.error
    assert message.send_attempts == 6
    assert len(graph.calls) == 6  # one call per try: only the task retries, the client never repeats a call


def test_concurrent_delivery_is_kept_apart(graph, conversation, member, page):
    message = _queued(conversation, member)
    cache.add(f"inbox:reply-send:{message.pk}", "1")
    with pytest.raises(ReplyRetryLater):
        reply_deliver(message_id=message.pk)
    assert len(graph.calls) == 0


def test_attachment_reply_is_uploaded_then_sent_by_its_attachment_id(graph, conversation, member, page):
    upload = SimpleUploadedFile("menu.pdf", b"%PDF-1.4", content_type="application/pdf")
    message = _queued(conversation, member, text="", upload=upload)
    graph.add(responses.POST, _send_url(page).replace("/messages", "/message_attachments"),
              json={"attachment_id": "1857777774821032"})
    _ok(graph, page)
    assert reply_deliver(message_id=message.pk) == "sent"
    assert b'name="filedata"; filename="menu.pdf"' in graph.calls[0].request.body
    attachment = _sent_body(graph)["message"]["attachment"]
    assert attachment == {"type": "file", "payload": {"attachment_id": "1857777774821032"}}


# --- retry by hand -----------------------------------------------------------------------------------------


def test_retry_requeues_the_same_row_with_the_same_token(conversation, member, django_capture_on_commit_callbacks):
    message = _queued(conversation, member)
    token = message.client_token
    replies.reply_fail(message_id=message.pk, error="boom", error_code=2)
    message.refresh_from_db()
    with mock.patch("inbox.tasks.message_send.apply_async") as delay, django_capture_on_commit_callbacks(execute=True):
        retried = reply_retry(message=message, user=member)
    assert (retried.pk, retried.status, retried.client_token, retried.error) == (message.pk, "queued", token, "")
    assert delay.call_args.args[0] == (message.pk,)
    assert AuditEvent.objects.filter(action="message.reply_retried", target_id=str(message.pk)).exists()


def test_retry_of_a_message_that_is_not_failed_is_refused(conversation, member):
    message = _queued(conversation, member)
    with pytest.raises(ReplyError):
        reply_retry(message=message, user=member)
    inbound = ChatMessageFactory(conversation=conversation, status="failed")
    with pytest.raises(ReplyError):
        reply_retry(message=inbound, user=member)
