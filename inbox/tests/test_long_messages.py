"""A very long customer message is stored whole, but its bubble and live push show a bounded part."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.realtime import render_live
from inbox.templatetags.inbox_tags import MESSAGE_TEXT_SHOWN
from inbox.tests.factories import ChatMessageFactory, ConversationFactory

pytestmark = pytest.mark.django_db

ONE_MB = 1_000_000
# The shown part plus everything else a message and its row carry (markup, counters).
BOUND = MESSAGE_TEXT_SHOWN + 30_000


@pytest.fixture
def long_message(page):
    conversation = ConversationFactory(contact__account=page)
    # Lines and links too: linebreaksbr and urlize must run on the shown part only.
    text = ("see https://example.com/menu now\n" + "x" * 90 + "\n") * (ONE_MB // 124) + "THE END"
    return ChatMessageFactory(conversation=conversation, content=text)


def test_the_live_push_of_a_1_mb_message_is_bounded_and_says_so(long_message):
    html = render_live(business_id=long_message.business_id, conversation_ids=[long_message.conversation_id],
                       message_ids=[long_message.pk])
    assert len(html) < BOUND
    assert f"… message shortened, {len(long_message.content):,} characters" in html
    assert reverse("inbox:message_text", args=[long_message.public_id]) in html
    assert "THE END" not in html


def test_the_conversation_page_of_a_1_mb_message_is_bounded_and_says_so(client_member, long_message):
    response = client_member.get(reverse("inbox:conversation_detail", args=[long_message.conversation.public_id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert len(page) < BOUND + 30_000  # the page around the conversation
    assert "message shortened" in page and "Show all" in page
    assert "THE END" not in page


def test_a_message_within_the_limit_is_shown_whole_without_a_notice(page):
    message = ChatMessageFactory(conversation=ConversationFactory(contact__account=page),
                                 content="y" * (MESSAGE_TEXT_SHOWN - 3) + "END")
    html = render_live(business_id=message.business_id, message_ids=[message.pk])
    assert "y" * 100 + "END</p>" in html
    assert "message shortened" not in html


def test_show_all_serves_the_whole_text_as_plain_text(client_member, long_message):
    response = client_member.get(reverse("inbox:message_text", args=[long_message.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response.content.decode() == long_message.content  # stored whole, served whole


def test_show_all_is_a_404_for_another_business(client_other, long_message):
    assert client_other.get(reverse("inbox:message_text", args=[long_message.public_id])).status_code == 404


def test_show_all_is_a_404_for_a_deleted_message(client_member, long_message):
    long_message.is_deleted = True
    long_message.save(update_fields=["is_deleted"])
    assert client_member.get(reverse("inbox:message_text", args=[long_message.public_id])).status_code == 404


def test_show_all_needs_a_login(client, long_message):
    response = client.get(reverse("inbox:message_text", args=[long_message.public_id]))
    assert response.status_code == 302 and "login" in response["Location"]
