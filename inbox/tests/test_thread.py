"""A readable thread on the server's side: a conversation opened from a search at its newest matching
message (with the older and newer pages around it), the data the browser groups messages by, and the
fallback times without a leading zero. The browser's part is inbox/tests/e2e/test_thread_keyboard.py."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import selectors
from inbox.models import ChatMessage
from inbox.templatetags.inbox_tags import short_time
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "conversation-pane"}


def _ids(html: str, prefix: str = "message") -> list[int]:
    return [int(pk) for pk in re.findall(rf'id="{prefix}-(\d+)"', html)]


def _thread(page, texts: list[str], **kwargs) -> tuple:
    """A conversation whose messages say `texts`, one a minute, oldest first."""
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))
    start = timezone.now() - timedelta(minutes=len(texts) + 1)
    messages = [
        ChatMessageFactory(
            conversation=conversation, content=text, is_read=True, timestamp=start + timedelta(minutes=i), **kwargs
        )
        for i, text in enumerate(texts)
    ]
    return conversation, messages


def _detail(client, conversation, **params):
    return client.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), params, **HTMX)


# --- opening a search result at its match ----------------------------------------------------------------


def test_a_search_opens_the_conversation_at_its_newest_matching_message(client_member, page, monkeypatch):
    monkeypatch.setattr("inbox.views.conversations.MESSAGE_PAGE_SIZE", 6)
    texts = [f"message {i}" for i in range(40)]
    texts[5] = "Is the CAKE ready?"
    texts[12] = "the cake was lovely"  # the newest match
    texts[13] = "A deleted cake"
    conversation, messages = _thread(page, texts)
    ChatMessage.objects.filter(pk=messages[13].pk).update(is_deleted=True)

    response = _detail(client_member, conversation, q="Cake")

    assert response.status_code == 200
    html = response.content.decode()
    shown = _ids(html)
    assert messages[12].pk in shown and messages[5].pk not in shown
    # Most of the page leads up to the match; the messages after it follow, with more to load.
    assert shown == [m.pk for m in messages[9:15]]
    match = re.search(r'<article id="message-(\d+)"[^>]*data-match="([^"]*)"', html)
    assert match and int(match.group(1)) == messages[12].pk and match.group(2) == "Cake"
    assert html.count("data-match=") == 1
    assert "data-older" in html and "data-newer" in html


def test_the_pages_around_a_match_continue_both_ways_without_gaps(client_member, page, monkeypatch):
    monkeypatch.setattr("inbox.views.conversations.MESSAGE_PAGE_SIZE", 6)
    texts = [f"message {i}" for i in range(20)]
    texts[9] = "where is my parcel"
    conversation, messages = _thread(page, texts)
    url = reverse("inbox:message_list", args=[conversation.public_id])

    first = _detail(client_member, conversation, q="parcel")
    seen = _ids(first.content.decode())
    page_ = first.context["message_page"]
    older, newer = page_.older_cursor, page_.newer_cursor
    while older:
        response = client_member.get(url, {"before": older}, **HTMX)
        seen = _ids(response.content.decode()) + seen
        older = (re.search(r"\?before=([\d.]+)", response.content.decode()) or [None, None])[1]
    while newer:
        response = client_member.get(url, {"newer": newer}, **HTMX)
        html = response.content.decode()
        assert "data-older" not in html and "history-start" not in html
        seen += _ids(html)
        newer = (re.search(r"\?newer=([\d.]+)", html) or [None, None])[1]

    assert seen == [m.pk for m in messages]


def test_a_search_without_a_matching_message_opens_at_the_newest(client_member, page, monkeypatch):
    monkeypatch.setattr("inbox.views.conversations.MESSAGE_PAGE_SIZE", 5)
    conversation, messages = _thread(page, [f"message {i}" for i in range(12)])

    # The list found it by the customer's name: nothing to jump to.
    response = _detail(client_member, conversation, q="Giulia")

    html = response.content.decode()
    assert _ids(html) == [m.pk for m in messages[-5:]]
    assert "data-match" not in html and "data-newer" not in html


def test_an_empty_or_too_long_q_is_ignored(client_member, page):
    conversation, messages = _thread(page, ["x" * 5, "hello"])
    for q in ("", "   ", "x" * 101):
        html = _detail(client_member, conversation, q=q).content.decode()
        assert "data-match" not in html
        assert _ids(html) == [m.pk for m in messages]


def test_the_match_is_looked_for_in_this_conversation_only(client_member, page):
    conversation, _ = _thread(page, ["nothing to see"])
    _thread(page, ["the cake is here"])  # another conversation of the same business
    html = _detail(client_member, conversation, q="cake").content.decode()
    assert "data-match" not in html


def test_another_business_cannot_open_a_conversation_with_q(client_other, page):
    conversation, messages = _thread(page, ["secret recipe"])
    response = client_other.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), {"q": "secret"}, **HTMX)
    assert response.status_code == 404
    url = reverse("inbox:message_list", args=[conversation.public_id])
    cursor = selectors.cursor_encode(messages[0].timestamp - timedelta(seconds=1), 0)
    assert client_other.get(url, {"newer": cursor}, **HTMX).status_code == 404


def test_a_malformed_newer_cursor_is_a_404(client_member, page):
    conversation, _ = _thread(page, ["hello"])
    url = reverse("inbox:message_list", args=[conversation.public_id])
    assert client_member.get(url, {"newer": "not-a-cursor"}, **HTMX).status_code == 404


def test_the_match_query_count_is_flat(client_member, page, monkeypatch):
    monkeypatch.setattr("inbox.views.conversations.MESSAGE_PAGE_SIZE", 10)
    conversation, _ = _thread(page, ["cake"] + [f"message {i}" for i in range(4)])
    with CaptureQueriesContext(connection) as few:
        assert _detail(client_member, conversation, q="cake").status_code == 200
    more = ["cake"] + [f"message {i}" for i in range(60)]
    conversation_b, _ = _thread(page, more)
    with CaptureQueriesContext(connection) as many:
        assert _detail(client_member, conversation_b, q="cake").status_code == 200
    assert len(many) <= len(few)


def test_the_newer_pages_query_count_is_flat(client_member, page):
    conversation, messages = _thread(page, [f"m {i}" for i in range(4)])
    url = reverse("inbox:message_list", args=[conversation.public_id])
    cursor = selectors.cursor_encode(messages[0].timestamp - timedelta(seconds=1), 0)
    with CaptureQueriesContext(connection) as few:
        client_member.get(url, {"newer": cursor}, **HTMX)
    _thread(page, [])
    for i in range(50):
        ChatMessageFactory(
            conversation=conversation,
            content=f"later {i}",
            is_read=True,
            timestamp=timezone.now() + timedelta(seconds=i),
        )
    with CaptureQueriesContext(connection) as many:
        response = client_member.get(url, {"newer": cursor}, **HTMX)
    assert len(many) <= len(few)
    assert "data-newer" in response.content.decode()


# --- what the browser groups and separates by -------------------------------------------------------------


def test_messages_carry_their_side_and_author(client_member, member, page):
    conversation, (inbound,) = _thread(page, ["hi"])
    outbound = ChatMessageFactory(
        conversation=conversation, direction="outbound", source="inbox", sent_by=member, content="hello", status="sent"
    )
    html = _detail(client_member, conversation).content.decode()
    assert re.search(rf'id="message-{inbound.pk}"[^>]*data-direction="inbound"', html)
    assert re.search(rf'id="message-{outbound.pk}"[^>]*data-direction="outbound" data-author="{member.pk}"', html)


# --- times -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (dt.datetime(2026, 12, 5, 9, 5, tzinfo=dt.UTC), "5 Dec 9:05"),
        (dt.datetime(2026, 1, 30, 0, 7, tzinfo=dt.UTC), "30 Jan 0:07"),
        (dt.datetime(2026, 6, 1, 14, 30, tzinfo=dt.UTC), "1 Jun 14:30"),
    ],
)
def test_short_time_has_no_leading_zero(when, text):
    assert short_time(when) == text


def test_short_time_of_nothing_is_empty():
    assert short_time(None) == ""
