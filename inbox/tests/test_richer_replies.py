"""Richer replies through the sandbox's Graph API: several files uploaded with the Attachment Upload API,
voice notes, quick replies, quoting a customer's message, the page's reactions and the typing indicator."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import ChatMessage
from inbox.services import reactions, replies, typing
from inbox.services.replies import ReplyError, ReplyRetryLater
from inbox.templatetags.message_bubble import message_html
from inbox.tests.factories import ChatMessageFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph
from sandbox import graph as sandbox_graph
from sandbox.models import Fault, SentMessage, Token, UploadedAttachment
from sandbox.testing import page_on_sandbox, sandbox_http_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

PAGE_ID = "104857600123456"
GIULIA = "7012345678901234"  # a customer of the sandbox's Bakery Rossi
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _graph():
    with FakeGraph() as fake:  # profile lookups of new customers answered at once
        yield fake


@pytest.fixture
def conversation(page):
    return ConversationFactory(
        account=page, contact__account=page, contact__external_id=GIULIA,
        last_inbound_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def on_sandbox(sandbox_http, page):
    """The business's page holds a real sandbox Page token, so calls go through the sandbox's Graph API."""
    sandbox_page = page_on_sandbox(page)
    sandbox_graph.customer_message_received(psid=GIULIA)  # the customer wrote: the window is open
    return sandbox_page


@pytest.fixture
def customer_message(conversation):
    return ChatMessageFactory(conversation=conversation, message_id="m_customer_asks", content="Do you have rye bread?")


def image(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def queue(conversation, member, django_capture_on_commit_callbacks, **kwargs) -> list[ChatMessage]:
    with django_capture_on_commit_callbacks(execute=False):  # delivered by hand below, as the task would
        return replies.reply_send_all(conversation=conversation, user=member, **{"text": "", **kwargs})


def sent_bodies() -> list[dict]:
    return [s.body for s in SentMessage.objects.order_by("id")]


# --- several files through the Attachment Upload API ------------------------------------------------------


def test_three_images_go_out_as_three_uploads_and_sends_by_attachment_id(
    on_sandbox, conversation, member, django_capture_on_commit_callbacks
):
    created = queue(conversation, member, django_capture_on_commit_callbacks,
                    uploads=[image("a.png"), image("b.png"), image("c.png")], text="Our breads today")

    assert [bool(m.content) for m in created] == [False, False, False, True]
    assert len({m.extra["reply_group"] for m in created}) == 1
    assert [replies.reply_deliver(message_id=m.pk) for m in created] == ["sent"] * 4

    uploads = list(UploadedAttachment.objects.filter(page=on_sandbox))
    assert [(u.type, u.filename, u.content_type, u.size) for u in uploads] == [
        ("image", name, "image/png", len(PNG)) for name in ("a.png", "b.png", "c.png")
    ]
    bodies = sent_bodies()
    assert [b["message"]["attachment"] for b in bodies[:3]] == [
        {"type": "image", "payload": {"attachment_id": u.attachment_id}} for u in uploads
    ]
    assert bodies[3]["message"]["text"] == "Our breads today"
    assert all("url" not in str(b) for b in bodies)  # no public link for Meta to fetch
    assert all(m.status == "sent" for m in ChatMessage.objects.filter(pk__in=[m.pk for m in created]))


def test_a_retry_after_a_failed_send_does_not_upload_again(
    on_sandbox, conversation, member, django_capture_on_commit_callbacks
):
    [message] = queue(conversation, member, django_capture_on_commit_callbacks, uploads=[image("menu.png")])
    Fault.objects.create(path=f"/{PAGE_ID}/messages", method="POST", http_status=500, code=2,
                         message="An unexpected error has occurred. Please retry your request later.")

    with pytest.raises(ReplyRetryLater):
        replies.reply_deliver(message_id=message.pk)
    assert UploadedAttachment.objects.count() == 1 and not SentMessage.objects.exists()

    assert replies.reply_deliver(message_id=message.pk) == "sent"
    assert UploadedAttachment.objects.count() == 1
    attachment_id = UploadedAttachment.objects.get().attachment_id
    assert sent_bodies()[0]["message"]["attachment"]["payload"] == {"attachment_id": attachment_id}
    assert message.attachments.get().payload["attachment_id"] == attachment_id


def test_an_upload_meta_refuses_fails_the_reply_with_its_reason(
    on_sandbox, conversation, member, django_capture_on_commit_callbacks
):
    [message] = queue(conversation, member, django_capture_on_commit_callbacks, uploads=[image("menu.png")])
    Fault.objects.create(path=f"/{PAGE_ID}/message_attachments", method="POST", http_status=400, code=100,
                         message="(#100) Upload attachment failure.")

    assert replies.reply_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 100)
    assert "Upload attachment failure" in message.error
    assert not SentMessage.objects.exists()


def test_a_voice_note_is_uploaded_as_audio(on_sandbox, conversation, member, django_capture_on_commit_callbacks):
    voice = SimpleUploadedFile("voice-note.webm", b"\x1aE\xdf\xa3" + b"\x00" * 64, content_type="audio/webm;codecs=opus")
    [message] = queue(conversation, member, django_capture_on_commit_callbacks, uploads=[voice])

    assert replies.reply_deliver(message_id=message.pk) == "sent"
    upload = UploadedAttachment.objects.get()
    assert (upload.type, upload.content_type) == ("audio", "audio/webm")
    assert sent_bodies()[0]["message"]["attachment"]["type"] == "audio"
    assert message.attachments.get().type == "audio"


def test_a_file_over_25_mb_is_refused_and_nothing_is_sent(on_sandbox, conversation, member,
                                                          django_capture_on_commit_callbacks):
    big = image("huge.png")
    big.size = 25 * 1024 * 1024 + 1
    with pytest.raises(ReplyError, match=r"huge\.png is too large: Meta accepts images of at most 25 MB"):
        queue(conversation, member, django_capture_on_commit_callbacks, uploads=[image("ok.png"), big], text="Hi")
    assert not ChatMessage.objects.filter(conversation=conversation).exists()
    assert not UploadedAttachment.objects.exists() and not SentMessage.objects.exists()


def test_programs_are_refused(conversation, member, django_capture_on_commit_callbacks):
    program = SimpleUploadedFile("setup.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    with pytest.raises(ReplyError, match="programs and scripts"):
        queue(conversation, member, django_capture_on_commit_callbacks, uploads=[program])


def test_the_sandbox_refuses_a_wrong_type_and_an_unknown_attachment_id(on_sandbox, page):
    from social.graph import GraphAPIError, InvalidParameterError
    from social.services import account_graph_client

    client = account_graph_client(page)
    with pytest.raises(GraphAPIError, match="not an image") as refused:
        client.upload_attachment(attachment_type="image", filename="x.pdf", content=SimpleUploadedFile("x.pdf", b"%PDF"),
                                 content_type="application/pdf")
    assert refused.value.code == 100
    with pytest.raises(InvalidParameterError, match="Invalid attachment_id"):
        client.send_message(recipient_id=GIULIA, messaging_type="RESPONSE", attachment_id="404", attachment_type="image")


# --- quick replies and quoting -------------------------------------------------------------------------


def test_quick_replies_are_validated(conversation, member, django_capture_on_commit_callbacks):
    with pytest.raises(ReplyError, match="at most 13 quick replies; remove 1"):
        queue(conversation, member, django_capture_on_commit_callbacks, text="Pick one",
              quick_replies=[{"title": f"Option {i}"} for i in range(14)])
    with pytest.raises(ReplyError, match="too long: at most 20 characters"):
        queue(conversation, member, django_capture_on_commit_callbacks, text="Pick one",
              quick_replies=[{"title": "x" * 21}])
    assert not ChatMessage.objects.filter(conversation=conversation).exists()


def test_quick_replies_are_sent_on_the_last_message(on_sandbox, conversation, member,
                                                    django_capture_on_commit_callbacks):
    created = queue(conversation, member, django_capture_on_commit_callbacks, uploads=[image("a.png")],
                    text="Pickup or delivery?", quick_replies=[{"title": "Pickup"}, {"title": "Delivery", "payload": "D"}])
    for message in created:
        replies.reply_deliver(message_id=message.pk)

    first, last = sent_bodies()
    assert "quick_replies" not in first["message"]
    assert last["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Pickup", "payload": "Pickup"},
        {"content_type": "text", "title": "Delivery", "payload": "D"},
    ]
    assert "Pickup" in message_html(created[-1])


def test_a_tapped_quick_reply_shows_on_the_customers_message(conversation):
    tapped = ChatMessageFactory(conversation=conversation, content="Pickup", extra={"quick_reply_payload": "PICKUP"})
    html = message_html(tapped)
    assert "Tapped a quick reply" in html and "PICKUP" in html
    assert "Tapped a quick reply" not in message_html(ChatMessageFactory(conversation=conversation, content="Hi"))


def test_a_reply_quotes_the_customers_message(on_sandbox, conversation, member, customer_message,
                                              django_capture_on_commit_callbacks):
    [message] = queue(conversation, member, django_capture_on_commit_callbacks, text="Yes, until 6",
                      reply_to=customer_message)
    assert replies.reply_deliver(message_id=message.pk) == "sent"
    assert sent_bodies()[0]["reply_to"] == {"mid": "m_customer_asks"}
    assert "Replying to" in message_html(ChatMessage.objects.get(pk=message.pk))


def test_a_message_of_another_conversation_cannot_be_quoted(conversation, member, page,
                                                            django_capture_on_commit_callbacks):
    elsewhere = ChatMessageFactory(conversation=ConversationFactory(account=page), message_id="m_elsewhere")
    with pytest.raises(ReplyError, match="cannot be quoted"):
        queue(conversation, member, django_capture_on_commit_callbacks, text="Hi", reply_to=elsewhere)


def test_the_composer_sends_several_files_quick_replies_and_a_quote(
    client_member, on_sandbox, conversation, customer_message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {
            "text": "Here you go", "attachments": [image("one.png"), image("two.png")],
            "quick_reply": ["Thanks", ""], "reply_to": str(customer_message.pk),
        }, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert UploadedAttachment.objects.count() == 2
    bodies = sent_bodies()
    assert [("attachment" in b["message"]) for b in bodies] == [True, True, False]
    assert bodies[-1]["reply_to"] == {"mid": "m_customer_asks"}
    assert bodies[-1]["message"]["quick_replies"][0]["title"] == "Thanks"


def test_the_composer_shows_a_bad_quick_reply_and_keeps_the_text(client_member, conversation):
    response = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {
        "text": "Pick one", "quick_reply": ["A title far too long for Meta"],
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "at most 20 characters" in response.content.decode()
    assert 'value="A title far too long for Meta"' in response.content.decode()  # kept, to be shortened
    assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()


# --- the page's reactions ------------------------------------------------------------------------------


def test_a_staff_reaction_is_sent_stored_audited_and_removable(
    client_member, on_sandbox, member, customer_message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(reverse("inbox:message_react", args=[customer_message.public_id]), {"reaction": "❤️"},
                                      HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    customer_message.refresh_from_db()
    assert customer_message.page_reaction == "❤️"
    assert 'data-page-reaction' in message_html(customer_message)
    assert sent_bodies() == [{"recipient": {"id": GIULIA}, "sender_action": "react",
                              "payload": {"message_id": "m_customer_asks", "reaction": "❤️"}}]
    assert AuditEvent.objects.filter(action="message.reacted", actor=member, target_id=str(customer_message.pk)).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client_member.post(reverse("inbox:message_unreact", args=[customer_message.public_id]), HTTP_HX_REQUEST="true")
    customer_message.refresh_from_db()
    assert customer_message.page_reaction == ""
    assert 'data-page-reaction' not in message_html(customer_message)
    assert sent_bodies()[-1] == {"recipient": {"id": GIULIA}, "sender_action": "unreact",
                                 "payload": {"message_id": "m_customer_asks"}}
    assert AuditEvent.objects.filter(action="message.unreacted", metadata__reaction="❤️").exists()


def test_a_reaction_outside_the_set_or_on_our_own_message_is_refused(client_member, member, conversation,
                                                                     customer_message):
    response = client_member.post(reverse("inbox:message_react", args=[customer_message.public_id]), {"reaction": "🍞"},
                                  HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Pick one of" in response.content.decode()
    ours = ChatMessageFactory(conversation=conversation, direction="outbound", message_id="m_ours")
    with pytest.raises(reactions.ReactionError, match="Only a customer's message"):
        reactions.message_react(message=ours, user=member, reaction="👍")
    customer_message.refresh_from_db()
    assert customer_message.page_reaction == "" and not SentMessage.objects.exists()


# --- typing -------------------------------------------------------------------------------------------


def test_typing_is_throttled_to_one_sender_action_per_ten_seconds(
    client_member, on_sandbox, conversation, django_capture_on_commit_callbacks
):
    url = reverse("inbox:conversation_typing", args=[conversation.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert client_member.post(url, {"action": "typing_on"}).status_code == 204
        assert client_member.post(url, {"action": "typing_on"}).status_code == 204
    assert [b["sender_action"] for b in sent_bodies()] == ["typing_on"]

    with django_capture_on_commit_callbacks(execute=True):
        client_member.post(url, {"action": "typing_off"})
        client_member.post(url, {"action": "typing_off"})  # nothing of ours is showing any more
    assert [b["sender_action"] for b in sent_bodies()] == ["typing_on", "typing_off"]
    assert client_member.post(url, {"action": "dance"}).status_code == 400


def test_a_refused_typing_indicator_is_only_logged(on_sandbox, conversation, caplog):
    Fault.objects.create(path=f"/{PAGE_ID}/messages", method="POST", http_status=400, code=100, message="(#100) No")
    assert typing.sender_action_deliver(conversation_id=conversation.pk, action="typing_on") is False
    assert "typing_on for conversation" in caplog.text


# --- tenancy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["message_react", "message_unreact"])
def test_another_business_gets_404_on_reactions(client_other, customer_message, name):
    response = client_other.post(reverse(f"inbox:{name}", args=[customer_message.public_id]), {"reaction": "👍"})
    assert response.status_code == 404
    customer_message.refresh_from_db()
    assert customer_message.page_reaction == ""


def test_another_business_gets_404_on_typing(client_other, conversation):
    response = client_other.post(reverse("inbox:conversation_typing", args=[conversation.public_id]), {"action": "typing_on"})
    assert response.status_code == 404


# --- the sandbox as Meta ------------------------------------------------------------------------------


def test_the_sandbox_customer_taps_a_quick_reply(client, sandbox_http):
    with mock.patch("sandbox.payloads.post_webhook", return_value=200) as post:
        response = client.post("/sandbox/control/message", content_type="application/json",
                               data=json.dumps({"page_id": PAGE_ID, "text": "Pickup", "quick_reply": "PICKUP"}))
    assert response.status_code == 200
    message = json.loads(post.call_args.args[1])["entry"][0]["messaging"][0]["message"]
    assert (message["text"], message["quick_reply"]) == ("Pickup", {"payload": "PICKUP"})


def test_the_upload_api_answers_an_attachment_id_over_http(client, on_sandbox):
    from social.graph import appsecret_proof

    token = Token.objects.filter(page=on_sandbox, kind=Token.Kind.PAGE).latest("id").token
    url = f"/sandbox/graph/v25.0/{PAGE_ID}/message_attachments?appsecret_proof={appsecret_proof(token)}"
    message = json.dumps({"attachment": {"type": "image", "payload": {"is_reusable": True}}})
    answer = client.post(url, {"message": message, "filedata": image("shirt.png")}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["attachment_id"].isdigit()

    refused = client.post(url, {"message": message}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    assert "filedata" in refused.json()["error"]["message"]
    assert client.post(url, {"message": message, "filedata": image("x.png")}).json()["error"]["code"] == 104
