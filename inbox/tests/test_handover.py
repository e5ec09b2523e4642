"""Handover Protocol: who owns a thread (webhooks, standby events, Meta's answer), taking it back and
passing it to Page Inbox through the sandbox's Graph API, and replies refused while another app has it."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from inbox import realtime
from inbox.models import PAGE_INBOX_APP_ID, UNKNOWN_APP, ChatMessage, Conversation
from inbox.services import handover, replies
from inbox.tests.factories import ConversationFactory
from inbox.tests.helpers import FakeGraph, post_webhook
from sandbox import payloads
from sandbox.graph_handover import owner_of
from sandbox.models import Fault, Page, ThreadControl
from sandbox.testing import page_on_sandbox, sandbox_http_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

PAGE_ID = "104857600123456"
GIULIA = "7012345678901234"  # a customer of the sandbox's Bakery Rossi


@pytest.fixture(autouse=True)
def _graph():
    with FakeGraph() as fake:  # profile lookups of new customers answered at once
        yield fake


@pytest.fixture
def conversation(page):
    return ConversationFactory(account=page, contact__account=page, contact__external_id=GIULIA)


@pytest.fixture
def on_sandbox(sandbox_http, page):
    """The business's page holds a real sandbox Page token, so calls go through the sandbox's Graph API."""
    return page_on_sandbox(page)


def handover_body(kind: str, *, previous: str = "", new: str = "", at_ms: int | None = None) -> bytes:
    body = {"previous_owner_app_id": previous, "metadata": "from the test"}
    if new:
        body["new_owner_app_id"] = new
    item = {"sender": {"id": GIULIA}, "recipient": {"id": PAGE_ID}, "timestamp": at_ms or payloads.now_ms(), kind: body}
    return payloads.encode(payloads.envelope(object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[item])]))


def ours() -> str:
    return str(settings.FACEBOOK_APP_ID)


def detail(client, conversation) -> str:
    return client.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()


# --- webhooks ------------------------------------------------------------------------------------------


def test_pass_to_page_inbox_shows_the_chip_and_a_line(client_member, page, conversation):
    post_webhook(client_member, handover_body("pass_thread_control", previous=ours(), new=PAGE_INBOX_APP_ID))

    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == PAGE_INBOX_APP_ID
    html = detail(client_member, conversation)
    assert "Thread: Page Inbox" in html
    assert reverse("inbox:thread_take", args=[conversation.public_id]) in html
    assert "Page Inbox has this conversation: Meta refuses replies from this inbox" in html
    assert ChatMessage.objects.filter(conversation=conversation, kind=ChatMessage.Kind.NOTICE).count() == 1


def test_take_from_us_then_pass_back_makes_it_ours_again(client_member, page, conversation):
    post_webhook(client_member, handover_body("take_thread_control", previous=ours()))
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == UNKNOWN_APP
    assert "Thread: another app" in detail(client_member, conversation)

    post_webhook(client_member, handover_body("pass_thread_control", previous=PAGE_INBOX_APP_ID, new=ours()))
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == ""
    html = detail(client_member, conversation)
    assert "Thread:" not in html
    assert reverse("inbox:thread_pass", args=[conversation.public_id]) in html


def test_a_late_redelivered_handover_does_not_undo_a_newer_one(client_member, page, conversation):
    now = payloads.now_ms()
    post_webhook(client_member, handover_body("pass_thread_control", previous=PAGE_INBOX_APP_ID, new=ours(), at_ms=now))
    post_webhook(client_member, handover_body("pass_thread_control", previous=ours(), new=PAGE_INBOX_APP_ID,
                                              at_ms=now - 60_000))

    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == ""


def test_a_request_for_control_changes_no_owner(client_member, page, conversation):
    item = {"sender": {"id": GIULIA}, "recipient": {"id": PAGE_ID}, "timestamp": payloads.now_ms(),
            "request_thread_control": {"requested_owner_app_id": PAGE_INBOX_APP_ID, "metadata": "please"}}
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[item])])))

    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == ""
    assert ChatMessage.objects.filter(conversation=conversation, kind=ChatMessage.Kind.NOTICE).exists()


def test_a_standby_message_is_stored_shown_and_marks_the_thread(client_member, page, conversation):
    post_webhook(client_member, handover_body("pass_thread_control", previous=ours(), new=PAGE_INBOX_APP_ID,
                                              at_ms=payloads.now_ms() - 5_000))
    item = payloads.text_message(page_id=PAGE_ID, psid=GIULIA, text="Are you open today?", mid="m_standby_1")
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[item], field="standby")])))

    message = ChatMessage.objects.get(message_id="m_standby_1")
    assert message.conversation_id == conversation.pk
    assert message.extra["standby"] is True and message.extra["standby_app_id"] == PAGE_INBOX_APP_ID
    html = detail(client_member, conversation)
    assert "Are you open today?" in html
    assert "Received while Page Inbox had the thread" in html


def test_a_standby_message_in_a_thread_we_thought_ours_marks_another_app(client_member, page, conversation):
    item = payloads.text_message(page_id=PAGE_ID, psid=GIULIA, text="Hello?", mid="m_standby_2")
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[item], field="standby")])))

    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == UNKNOWN_APP
    assert "Received while another app had the thread" in detail(client_member, conversation)


def test_a_postback_shows_its_title_and_payload(client_member, page, conversation):
    item = payloads._item(sender=GIULIA, recipient=PAGE_ID, timestamp_ms=None,
                          postback={"mid": "m_postback_1", "title": "Opening hours", "payload": "HOURS_PAYLOAD"})
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[item])])))

    html = detail(client_member, conversation)
    assert "Opening hours" in html and "HOURS_PAYLOAD" in html


def test_a_handover_webhook_pushes_the_header_to_open_pages(client_member, page, conversation, monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(realtime, "publish", lambda **kwargs: sent.append(kwargs))

    post_webhook(client_member, handover_body("pass_thread_control", previous=ours(), new=PAGE_INBOX_APP_ID))

    assert [push["pane_ids"] for push in sent] == [(conversation.pk,)]  # header and composer, not just the row


def test_the_pushed_composer_changes_state_with_the_owner(page, conversation):
    """Open pages swap a pushed composer in only when its data-state differs (static/js/inbox.js)."""
    def composer_state() -> str:
        html = realtime.render_live(business_id=conversation.business_id, conversation_ids=[conversation.pk])
        return re.search(rf'id="composer-{conversation.pk}"[^>]*data-state="([^"]*)"', html).group(1)

    ours_state = composer_state()
    Conversation.objects.filter(pk=conversation.pk).update(thread_owner_app_id=PAGE_INBOX_APP_ID)
    assert composer_state() == f"{ours_state} handover"


# --- take and pass through the sandbox ---------------------------------------------------------------


def test_take_control_is_pushed_live_to_everyone(client_member, on_sandbox, conversation, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    sent: list[dict] = []
    monkeypatch.setattr(realtime, "publish", lambda **kwargs: sent.append(kwargs))
    Conversation.objects.filter(pk=conversation.pk).update(thread_owner_app_id=PAGE_INBOX_APP_ID)

    with django_capture_on_commit_callbacks(execute=True):
        client_member.post(reverse("inbox:thread_take", args=[conversation.public_id]), HTTP_HX_REQUEST="true")

    assert sent == [{"business_id": conversation.business_id, "conversation_ids": (conversation.pk,),
                     "message_ids": (), "pane_ids": None}]


def test_take_control_through_the_sandbox(client_member, member, on_sandbox, conversation):
    ThreadControl.objects.create(page=on_sandbox, psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    Conversation.objects.filter(pk=conversation.pk).update(thread_owner_app_id=PAGE_INBOX_APP_ID)

    response = client_member.post(reverse("inbox:thread_take", args=[conversation.public_id]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == ""
    assert owner_of(on_sandbox, GIULIA) == ours()
    assert "Thread:" not in response.content.decode()  # the header pushed back has no chip
    event = AuditEvent.objects.get(action="conversation.thread_take")
    assert event.actor == member and event.metadata["previous_owner"] == PAGE_INBOX_APP_ID
    call = AuditEvent.objects.get(action="graph.call", metadata__path=f"/{PAGE_ID}/take_thread_control")
    assert call.actor == member and call.metadata["status"] == 200


def test_pass_to_page_inbox_through_the_sandbox(client_member, on_sandbox, conversation):
    response = client_member.post(reverse("inbox:thread_pass", args=[conversation.public_id]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == PAGE_INBOX_APP_ID
    assert owner_of(on_sandbox, GIULIA) == PAGE_INBOX_APP_ID
    assert "Thread: Page Inbox" in response.content.decode()
    assert AuditEvent.objects.filter(action="conversation.thread_pass").exists()


def test_passing_a_thread_we_do_not_own_is_refused_clearly(client_member, on_sandbox, conversation):
    ThreadControl.objects.create(page=on_sandbox, psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)

    response = client_member.post(reverse("inbox:thread_pass", args=[conversation.public_id]), HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert response.content.decode() == "Meta refused: (#100) calling app is not the thread owner"
    assert AuditEvent.objects.filter(action="conversation.thread_pass_failed").exists()
    call = AuditEvent.objects.get(action="graph.call", metadata__path=f"/{PAGE_ID}/pass_thread_control")
    assert (call.metadata["status"], call.metadata["error_code"]) == (400, 100)
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == ""


def test_a_sandbox_fault_on_take_is_a_clear_message(client_member, on_sandbox, conversation):
    Fault.objects.create(path=f"/{PAGE_ID}/take_thread_control", remaining=1, code=2, http_status=500)

    response = client_member.post(reverse("inbox:thread_take", args=[conversation.public_id]))

    assert response.status_code == 302
    shown = client_member.get(response["Location"]).content.decode()
    assert "Meta is not answering right now; try again in a moment." in shown


def test_check_asks_meta_who_owns_the_thread(client_member, on_sandbox, conversation):
    ThreadControl.objects.create(page=on_sandbox, psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)

    response = client_member.post(reverse("inbox:thread_owner_check", args=[conversation.public_id]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == PAGE_INBOX_APP_ID


@pytest.mark.parametrize("name", ["inbox:thread_take", "inbox:thread_pass", "inbox:thread_owner_check"])
def test_another_business_gets_404(client_other, conversation, name):
    assert client_other.post(reverse(name, args=[conversation.public_id])).status_code == 404


@pytest.mark.parametrize("name", ["inbox:thread_take", "inbox:thread_pass", "inbox:thread_owner_check"])
def test_the_actions_are_posts(client_member, conversation, name):
    assert client_member.get(reverse(name, args=[conversation.public_id])).status_code == 405


# --- replies while another app owns the thread ---------------------------------------------------------


def test_a_reply_while_page_inbox_owns_the_thread_fails_with_a_clear_error(on_sandbox, member, conversation,
                                                                            django_capture_on_commit_callbacks):
    ThreadControl.objects.create(page=on_sandbox, psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    Conversation.objects.filter(pk=conversation.pk).update(
        thread_owner_app_id=PAGE_INBOX_APP_ID, last_inbound_at=timezone.now() - timedelta(minutes=5)
    )
    conversation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        message = replies.reply_send(conversation=conversation, user=member, text="We are open until 6")

    assert replies.reply_deliver(message_id=message.pk) == "failed"

    message.refresh_from_db()
    assert message.status == ChatMessage.Status.FAILED and message.error_code == 10
    assert message.error.startswith("Page Inbox controls this conversation: use Take control in the header")
    assert "another app is controlling this thread now" in message.error


def test_a_refused_reply_teaches_us_another_app_owns_the_thread(on_sandbox, member, conversation,
                                                                django_capture_on_commit_callbacks):
    ThreadControl.objects.create(page=on_sandbox, psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    with django_capture_on_commit_callbacks(execute=False):
        message = replies.reply_send(conversation=conversation, user=member, text="Hello")

    replies.reply_deliver(message_id=message.pk)

    conversation.refresh_from_db()
    assert conversation.thread_owner_app_id == UNKNOWN_APP
    message.refresh_from_db()
    assert message.error.startswith("Another app controls this conversation")


# --- the owner's rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "new", "previous", "expected"), [
    ("pass_thread_control", PAGE_INBOX_APP_ID, "", (True, PAGE_INBOX_APP_ID)),
    ("take_thread_control", "", "ours", (True, UNKNOWN_APP)),
    ("take_thread_control", "", PAGE_INBOX_APP_ID, (True, None)),
    ("take_thread_control", "999", "ours", (True, "999")),
    ("request_thread_control", "", "", (False, None)),
])
def test_thread_control_owner(kind, new, previous, expected):
    previous = ours() if previous == "ours" else previous
    assert handover.thread_control_owner(kind=kind, new_owner_app_id=new or None,
                                         previous_owner_app_id=previous or None) == expected


def test_control_thread_sends_the_take_webhook_like_meta(sandbox_http, client, settings, page, conversation):
    settings.SANDBOX_WEBHOOK_URL = "http://sandbox.test" + reverse("webhooks:facebook")
    response = client.post(reverse("sandbox:control_thread"), data=json.dumps(
        {"page_id": PAGE_ID, "psid": GIULIA, "owner_app_id": PAGE_INBOX_APP_ID}), content_type="application/json")

    assert response.status_code == 200, response.content
    assert response.json()["webhook"] == "take_thread_control"
    assert owner_of(Page.objects.get(page_id=PAGE_ID), GIULIA) == PAGE_INBOX_APP_ID
