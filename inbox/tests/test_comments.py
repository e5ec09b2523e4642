"""Comments on posts and media: parsed from Meta's bodies, stored as comment threads, and answered
(public reply, hide, delete, private reply) through the sandbox's Graph API."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from inbox.facebook.events import CommentChange
from inbox.facebook.parsing import parse_payload
from inbox.models import ChatMessage, Conversation
from inbox.services import comments as comment_services
from inbox.tests.helpers import FakeGraph, post_webhook, run_on_commit
from sandbox import graph_comments, payloads
from sandbox.models import Comment, Customer, Page, Post, SentMessage, Token, new_token
from sandbox.testing import page_on_sandbox, sandbox_http_fixture  # noqa: F401 - fixture
from social.graph import GraphAPIError, GraphClient

pytestmark = pytest.mark.django_db

PAGE_ID = "104857600123456"
IG_ID = "17841400000000000"
GIULIA = "7012345678901234"  # a customer of the sandbox's Bakery Rossi

# Meta's published example of a Page `feed` comment (Webhooks reference, Page object, field "feed";
# ids and names as Meta shows them, the times made real).
FEED_EXAMPLE = {
    "object": "page",
    "entry": [{
        "id": "0", "time": 1668708302,
        "changes": [{"field": "feed", "value": {
            "from": {"id": "44444444", "name": "Test User"},
            "post": {"status_type": "added_photos", "is_published": True, "updated_time": "2022-11-17T18:05:02+0000",
                     "permalink_url": "https://www.facebook.com/permalink.php?story_fbid=1&id=0",
                     "promotion_status": "inactive", "id": "0_1"},
            "message": "Example comment", "post_id": "0_1", "comment_id": "1_2", "created_time": 1668708302,
            "item": "comment", "parent_id": "0_1", "verb": "add",
        }}],
    }],
}
# Meta's published example of an Instagram `comments` change (Instagram Webhooks reference, "comments").
INSTAGRAM_EXAMPLE = {
    "object": "instagram",
    "entry": [{
        "id": "0", "time": 1668708302,
        "changes": [{"field": "comments", "value": {
            "from": {"id": "232323232", "username": "test"},
            "media": {"id": "123123123", "media_product_type": "FEED"},
            "id": "17865799348089039", "parent_id": "1231231234", "text": "This is an example.",
        }}],
    }],
}


@pytest.fixture(autouse=True)
def _graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def on_sandbox(sandbox_http, page):
    """The business's page holds a real sandbox Page token, so calls go through the sandbox's Graph API."""
    return page_on_sandbox(page)


def sandbox_comment(sandbox_page: Page, text: str = "Do you deliver on Sundays?", *, age_days: float = 0,
                    post: Post | None = None, psid: str = GIULIA) -> Comment:
    """Someone comments on the Page's post in the sandbox (as its control endpoint does)."""
    if post is None:
        post, _ = Post.objects.get_or_create(page=sandbox_page, post_id=f"{PAGE_ID}_555000111",
                                             defaults={"message": "Fresh cornetti today!"})
    customer, _ = Customer.objects.get_or_create(psid=psid, defaults={"page": sandbox_page, "first_name": "Giulia",
                                                                     "last_name": "Rossi"})
    return Comment.objects.create(
        post=post, comment_id=graph_comments.new_comment_id(post), from_id=psid, from_name=customer.name,
        text=text, created_time=timezone.now() - timedelta(days=age_days),
    )


def deliver(client, comment: Comment, *, verb: str = "add") -> None:
    response = post_webhook(client, graph_comments.webhook_body(comment, verb=verb))
    assert response.status_code == 200


def thread() -> Conversation:
    return Conversation.objects.get(kind=Conversation.Kind.COMMENTS)


def stored(comment: Comment) -> ChatMessage:
    return ChatMessage.objects.get(message_id=comment.comment_id)


def htmx_post(client, name: str, public_id: uuid.UUID, data: dict | None = None):
    return run_on_commit(client.post, reverse(f"inbox:{name}", args=[public_id]), data or {}, HTTP_HX_REQUEST="true")


# --- parsing ---------------------------------------------------------------------------------------


