"""The REST API's endpoints: what each answers, and what each refuses."""

from __future__ import annotations

from unittest import mock

import pytest

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Conversation, Label
from inbox.tests.factories import ChatMessageFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_accounts_list_and_read_without_a_token(api, page):
    answer = api.get("/accounts")
    assert answer.status_code == 200
    [account] = answer.json()["data"]
    assert account["id"] == str(page.public_id)
    assert account["accountId"] == page.account_id
    assert account["platform"] == "FACEBOOK"
    assert "token" not in answer.content.decode().lower().replace("tokens", "")
    one = api.get(f"/accounts/{page.public_id}")
    assert one.status_code == 200 and one.json()["id"] == str(page.public_id)


def test_conversations_list_reads_and_filters(api, conversation, member, business):
    resolved = ConversationFactory(account=conversation.account, contact__account=conversation.account,
                                   status=Conversation.Status.RESOLVED, unread_count=0)
    answer = api.get("/conversations")
    assert answer.status_code == 200
    assert {c["id"] for c in answer.json()["data"]} == {str(conversation.public_id), str(resolved.public_id)}
    assert [c["id"] for c in api.get("/conversations", {"status": "resolved"}).json()["data"]] == [
        str(resolved.public_id)
    ]
    assert [c["id"] for c in api.get("/conversations", {"unread": "true"}).json()["data"]] == [
        str(conversation.public_id)
    ]
    assert api.get("/conversations", {"assignee": "none"}).json()["data"]
    Conversation.objects.filter(pk=conversation.pk).update(assignee=member)
    assert [c["id"] for c in api.get("/conversations", {"assignee": member.email}).json()["data"]] == [
        str(conversation.public_id)
    ]
    label = Label.objects.create(business=business, name="VIP")
    conversation.label_links.create(business=business, label=label)
    vip = api.get("/conversations", {"label": "vip"}).json()["data"]
    assert [c["id"] for c in vip] == [str(conversation.public_id)] and vip[0]["labels"] == ["VIP"]
    assert api.get("/conversations", {"account": str(conversation.account.public_id)}).json()["data"]


@pytest.mark.parametrize(
    "params",
    [{"status": "bogus"}, {"label": "no such"}, {"updated_since": "yesterday"}, {"cursor": "forged"}, {"limit": "0"},
     {"limit": "101"}],
)
def test_bad_list_parameters_are_a_clear_400(api, conversation, params):
    answer = api.get("/conversations", params)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] and answer.json()["error"]["message"]


def test_messages_of_a_conversation(api, conversation):
    answer = api.get(f"/conversations/{conversation.public_id}/messages")
    assert answer.status_code == 200
    [message] = answer.json()["data"]
    assert message["content"] == "Do you have gluten-free bread?"
    assert message["conversation"] == str(conversation.public_id)


def test_reply_is_queued_through_the_inbox_service(api, conversation, django_capture_on_commit_callbacks):
    with mock.patch("inbox.tasks.message_send.apply_async") as send, django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/conversations/{conversation.public_id}/messages", {"text": "Yes, every morning."})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    reply = ChatMessage.objects.get(public_id=body["id"])
    assert (reply.direction, reply.status, reply.content) == ("outbound", "queued", "Yes, every morning.")
    assert body["status"] == "queued" and body["direction"] == "outbound"
    assert send.call_count == 1
    assert AuditEvent.objects.filter(action="message.reply_queued", target_id=str(reply.pk)).exists()


