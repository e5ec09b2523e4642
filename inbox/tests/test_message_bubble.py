"""One message of the thread as the page, the live pushes and the scripts read it (templatetags/message_bubble.py).

The markup is built in Python rather than by the template engine, so what autoescaping gave for free is
asserted here: every text a customer, a member or Meta chose is escaped, in text and attributes.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox import selectors
from inbox.models import Attachment, ChatMessage
from inbox.templatetags.message_bubble import message_html
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HOSTILE = "\"><img src=x onerror=alert(1)>&'"
ESCAPED = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#x27;"


def _html(message: ChatMessage, **context) -> str:
    (loaded,) = selectors.messages_by_ids(business_id=message.business_id, ids=[message.pk])
    return str(message_html(loaded, context))


def test_a_customers_text_is_escaped_linked_and_broken_into_lines(page):
    message = ChatMessageFactory(
        conversation=ConversationFactory(contact__account=page),
        content=f"Hi {HOSTILE}\nsee https://example.com/order/1 or mail help@example.com",
    )

    html = _html(message)

    assert "<img src=x" not in html
    assert f"Hi {ESCAPED}<br>see " in html
    assert '<a href="https://example.com/order/1" rel="nofollow">https://example.com/order/1</a>' in html
    assert '<a href="mailto:help@example.com">help@example.com</a>' in html


def test_the_attributes_are_what_the_scripts_place_and_find_messages_by(page, member):
    message = ChatMessageFactory(
        conversation=ConversationFactory(contact__account=page), direction="outbound", sent_by=member,
        source="inbox", status="delivered",
    )

    html = _html(message, match_id=message.pk, match_q=f"q {HOSTILE}")

    assert html.startswith(f'<article id="message-{message.pk}" class="msg msg-outbound" data-live="message"')
    assert f'data-conversation="{message.conversation_id}"' in html
    assert f'data-sort="{selectors.sort_key(message.timestamp, message.pk)}"' in html
    assert f'data-author="{member.pk}"' in html
    assert f'data-match="q {ESCAPED}"' in html
    assert 'class="tick tick-delivered" title="Delivered"' in html
    assert 'data-match' not in _html(message, match_id=message.pk + 1, match_q="q")


def test_a_failed_reply_says_why_and_offers_a_retry_with_the_pages_csrf_token(page, member):
    message = ChatMessageFactory(
        conversation=ConversationFactory(contact__account=page), direction="outbound", sent_by=member,
        source="inbox", status="failed", error=f"Outside the window {HOSTILE}", error_code=10,
    )

    html = _html(message, csrf_token="tok-123")

    assert f"Not sent: Outside the window {ESCAPED}" in html
    assert "(Meta error 10)" in html
    retry = reverse("inbox:message_retry", args=[message.public_id])
    assert f'<form method="post" action="{retry}" hx-post="{retry}"' in html
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="tok-123">' in html
    # A push has no request, so no token: the page's script sends its own header.
    assert "csrfmiddlewaretoken" not in _html(message)


def test_a_private_note_marks_its_mentions_and_escapes_the_rest(page, member):
    member.first_name, member.last_name = "Marco", "Bianchi"
    member.save()
    note = ChatMessageFactory(
        conversation=ConversationFactory(contact__account=page), kind="note", direction="internal", sent_by=member,
        content=f"@Marco look {HOSTILE}", extra={"mention_text": ["@Marco"]},
    )

    html = _html(note)

    assert 'class="msg msg-note"' in html
    assert 'data-direction="internal"' in html
    assert '<strong class="mention">@Marco</strong> look ' + ESCAPED in html
    assert "Only your team sees this" in html


def test_attachments_show_our_copy_metas_link_or_why_neither(page):
    message = ChatMessageFactory(conversation=ConversationFactory(contact__account=page), content="")
    stored = AttachmentFactory(message=message, type="image", state=Attachment.State.STORED)
    AttachmentFactory(message=message, type="file", state=Attachment.State.FAILED, name=f"f {HOSTILE}")
    AttachmentFactory(message=message, type="fallback", state=Attachment.State.LINK,
                      payload={"url": "https://example.com/post", "title": f"Post {HOSTILE}"})

    html = _html(message)

    download = reverse("inbox:attachment_download", args=[stored.pk])
    assert f'<a href="{download}" target="_blank" rel="noopener"><img src="{download}"' in html
    assert '<span class="att-missing">File not stored</span>' in html
    assert 'href="https://example.com/post"' in html
    assert f"Post {ESCAPED}" in html
    assert "(empty message)" not in html


def test_system_lines_postbacks_and_referrals(page):
    conversation = ConversationFactory(contact__account=page)
    postback = ChatMessageFactory(conversation=conversation, kind="postback", content=f"Get started {HOSTILE}")
    referral = ChatMessageFactory(conversation=conversation, kind="referral", content="",
                                  extra={"ads_context_data": {"ad_title": f"Sale {HOSTILE}"}})

    assert f"The customer tapped <strong>Get started {ESCAPED}</strong>" in _html(postback)
    referral_html = _html(referral)
    assert 'class="msg-system"' in referral_html
    assert f"Opened the conversation from a link “Sale {ESCAPED}”" in referral_html