def test_feed_comment_from_metas_example():
    result = parse_payload(FEED_EXAMPLE)

    assert result.skipped == []
    (event,) = result.events
    assert isinstance(event, CommentChange)
    assert (event.platform, event.account_id, event.sender_id, event.sender_name) == ("FACEBOOK", "0", "44444444",
                                                                                     "Test User")
    assert (event.comment_id, event.post_id, event.verb, event.text) == ("1_2", "0_1", "add", "Example comment")
    assert event.parent_id == ""  # a comment on the post itself
    assert event.post_permalink.startswith("https://www.facebook.com/")
    assert event.timestamp is not None and event.timestamp.year == 2022


def test_instagram_comment_from_metas_example():
    (event,) = parse_payload(INSTAGRAM_EXAMPLE).events

    assert isinstance(event, CommentChange)
    assert (event.platform, event.sender_id, event.sender_name) == ("INSTAGRAM", "232323232", "test")
    assert (event.comment_id, event.post_id, event.parent_id) == ("17865799348089039", "123123123", "1231231234")
    assert event.text == "This is an example." and event.media_product_type == "FEED"


def test_other_feed_changes_and_broken_comments_are_noted_not_events():
    body = json.loads(json.dumps(FEED_EXAMPLE))
    body["entry"][0]["changes"] = [
        {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "0_1"}},
        {"field": "feed", "value": {"item": "comment", "verb": "add", "post_id": "0_1"}},  # no comment_id
        {"field": "feed", "value": {"item": "comment", "verb": "explode", "comment_id": "1_3"}},
    ]
    result = parse_payload(body)

    assert result.events == []
    assert len(result.skipped) == 3
    assert "no comment_id" in result.skipped[1] and "verb" in result.skipped[2]


# --- ingest ----------------------------------------------------------------------------------------


