"""Notices from Meta that staff should see: policy enforcement on a Page, handovers and opt-ins.

Handover and opt-in bodies are captured ones (``fixtures/captured/``). Meta publishes the
policy-enforcement item alone (its webhook reference, quoted in ``POLICY_BLOCK_ITEM``); it is posted
inside the envelope every messaging event arrives in (docs/messenger-platform.md §3).
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse

from inbox.models import ChatMessage, Conversation, WebhookEvent
from inbox.tests.helpers import PAGE_ID, FakeGraph, post_webhook
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

CAPTURED = Path(__file__).parent / "fixtures" / "captured"
PASS = "messenger_pass_thread_control__botbuilder.json"
TAKE = "messenger_take_thread_control__botbuilder.json"
REQUEST = "messenger_request_thread_control__botbuilder.json"
OPTIN = "messenger_optin__messenger4j.json"
HANDOVER_PSID = "6900000000000001"

# developers.facebook.com/docs/messenger-platform/reference/webhook-events/messaging_policy_enforcement
POLICY_BLOCK_ITEM = {
    "recipient": {"id": "PAGE_ID"},
    "timestamp": 1458692752478,
    "policy_enforcement": {
        "action": "block",
        "reason": "The bot violated our Platform Policies (https://developers.facebook.com/devpolicy/#messengerplatform)."
        " Common violations include sending out excessive spammy messages or being non-functional.",
    },
}


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def captured(name: str) -> bytes:
    return (CAPTURED / name).read_bytes()


def handover(name: str) -> bytes:
    """A captured handover body with a customer: as published, its sender, recipient and Page are all
    "fakeId", which names no customer (an account is never its own), so the sender becomes a PSID."""
    data = json.loads(captured(name))
    for entry in data["entry"]:
        for item in entry["messaging"]:
            item["sender"]["id"] = HANDOVER_PSID
    return json.dumps(data).encode()


def entry_ids(body: bytes) -> list[str]:
    return [str(entry["id"]) for entry in json.loads(body)["entry"]]


@pytest.fixture
def fake_page(business):
    """The captured handover bodies name their Page "fakeId"; it is this business's."""
    return SocialAccountFactory(business=business, account_id="fakeId", account_name="Bakery Rossi")


def policy_body(*items: dict, page_id: str = PAGE_ID) -> bytes:
    routed = [{**item, "recipient": {"id": page_id}} for item in items]
    return json.dumps(
        {"object": "page", "entry": [{"id": page_id, "time": 1458692752478, "messaging": routed}]}
    ).encode()


def policy_item(action: str, *, timestamp: int, key: str = "policy_enforcement", reason: str | None = None) -> dict:
    body: dict = {"action": action}
    if reason is not None:
        body["reason"] = reason
    return {"recipient": {"id": PAGE_ID}, "timestamp": timestamp, key: body}


# --- handover and opt-in lines in the thread --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (PASS, "Thread control passed to app 1234567890 (Pass thread control)"),
        (TAKE, "Thread control taken from app 1234567890 (Take thread control from a secondary receiver)"),
        (REQUEST, "App 1234567890 asked for thread control"),
    ],
)
def test_a_handover_is_a_line_in_the_thread(client, fake_page, name, text):
    response = post_webhook(client, handover(name))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    notice = ChatMessage.objects.get()  # before: nothing stored, one INFO line in the log
    assert (notice.kind, notice.source, notice.content) == (ChatMessage.Kind.NOTICE, ChatMessage.Source.META, text)
    assert notice.is_read
    conversation = notice.conversation
    assert conversation.account == fake_page
    # A notice is not a message from the customer: nothing to read, nothing to preview.
    assert conversation.unread_count == 0
    assert conversation.last_message_preview == ""


def test_a_redelivered_handover_is_stored_once(client, fake_page):
    post_webhook(client, handover(PASS))
    post_webhook(client, handover(PASS))

    assert ChatMessage.objects.count() == 1
    assert WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).count() == 2


def test_an_opt_in_is_a_line_in_the_thread(client, business):
    body = captured(OPTIN)
    SocialAccountFactory(business=business, account_id=entry_ids(body)[0])

    post_webhook(client, body)

    notice = ChatMessage.objects.get()
    assert notice.kind == ChatMessage.Kind.NOTICE
    assert notice.content == "The customer opted in: PASS_THROUGH_PARAM"
    assert notice.conversation.contact.external_id == "USER_ID"


def test_a_marketing_opt_in_keeps_no_token(client, page):
    item = {
        "sender": {"id": "7100000000000001"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1780000000000,
        "optin": {
            "type": "notification_messages",
            "payload": "ADDITIONAL-INFORMATION",
            "title": "Weekly offers",
            "notification_messages_token": "SECRET-NOTIFICATION-TOKEN",
            "notification_messages_frequency": "WEEKLY",
            "notification_messages_status": "RESUME_NOTIFICATIONS",
        },
    }
    body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1780000000000, "messaging": [item]}]})

    post_webhook(client, body.encode())

    notice = ChatMessage.objects.get()
    assert notice.content == "The customer resumed marketing messages: Weekly offers"
    assert "SECRET-NOTIFICATION-TOKEN" not in json.dumps(notice.extra) + notice.content