def test_reply_with_one_idempotency_key_goes_out_once(api, conversation, django_capture_on_commit_callbacks):
    path = f"/conversations/{conversation.public_id}/messages"
    headers = {"Idempotency-Key": "order-1234-confirmation"}
    with mock.patch("inbox.tasks.message_send.apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            first = api.post(path, {"text": "Your order is ready."}, headers=headers)
        with django_capture_on_commit_callbacks(execute=True):
            second = api.post(path, {"text": "Your order is ready."}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert send.call_count == 1
    assert ChatMessage.objects.filter(conversation=conversation, direction="outbound").count() == 1
    # The same key for another request is refused rather than answered with the first reply.
    with mock.patch("inbox.tasks.message_send.apply_async") as send:
        other = api.post(path, {"text": "Something else"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert send.call_count == 0


def test_reply_outside_the_window_is_a_clear_409_and_nothing_is_stored(api, conversation):
    from datetime import timedelta

    from django.utils import timezone

    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=9))
    with mock.patch("inbox.tasks.message_send.apply_async") as send:
        answer = api.post(f"/conversations/{conversation.public_id}/messages", {"text": "Hello?"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "reply_window_closed" and answer.json()["error"]["message"]
    assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()
    assert send.call_count == 0


def test_reply_without_text_is_422_with_a_message(api, conversation):
    answer = api.post(f"/conversations/{conversation.public_id}/messages", {})
    assert answer.status_code == 422
    assert "text" in answer.json()["error"]["message"]


def test_reply_too_long_for_messenger_is_refused_by_the_service(api, conversation):
    answer = api.post(f"/conversations/{conversation.public_id}/messages", {"text": "x" * 2500})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "reply_refused"


def test_assign_resolve_label_and_read(api, conversation, business, member, django_capture_on_commit_callbacks):
    colleague = MembershipFactory(business=business, user__email="anna@bakery.example").user
    base = f"/conversations/{conversation.public_id}"
    assigned = api.post(f"{base}/assign", {"assignee": "Anna@bakery.example"})
    assert assigned.status_code == 200 and assigned.json()["assignee"]["email"] == colleague.email
    assert api.post(f"{base}/assign", {"assignee": None}).json()["assignee"] is None
    refused = api.post(f"{base}/assign", {"assignee": "stranger@example.com"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_assignee"

    assert api.post(f"{base}/status", {"status": "resolved"}).json()["status"] == "resolved"
    assert api.post(f"{base}/status", {"status": "open"}).json()["status"] == "open"
    assert api.post(f"{base}/status", {"status": "snoozed"}).status_code == 422

    Label.objects.create(business=business, name="Wholesale")
    assert api.post(f"{base}/labels", {"label": "wholesale"}).json()["labels"] == ["Wholesale"]
    assert api.delete(f"{base}/labels/Wholesale").json()["labels"] == []
    assert api.post(f"{base}/labels", {"label": "nope"}).status_code == 422

    read = api.post(f"{base}/read")
    assert read.status_code == 200 and read.json() == {"marked": 1}
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    # Each change is the inbox's own, audited as done by the key's user.
    actions = set(AuditEvent.objects.filter(target_id=str(conversation.pk)).values_list("action", flat=True))
    assert {"conversation.assigned", "conversation.unassigned", "conversation.resolved", "conversation.read"} <= actions


def test_read_only_key_can_read_but_not_write(read_api, conversation):
    assert read_api.get("/conversations").status_code == 200
    base = f"/conversations/{conversation.public_id}"
    for answer in (
        read_api.post(f"{base}/messages", {"text": "Hi"}),
        read_api.post(f"{base}/assign", {"assignee": None}),
        read_api.post(f"{base}/status", {"status": "resolved"}),
        read_api.post(f"{base}/labels", {"label": "x"}),
        read_api.delete(f"{base}/labels/x"),
        read_api.post(f"{base}/read"),
    ):
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "insufficient_scope"
    assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.unread_count == 1


def test_unknown_path_and_bad_id_are_json_404s(api):
    for answer in (api.get("/nothing-here"), api.get("/conversations/not-a-uuid"), api.get("/accounts/123")):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_messages_do_not_leak_a_deleted_messages_text(api, conversation):
    ChatMessageFactory(conversation=conversation, content="secret plan", is_deleted=True)
    contents = [m["content"] for m in api.get(f"/conversations/{conversation.public_id}/messages").json()["data"]]
    assert "secret plan" not in contents


def test_a_reply_by_key_never_assigns_the_conversation_to_the_key(api, conversation, business):
    business.auto_assign_on_reply = True
    business.save()
    with mock.patch("inbox.tasks.message_send.apply_async"):
        assert api.post(f"/conversations/{conversation.public_id}/messages", {"text": "Hi"}).status_code == 201
    conversation.refresh_from_db()
    business.refresh_from_db()
    assert conversation.assignee_id is None
    assert business.auto_assign_on_reply is True


def test_idempotency_answers_are_forgotten_after_a_day(api, conversation):
    from datetime import timedelta

    from django.utils import timezone

    from api.models import IdempotentRequest
    from api.tasks import idempotency_keys_prune

    with mock.patch("inbox.tasks.message_send.apply_async"):
        api.post(f"/conversations/{conversation.public_id}/messages", {"text": "Hi"}, headers={"Idempotency-Key": "a"})
    assert IdempotentRequest.objects.count() == 1
    assert idempotency_keys_prune() == 0
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert idempotency_keys_prune() == 1
    assert not IdempotentRequest.objects.exists()


def test_malformed_json_is_a_clear_json_error(api, client, write_key, conversation):
    answer = client.post(
        f"/api/v1/conversations/{conversation.public_id}/messages", "{not json", content_type="application/json",
        headers={"Authorization": f"Bearer {write_key.secret}"},
    )
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["message"]
    assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()