def test_a_comment_arrives_as_a_comment_thread(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    deliver(client_member, comment)  # Meta redelivers: stored once

    conversation = thread()
    assert conversation.post_id == comment.post.post_id and conversation.commenter_id == GIULIA
    # The webhook names the post only: what it says comes from Meta's Graph API.
    assert conversation.post_excerpt == "Fresh cornetti today!"
    assert conversation.post_permalink.startswith("https://www.facebook.com/")
    assert conversation.unread_count == 1 and conversation.last_message_preview == comment.text
    message = stored(comment)
    assert (message.kind, message.direction, message.content) == ("comment", "inbound", comment.text)
    assert ChatMessage.objects.filter(kind="comment").count() == 1
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert "Comment on:" in html and 'class="conv-comment"' in html
    detail = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "View the post" in detail and "Reply publicly" in detail and "Send private reply" in detail
    panel = client_member.get(reverse("inbox:contact_panel", args=[conversation.public_id])).content.decode()
    assert "Messenger ID (PSID)" not in panel and "comment:" not in panel  # the thread's key is no PSID


def test_one_thread_per_commenter_per_post(client_member, on_sandbox):
    first = sandbox_comment(on_sandbox)
    deliver(client_member, first)
    deliver(client_member, sandbox_comment(on_sandbox, "And on Mondays?", post=first.post))
    deliver(client_member, sandbox_comment(on_sandbox, "Me too", post=first.post, psid="7012345678909999"))

    threads = Conversation.objects.filter(kind="comments")
    assert threads.count() == 2
    assert thread_messages(threads.get(commenter_id=GIULIA)) == [first.text, "And on Mondays?"]


def thread_messages(conversation: Conversation) -> list[str]:
    return list(conversation.messages.order_by("timestamp", "pk").values_list("content", flat=True))


def test_edit_remove_and_hide_update_the_comment(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)

    comment.text = "Do you deliver on Saturdays?"
    deliver(client_member, comment, verb="edited")
    message = stored(comment)
    assert message.content == "Do you deliver on Saturdays?" and message.edit_count == 1
    deliver(client_member, comment, verb="hide")
    assert stored(comment).extra["comment"]["hidden"] is True
    deliver(client_member, comment, verb="remove")
    assert stored(comment).is_deleted is True


def test_the_pages_own_comment_is_outbound_in_the_commenters_thread(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    answer = Comment.objects.create(post=comment.post, comment_id="555000111_9", parent_id=comment.comment_id,
                                    from_id=PAGE_ID, from_name="Bakery Rossi", from_page=True, text="Yes we do!")
    deliver(client_member, answer)

    message = stored(answer)
    assert (message.direction, message.source, message.conversation_id) == ("outbound", "meta", thread().pk)
    assert stored(comment).is_replied is True


def test_instagram_comment_lands_on_the_instagram_account(client_member, business, sandbox_http):
    from social.tests.factories import SocialAccountFactory

    SocialAccountFactory(business=business, platform="INSTAGRAM", account_id=IG_ID, account_name="bakery")
    body = json.loads(json.dumps(INSTAGRAM_EXAMPLE))
    body["entry"][0]["id"] = IG_ID  # "0" is how Meta's dashboard samples are recognised, and skipped
    post_webhook(client_member, json.dumps(body).encode())

    conversation = thread()
    assert conversation.platform == "INSTAGRAM" and conversation.contact.display_name == "@test"
    assert conversation.messages.get().content == "This is an example."


# --- staff actions through the sandbox -------------------------------------------------------------


def test_public_reply_is_posted_and_audited(client_member, member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)

    response = htmx_post(client_member, "comment_reply", stored(comment).public_id, {"text": "Yes, every Sunday!"})

    assert response.status_code == 200
    reply = ChatMessage.objects.get(kind="comment", direction="outbound")
    assert reply.status == "sent" and reply.sent_by == member
    sandbox_reply = Comment.objects.get(parent_id=comment.comment_id)
    assert reply.message_id == sandbox_reply.comment_id and sandbox_reply.text == "Yes, every Sunday!"
    assert AuditEvent.objects.filter(action="comment.reply_queued", actor=member).exists()
    assert AuditEvent.objects.filter(action="comment.reply_sent").exists()
    deliver(client_member, sandbox_reply)  # Meta's webhook of the reply confirms it: no second row
    assert ChatMessage.objects.filter(kind="comment", direction="outbound").count() == 1


def test_empty_public_reply_is_a_clear_400(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)

    response = htmx_post(client_member, "comment_reply", stored(comment).public_id, {"text": "  "})

    assert response.status_code == 400 and "Write the reply" in response.content.decode()
    assert not ChatMessage.objects.filter(direction="outbound").exists()


def test_hide_unhide_and_delete_through_the_sandbox(client_member, member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    public_id = stored(comment).public_id

    assert htmx_post(client_member, "comment_hide", public_id, {"hidden": "1"}).status_code == 200
    comment.refresh_from_db()
    assert comment.hidden is True and stored(comment).extra["comment"]["hidden"] is True
    assert htmx_post(client_member, "comment_hide", public_id, {"hidden": "0"}).status_code == 200
    comment.refresh_from_db()
    assert comment.hidden is False
    assert htmx_post(client_member, "comment_delete", public_id).status_code == 200
    comment.refresh_from_db()
    assert comment.deleted is True and stored(comment).is_deleted is True
    actions = set(AuditEvent.objects.filter(actor=member).values_list("action", flat=True))
    assert {"comment.hidden", "comment.unhidden", "comment.deleted"} <= actions


def test_meta_refusal_of_a_delete_is_shown(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    Comment.objects.filter(pk=comment.pk).update(deleted=True)  # gone on Meta's side already

    response = htmx_post(client_member, "comment_delete", stored(comment).public_id)

    assert response.status_code == 400 and "Meta refused" in response.content.decode()
    assert stored(comment).is_deleted is False


def test_private_reply_continues_in_messenger_and_is_linked(client_member, member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    message = stored(comment)

    response = htmx_post(client_member, "comment_private_reply", message.public_id, {"text": "Let's sort it out here"})

    assert response.status_code == 200
    sent = SentMessage.objects.get(body__recipient__comment_id=comment.comment_id)
    assert sent.body["message"]["text"] == "Let's sort it out here"
    message.refresh_from_db()
    assert message.extra["private_reply"]["state"] == "sent"
    assert AuditEvent.objects.filter(action="comment.private_reply_queued", actor=member).exists()
    # Meta's echo of the private reply comes from the commenter's PSID ...
    echo = payloads.echo(page_id=PAGE_ID, psid=GIULIA, text="Let's sort it out here", mid=sent.message_id,
                         app_id=settings.FACEBOOK_APP_ID, metadata=sent.body["message"]["metadata"])
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[echo])])))
    # ... and the customer's answer arrives as a normal message.
    answer = payloads.text_message(page_id=PAGE_ID, psid=GIULIA, text="Thanks! Sunday at 10?")
    post_webhook(client_member, payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=PAGE_ID, events=[answer])])))

    messenger = Conversation.objects.get(kind="messages", contact__external_id=GIULIA)
    assert thread_messages(messenger) == ["Let's sort it out here", "Thanks! Sunday at 10?"]
    comment_thread = thread()
    assert comment_thread.linked_conversation == messenger
    detail = client_member.get(reverse("inbox:conversation_detail", args=[comment_thread.public_id])).content.decode()
    assert "Private reply sent" in detail
    assert reverse("inbox:conversation_detail", args=[messenger.public_id]) in detail