def test_a_thread_notice_is_pushed_to_open_screens(client, fake_page):
    with mock.patch("inbox.ingest.drain.publish_on_commit") as publish:
        post_webhook(client, handover(PASS))

    notice = ChatMessage.objects.get()
    publish.assert_called_once()
    assert publish.call_args.kwargs["business_id"] == fake_page.business_id
    assert publish.call_args.kwargs["message_ids"] == [notice.pk]


def test_the_thread_shows_the_notice_to_its_business_only(client, fake_page, client_member):
    post_webhook(client, handover(PASS))
    conversation = Conversation.objects.get()
    url = reverse("inbox:conversation_detail", args=[conversation.public_id])

    assert "Thread control passed to app 1234567890" in client_member.get(url).content.decode()


def test_another_business_never_sees_the_thread_notice(client, fake_page, client_other):
    post_webhook(client, handover(PASS))
    conversation = Conversation.objects.get()

    assert client_other.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).status_code == 404
    assert "Thread control" not in client_other.get(reverse("inbox:conversation_list")).content.decode()


# --- policy enforcement on the Page -----------------------------------------------------------------


def test_a_policy_block_is_recorded_on_the_account_and_shown_as_a_banner(client, page, client_member):
    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))

    page.refresh_from_db()
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert page.policy_action == "block"
    assert page.policy_reason.startswith("The bot violated our Platform Policies")
    assert page.policy_notice == "block"
    assert ChatMessage.objects.count() == 0
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert f'id="policy-notice-{page.pk}"' in html
    assert "Meta has blocked Bakery Rossi" in html
    assert 'role="alert"' in html


def test_a_policy_warning_is_a_quieter_note(client, page, client_member):
    post_webhook(client, policy_body(policy_item("warning", timestamp=1780000000000, reason="Spammy messages")))

    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert "policy-notice-warning" in html
    assert "Meta warned Bakery Rossi" in html
    assert "Meta has blocked" not in html


def test_the_hyphenated_key_meta_also_published_is_understood(client, page):
    post_webhook(
        client, policy_body(policy_item("block", timestamp=1780000000000, key="policy-enforcement", reason="x"))
    )

    page.refresh_from_db()
    assert page.policy_action == "block"


def test_an_unblock_lifts_the_banner(client, page, client_member):
    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))
    post_webhook(client, policy_body(policy_item("unblock", timestamp=1458692752478 + 1000)))

    page.refresh_from_db()
    assert (page.policy_action, page.policy_reason, page.policy_notice) == ("", "", "")
    assert "policy-notice-" not in client_member.get(reverse("inbox:conversation_list")).content.decode()


def test_a_late_redelivery_of_an_older_block_does_not_block_again(client, page):
    post_webhook(client, policy_body(policy_item("unblock", timestamp=1458692752478 + 1000)))
    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))

    page.refresh_from_db()
    assert page.policy_action == ""


def test_staff_dismiss_the_banner_until_meta_sends_a_newer_enforcement(client, page, client_member):
    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))
    list_url = reverse("inbox:conversation_list")

    response = client_member.post(reverse("inbox:account_policy_notice_dismiss", args=[page.public_id]))

    assert response.status_code == 302
    assert "policy-notice-" not in client_member.get(list_url).content.decode()
    page.refresh_from_db()
    assert page.policy_action == "block"  # still recorded: the Pages screen says so
    assert "Meta has blocked this Page" in client_member.get(reverse("social:account_list")).content.decode()

    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))  # a redelivery changes nothing
    assert "policy-notice-" not in client_member.get(list_url).content.decode()

    post_webhook(client, policy_body(policy_item("block", timestamp=1458692752478 + 5000, reason="Again")))
    assert f'id="policy-notice-{page.pk}"' in client_member.get(list_url).content.decode()


def test_another_business_never_sees_nor_dismisses_the_banner(client, page, other_page, client_other):
    post_webhook(client, policy_body(POLICY_BLOCK_ITEM))

    assert "policy-notice-" not in client_other.get(reverse("inbox:conversation_list")).content.decode()
    response = client_other.post(reverse("inbox:account_policy_notice_dismiss", args=[page.public_id]))
    assert response.status_code == 404
    page.refresh_from_db()
    assert page.policy_dismissed_at is None


def test_app_roles_are_kept_on_the_account(client, page):
    item = {"recipient": {"id": PAGE_ID}, "timestamp": 1780000000000, "app_roles": {"123456789": ["primary_receiver"]}}
    body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1780000000000, "messaging": [item]}]})

    post_webhook(client, body.encode())

    page.refresh_from_db()
    assert page.settings["app_roles"] == {"123456789": ["primary_receiver"]}
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


def test_kinds_without_a_notice_are_still_skipped_without_failing(client, page):
    item = {
        "sender": {"id": "7100000000000001"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1780000000000,
        "account_linking": {"status": "unlinked"},
    }
    body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1780000000000, "messaging": [item]}]})

    post_webhook(client, body.encode())

    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert ChatMessage.objects.count() == 0