def test_a_second_private_reply_is_refused_before_meta(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    public_id = stored(comment).public_id
    htmx_post(client_member, "comment_private_reply", public_id, {"text": "First"})

    response = htmx_post(client_member, "comment_private_reply", public_id, {"text": "Second"})

    assert response.status_code == 400 and "one per comment" in response.content.decode()
    assert SentMessage.objects.filter(body__recipient__comment_id=comment.comment_id).count() == 1


def test_an_eight_day_old_comment_gets_no_private_reply(client_member, on_sandbox):
    comment = sandbox_comment(on_sandbox, age_days=8)
    deliver(client_member, comment)

    response = htmx_post(client_member, "comment_private_reply", stored(comment).public_id, {"text": "Sorry for the wait"})

    assert response.status_code == 400 and "within 7 days" in response.content.decode()
    assert not SentMessage.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="comment.private_reply").exists()


def test_the_sandbox_answers_metas_private_reply_errors(page, on_sandbox):
    client = GraphClient(access_token=page.access_token, page_id=PAGE_ID)
    fresh, old = sandbox_comment(on_sandbox), sandbox_comment(on_sandbox, age_days=8)

    assert set(client.private_reply(comment_id=fresh.comment_id, text="Hi")) == {"message_id"}  # no recipient_id
    with pytest.raises(GraphAPIError) as twice:
        client.private_reply(comment_id=fresh.comment_id, text="Hi again")
    with pytest.raises(GraphAPIError) as late:
        client.private_reply(comment_id=old.comment_id, text="Hi")
    with pytest.raises(GraphAPIError) as missing:
        client.comment_delete(comment_id="999_999")
    assert (twice.value.code, late.value.code, missing.value.code) == (10900, 10903, 100)


def test_the_sandbox_replies_to_instagram_comments_under_replies(page, on_sandbox):
    client = GraphClient(access_token=page.access_token, page_id=PAGE_ID)
    media = Post.objects.create(page=on_sandbox, post_id="17900000000000001", instagram=True)
    comment = Comment.objects.create(post=media, comment_id="17900000000000002", from_id="9800000000000001",
                                     from_name="giulia.rossi", text="Nice!")

    answer = client.comment_reply(comment_id=comment.comment_id, message="Grazie!", instagram=True)
    client.comment_hide(comment_id=comment.comment_id, hidden=True, instagram=True)

    assert Comment.objects.get(comment_id=answer["id"]).from_id == IG_ID
    comment.refresh_from_db()
    assert comment.hidden is True
    with pytest.raises(GraphAPIError):  # a Page comment's edge is not Instagram's
        client.post(f"{comment.comment_id}/comments", data={"message": "x"})


def test_the_sandbox_control_endpoint_needs_a_page_and_text(client):
    response = client.post(reverse("sandbox:control_comment"), data="{}", content_type="application/json")

    assert response.status_code == 400 and "page_id" in response.json()["error"]


# --- who may act -----------------------------------------------------------------------------------


def test_another_business_gets_404_on_every_comment_action(client, member, other_member, on_sandbox):
    client.force_login(member)
    comment = sandbox_comment(on_sandbox)
    deliver(client, comment)
    public_id = stored(comment).public_id
    client.force_login(other_member)

    for name in ("comment_reply", "comment_private_reply", "comment_hide", "comment_delete"):
        assert htmx_post(client, name, public_id, {"text": "Hi"}).status_code == 404, name
    assert not ChatMessage.objects.filter(direction="outbound").exists()
    assert not Comment.objects.filter(from_page=True).exists()


def test_an_agent_may_reply_and_loses_it_with_the_membership(client, business, on_sandbox):
    agent = MembershipFactory(business=business, role="agent").user
    client.force_login(agent)
    comment = sandbox_comment(on_sandbox)
    deliver(client, comment)
    public_id = stored(comment).public_id

    assert htmx_post(client, "comment_reply", public_id, {"text": "On it"}).status_code == 200
    agent.memberships.all().delete()
    response = htmx_post(client, "comment_reply", public_id, {"text": "Again"})

    assert response.status_code in (302, 403, 404)
    assert ChatMessage.objects.filter(direction="outbound").count() == 1


def test_private_reply_problem_says_why(on_sandbox, client_member):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    message = stored(comment)

    assert comment_services.private_reply_problem(message) == ""
    later = message.timestamp + timedelta(days=7, hours=1)
    assert "within 7 days" in comment_services.private_reply_problem(message, now=later)


# --- failures, races, pushes -------------------------------------------------------------------------


def test_the_messenger_composer_is_closed_on_a_comment_thread(client_member, member, on_sandbox):
    from inbox.services import replies

    deliver(client_member, sandbox_comment(on_sandbox))

    with pytest.raises(replies.ReplyError, match="Answer each comment"):
        replies.reply_send(conversation=thread(), user=member, text="Hello")
    assert not ChatMessage.objects.filter(direction="outbound").exists()


def test_meta_refusing_a_public_reply_marks_it_failed(client_member, on_sandbox):
    from sandbox.models import Fault

    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    Fault.objects.create(path=f"/{comment.comment_id}/comments", method="POST", remaining=1, http_status=400,
                         code=100, message="(#100) Invalid parameter")

    htmx_post(client_member, "comment_reply", stored(comment).public_id, {"text": "Yes!"})

    reply = ChatMessage.objects.get(direction="outbound")
    assert reply.status == "failed" and "Invalid parameter" in reply.error and reply.message_id is None
    assert AuditEvent.objects.filter(action="comment.reply_failed").exists()
    assert not Comment.objects.filter(from_page=True).exists()


def test_meta_down_retries_the_public_reply_then_posts_it(client_member, on_sandbox):
    from sandbox.models import Fault

    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    Fault.objects.create(path=f"/{comment.comment_id}/comments", method="POST", remaining=1, http_status=500, code=2)

    htmx_post(client_member, "comment_reply", stored(comment).public_id, {"text": "Yes!"})

    reply = ChatMessage.objects.get(direction="outbound")
    assert reply.status == "sent" and reply.message_id == Comment.objects.get(from_page=True).comment_id


def test_the_replys_webhook_overtaking_metas_answer_confirms_the_queued_reply(client_member, member, on_sandbox):
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)
    queued = comment_services.comment_reply_public(comment=stored(comment), user=member, text="See you Sunday")
    # Meta's webhook of the page's reply arrives before the task has recorded Meta's answer.
    posted = Comment.objects.create(post=comment.post, comment_id="555000111_77", parent_id=comment.comment_id,
                                    from_id=PAGE_ID, from_name="Bakery Rossi", from_page=True, text="See you Sunday")
    deliver(client_member, posted)

    queued.refresh_from_db()
    assert (queued.message_id, queued.status) == ("555000111_77", "sent")
    assert ChatMessage.objects.filter(direction="outbound").count() == 1


def test_a_new_comment_is_pushed_to_open_screens(client_member, business, on_sandbox, layer):
    from asgiref.sync import async_to_sync

    from inbox.tests.helpers import layer_listen

    channel = layer_listen(layer, business.pk)
    comment = sandbox_comment(on_sandbox)
    deliver(client_member, comment)

    html = async_to_sync(layer.receive)(channel)["html"]
    assert f'data-comment="{comment.comment_id}"' in html and "Comment on:" in html


def test_the_control_endpoints_comment_and_answer_through_real_webhooks(client_member, on_sandbox, monkeypatch):
    # The sandbox's signed webhooks go to this app's endpoint, as they would over HTTP.
    monkeypatch.setattr(payloads, "post_webhook", lambda url, body, secret, **kw: post_webhook(
        client_member, body, run_tasks=False).status_code)
    made = run_on_commit(client_member.post, reverse("sandbox:control_comment"), content_type="application/json",
                         data={"page_id": PAGE_ID, "text": "Is there parking?", "post_text": "Grand opening",
                               "from": {"id": GIULIA}}).json()

    assert made["status"] == 200
    conversation = thread()
    assert conversation.post_excerpt == "Grand opening" and stored(Comment.objects.get()).content == "Is there parking?"
    refused = client_member.post(reverse("sandbox:control_comment_answer"), content_type="application/json",
                                 data={"comment_id": made["comment_id"], "text": "Hello?"})
    assert refused.status_code == 400  # no private reply to answer yet

    htmx_post(client_member, "comment_private_reply", stored(Comment.objects.get()).public_id, {"text": "Yes, behind us"})
    answer = run_on_commit(client_member.post, reverse("sandbox:control_comment_answer"),
                           content_type="application/json", data={"comment_id": made["comment_id"], "text": "Great"})

    assert answer.status_code == 200
    messenger = Conversation.objects.get(kind="messages", contact__external_id=GIULIA)
    assert thread_messages(messenger) == ["Great"]


def test_an_instagram_threads_post_is_its_media_caption(client_member, business, sandbox_http):
    from social.tests.factories import SocialAccountFactory

    sandbox_page = Page.objects.get(page_id=PAGE_ID)
    token = Token.objects.create(token=new_token(), kind=Token.Kind.PAGE, user=sandbox_page.roles.first().user,
                                 page=sandbox_page, scopes=list(settings.FACEBOOK_LOGIN_SCOPES))
    SocialAccountFactory(business=business, platform="INSTAGRAM", account_id=IG_ID, account_name="bakeryrossi",
                         access_token=token.token)
    media = Post.objects.create(page=sandbox_page, post_id="17900000000000009", instagram=True,
                                message="Sunday brunch menu", media_product_type="FEED")
    Customer.objects.create(psid="9800000000000002", page=sandbox_page, platform="INSTAGRAM", username="giulia.r")
    comment = Comment.objects.create(post=media, comment_id="17900000000000010", from_id="9800000000000002",
                                     from_name="giulia.r", text="Vegan options?")
    deliver(client_member, comment)

    conversation = thread()
    assert conversation.platform == "INSTAGRAM" and conversation.post_excerpt == "Sunday brunch menu"
    assert conversation.post_permalink == "https://www.instagram.com/p/17900000000000009/"


def test_an_unreadable_post_keeps_a_post(client_member, on_sandbox):
    from sandbox.models import Fault

    comment = sandbox_comment(on_sandbox)
    Fault.objects.create(path=f"/{comment.post.post_id}", method="GET", remaining=1, http_status=400, code=100)
    deliver(client_member, comment)

    assert thread().post_excerpt == ""
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert "Comment on: a post" in html


def test_private_replies_recorded_with_an_integer_id_gain_the_conversations_public_id(db):
    """Migration 0025: the bubble links a private reply's conversation by its public id (the app's URLs)."""
    import importlib

    from django.apps import apps

    from inbox.tests.factories import ChatMessageFactory, ConversationFactory

    migration = importlib.import_module("inbox.migrations.0025_private_reply_public_ids")
    messenger = ConversationFactory()
    thread = ConversationFactory(kind=Conversation.Kind.COMMENTS)
    sent = ChatMessageFactory(conversation=thread, kind=ChatMessage.Kind.COMMENT, extra={
        "comment": {"hidden": False}, "private_reply": {"state": "sent", "conversation_id": messenger.pk},
    })
    queued = ChatMessageFactory(conversation=thread, kind=ChatMessage.Kind.COMMENT,
                                extra={"private_reply": {"state": "queued", "text": "Hi"}})
    gone = ChatMessageFactory(conversation=thread, kind=ChatMessage.Kind.COMMENT,
                              extra={"private_reply": {"state": "sent", "conversation_id": 987654}})

    migration.forwards(apps, None)

    sent.refresh_from_db(), queued.refresh_from_db(), gone.refresh_from_db()
    assert sent.extra["private_reply"] == {
        "state": "sent", "conversation_id": messenger.pk, "conversation_public_id": str(messenger.public_id),
    }
    assert sent.extra["comment"] == {"hidden": False}
    assert queued.extra == {"private_reply": {"state": "queued", "text": "Hi"}}
    assert "conversation_public_id" not in gone.extra["private_reply"]
