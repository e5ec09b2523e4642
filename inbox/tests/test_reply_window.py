"""The reply window in view: a click-to-Messenger ad's 7-day window, HUMAN_AGENT only for a person's
reply, the countdown chip, the "Needs reply" and "Expiring soon" views, and the explicit mark read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import selectors
from inbox.models import ChatMessage, Conversation
from inbox.reply_window import AD_WINDOW, reply_window, standard_window_end
from inbox.selectors import ConversationFilters, conversation_list
from inbox.services.replies import reply_deliver
from inbox.templatetags.reply_window_tags import countdown_text, reply_window_chip_for
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import PAGE_ID, PSID, load_fixture, post_webhook
from sandbox import payloads as p

pytestmark = pytest.mark.django_db

Kind = ChatMessage.Kind
AD = {
    "ref": "winter-sale",
    "ad_id": "120200000000000001",
    "source": "ADS",
    "type": "OPEN_THREAD",
    "ads_context_data": {"ad_title": "Winter sale", "post_id": "104857600123456_987654321"},
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def send(client, *items) -> None:
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))
    assert post_webhook(client, body).status_code == 200


def customer_conversation() -> Conversation:
    return Conversation.objects.get(contact__external_id=PSID)


# --- the window after a click-to-Messenger ad ------------------------------------------------------


def test_without_an_ad_the_window_is_24_hours(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_inbound_at=timezone.now())
    assert standard_window_end(conversation) == conversation.last_inbound_at + timedelta(hours=24)
    assert reply_window(conversation=conversation).from_ad is False


def test_after_an_ad_the_window_lasts_7_days_from_the_first_message_then_closes(page):
    now = timezone.now()
    opened = now - timedelta(days=3)
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=opened, ad_referral_at=opened, ad_window_opened_at=opened
    )
    window = reply_window(conversation=conversation, now=now)
    assert (window.state, window.messaging_type, window.tag, window.from_ad) == ("open", "RESPONSE", "", True)
    assert window.until == opened + AD_WINDOW
    # A day and a minute before the 7 days run out: still a plain RESPONSE.
    assert reply_window(conversation=conversation, now=opened + AD_WINDOW - timedelta(minutes=1)).state == "open"
    closed = reply_window(conversation=conversation, now=opened + AD_WINDOW + timedelta(seconds=1))
    assert closed.state == "locked" and closed.closed_at == opened + AD_WINDOW
    assert "7 days" in closed.reason and "ad" in closed.reason


def test_a_later_message_keeps_the_longer_of_the_two_windows(page):
    now = timezone.now()
    conversation = ConversationFactory(
        contact=ContactFactory(account=page),
        last_inbound_at=now - timedelta(hours=1),
        ad_window_opened_at=now - timedelta(days=6, hours=23, minutes=30),
    )
    # The ad's window ends in 30 minutes; the customer's new message gives 23 hours.
    assert reply_window(conversation=conversation, now=now).until == now + timedelta(hours=23)
    assert reply_window(conversation=conversation, now=now).from_ad is False


# --- HUMAN_AGENT only for a person's reply ---------------------------------------------------------


def test_human_agent_is_only_for_a_person(page):
    page.human_agent_enabled = True
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=timezone.now() - timedelta(days=2)
    )
    assert reply_window(conversation=conversation).tag == "HUMAN_AGENT"
    automated = reply_window(conversation=conversation, human=False)
    assert (automated.state, automated.tag, automated.messaging_type) == ("locked", "", "")
    assert "written by a person" in automated.reason
    # Inside the standard window an automated send is a RESPONSE like any other.
    conversation.last_inbound_at = timezone.now()
    assert reply_window(conversation=conversation, human=False).messaging_type == "RESPONSE"


def _queued_row(conversation, *, sent_by) -> ChatMessage:
    return ChatMessageFactory(
        conversation=conversation,
        direction=ChatMessage.Direction.OUTBOUND,
        source=ChatMessage.Source.INBOX,
        message_id=None,
        status=ChatMessage.Status.QUEUED,
        sent_by=sent_by,
        content="Hello",
        client_token=f"token-{sent_by.pk if sent_by else 'none'}",
    )


def test_a_send_nobody_wrote_never_carries_the_tag(page, member):
    page.human_agent_enabled = True
    page.save(update_fields=["human_agent_enabled"])
    conversation = ConversationFactory(
        contact=ContactFactory(account=page, external_id=PSID), last_inbound_at=timezone.now() - timedelta(days=2)
    )
    url = f"{settings.FACEBOOK_GRAPH_URL.rstrip('/')}/{page.account_id}/messages"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as graph:
        graph.add(responses.POST, url, json={"recipient_id": PSID, "message_id": "m_sent_1"}, status=200)
        automated = _queued_row(conversation, sent_by=None)
        assert reply_deliver(message_id=automated.pk) == "failed"
        assert len(graph.calls) == 0
        automated.refresh_from_db()
        assert automated.status == ChatMessage.Status.FAILED and "written by a person" in automated.error
        # A person's reply (a retry of one too) goes as a human agent message.
        human = _queued_row(conversation, sent_by=member)
        assert reply_deliver(message_id=human.pk) == "sent"
        body = json.loads(graph.calls[-1].request.body)
        assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


# --- ingest: ad clicks and the first message after them -----------------------------------------------


def test_an_ad_referral_then_a_message_opens_the_7_day_window(client, page):
    post_webhook(client, load_fixture("referral"))  # source ADS, with ads_context_data, at 1731581500000
    conversation = customer_conversation()
    assert conversation.ad_referral_at == at(1731581500000)
    assert conversation.ad_window_opened_at is None  # a click alone is no message
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="Is it in stock?", timestamp_ms=1731581560000))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="And in red?", timestamp_ms=1731581620000))
    conversation.refresh_from_db()
    assert conversation.ad_window_opened_at == at(1731581560000)  # the first message, not the latest
    assert standard_window_end(conversation) == at(1731581560000) + AD_WINDOW


def test_a_message_carrying_the_ad_referral_opens_the_window_itself(client, page):
    item = p.text_message(page_id=PAGE_ID, psid=PSID, text="Hi from the ad", timestamp_ms=1767225600000)
    item["message"]["referral"] = AD
    send(client, item)
    conversation = customer_conversation()
    assert conversation.ad_referral_at == conversation.ad_window_opened_at == at(1767225600000)


def test_a_link_referral_or_a_button_tap_does_not_open_the_ad_window(client, page):
    send(client, p.referral(page_id=PAGE_ID, psid=PSID, ref="link", timestamp_ms=1767225600000))
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="Hello", timestamp_ms=1767225660000))
    conversation = customer_conversation()
    assert (conversation.ad_referral_at, conversation.ad_window_opened_at) == (None, None)
    # Get Started from an ad is the click; the window waits for a message.
    send(client, p.postback(page_id=PAGE_ID, psid=PSID, referral=AD, timestamp_ms=1767225720000))
    conversation.refresh_from_db()
    assert (conversation.ad_referral_at, conversation.ad_window_opened_at) == (at(1767225720000), None)
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="Price?", timestamp_ms=1767225780000))
    conversation.refresh_from_db()
    assert conversation.ad_window_opened_at == at(1767225780000)


def test_a_new_ad_click_opens_a_new_window_and_redeliveries_change_nothing(client, page):
    first = p.referral(
        page_id=PAGE_ID, psid=PSID, source="ADS", ads_context_data=AD["ads_context_data"], timestamp_ms=1767225600000
    )
    message = p.text_message(page_id=PAGE_ID, psid=PSID, text="One", timestamp_ms=1767225660000)
    send(client, first, message)
    send(client, first, message)  # redelivered
    conversation = customer_conversation()
    assert conversation.ad_window_opened_at == at(1767225660000)
    later = p.referral(page_id=PAGE_ID, psid=PSID, source="ADS", timestamp_ms=1767830400000)
    send(client, later, p.text_message(page_id=PAGE_ID, psid=PSID, text="Two", timestamp_ms=1767830460000))
    conversation.refresh_from_db()
    assert (conversation.ad_referral_at, conversation.ad_window_opened_at) == (at(1767830400000), at(1767830460000))
    send(client, first, message)  # the old click again: nothing moves back
    conversation.refresh_from_db()
    assert (conversation.ad_referral_at, conversation.ad_window_opened_at) == (at(1767830400000), at(1767830460000))


# --- the chip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "human", "text"),
    [
        (23 * 3600 + 59 * 60, False, "23h left"),
        (2 * 3600, False, "2h left"),
        (3600 + 12 * 60 + 30, False, "1h 12m left"),
        (9 * 60 + 59, False, "Closes in 9 min"),
        (20, False, "Closes in 1 min"),
        (6 * 86400 + 4 * 3600, False, "6d 4h left"),
        (6 * 86400 - 100, True, "Human agent: 6d left"),
        (2 * 86400 + 3600, True, "Human agent: 2d left"),
        (47 * 3600, True, "Human agent: 47h left"),
        (5 * 3600, True, "Human agent: 5h left"),
        (59, True, "Human agent: 1 min left"),
    ],
)
def test_countdown_text(seconds, human, text):
    assert countdown_text(seconds, human_agent=human) == text


def test_chip_states(page):
    now = timezone.now()
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_inbound_at=now - timedelta(hours=1))
    assert (reply_window_chip_for(conversation, now=now).state, reply_window_chip_for(conversation, now=now).text) == (
        "open",
        "23h left",
    )
    conversation.last_inbound_at = now - timedelta(hours=22, minutes=48)
    chip = reply_window_chip_for(conversation, now=now)
    assert (chip.state, chip.text) == ("soon", "1h 12m left")
    conversation.last_inbound_at = now - timedelta(days=1, minutes=1)
    chip = reply_window_chip_for(conversation, now=now)
    assert (chip.state, chip.text) == ("closed", "Window closed")
    page.human_agent_enabled = True
    chip = reply_window_chip_for(conversation, now=now)
    assert (chip.state, chip.text) == ("human", "Human agent: 6d left")
    conversation.last_inbound_at = None
    assert reply_window_chip_for(conversation, now=now) is None


def test_the_header_shows_the_chip_with_its_deadline(client_member, page):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=timezone.now() - timedelta(hours=23, minutes=51)
    )
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert 'class="chip reply-window-chip rw-soon"' in html
    assert "Closes in 8 min" in html or "Closes in 9 min" in html
    assert f'data-deadline="{(conversation.last_inbound_at + timedelta(hours=24)).isoformat()}"' in html
    assert "js/reply_window.js" in html


# --- the views: needs reply, expiring soon ------------------------------------------------------------


def _conversation(page, *, inbound_ago: timedelta, replied: bool = False, **fields) -> Conversation:
    when = timezone.now() - inbound_ago
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=when, last_message_at=when, **fields
    )
    ChatMessageFactory(conversation=conversation, timestamp=when, is_replied=replied)
    return conversation


def _listed(business, reply: str) -> list[int]:
    return [c.pk for c in conversation_list(business=business, filters=ConversationFilters(reply=reply)).conversations]


def test_needs_reply_lists_the_unanswered_and_only_the_business_s_own(page, other_page):
    waiting = _conversation(page, inbound_ago=timedelta(hours=3))
    answered = _conversation(page, inbound_ago=timedelta(hours=2), replied=True)
    old_waiting = _conversation(page, inbound_ago=timedelta(days=3))
    notice_only = ConversationFactory(contact=ContactFactory(account=page))
    ChatMessageFactory(conversation=notice_only, kind=Kind.NOTICE)  # a line from Meta needs no answer
    _conversation(other_page, inbound_ago=timedelta(hours=1))  # another business's
    assert _listed(page.business, "needed") == [waiting.pk, old_waiting.pk]
    assert answered.pk not in _listed(page.business, "needed")


def test_expiring_soon_lists_open_unanswered_conversations_closing_within_2_hours(page, other_page):
    closing = _conversation(page, inbound_ago=timedelta(hours=23))
    also_closing = _conversation(page, inbound_ago=timedelta(hours=22, minutes=5))
    _conversation(page, inbound_ago=timedelta(hours=21))  # 3 hours left
    _conversation(page, inbound_ago=timedelta(hours=25))  # already closed
    _conversation(page, inbound_ago=timedelta(hours=23), replied=True)  # answered
    _conversation(page, inbound_ago=timedelta(hours=23), status=Conversation.Status.RESOLVED)
    _conversation(other_page, inbound_ago=timedelta(hours=23))  # another business's
    now = timezone.now()
    # An ad's window: its 24 hours are long gone but the 7 days end in an hour; and one with days left.
    ad_closing = _conversation(
        page, inbound_ago=timedelta(days=3), ad_window_opened_at=now - AD_WINDOW + timedelta(hours=1)
    )
    _conversation(page, inbound_ago=timedelta(hours=23), ad_window_opened_at=now - timedelta(days=1))
    assert _listed(page.business, "expiring") == [also_closing.pk, closing.pk, ad_closing.pk]


def test_the_views_cost_a_fixed_number_of_queries(page):
    for hours in (1, 2, 22.5, 23, 23.5):
        _conversation(page, inbound_ago=timedelta(hours=hours))
    with CaptureQueriesContext(connection) as needed:
        conversation_list(business=page.business, filters=ConversationFilters(reply="needed"))
    with CaptureQueriesContext(connection) as expiring:
        page_of = conversation_list(business=page.business, filters=ConversationFilters(reply="expiring"), limit=2)
    assert len(page_of.conversations) == 2 and page_of.next_cursor
    rest = conversation_list(
        business=page.business, filters=ConversationFilters(reply="expiring"), cursor=page_of.next_cursor, limit=50
    )
    assert len(rest.conversations) == 1 and rest.conversations[0] not in page_of.conversations
    for _ in range(10):
        _conversation(page, inbound_ago=timedelta(hours=23))
    with CaptureQueriesContext(connection) as expiring_more:
        more = conversation_list(business=page.business, filters=ConversationFilters(reply="expiring"))
    # The rows and their labels, however many match; "Expiring soon" first sorts the page's ids.
    assert len(needed) == 2
    assert len(expiring) == len(expiring_more) == 3
    assert len(more.conversations) == 13


def test_the_list_page_offers_both_views_with_their_empty_states(client_member, page):
    url = reverse("inbox:conversation_list")
    html = client_member.get(url).content.decode()
    assert 'data-reply-view="needed"' in html and 'data-reply-view="expiring"' in html
    html = client_member.get(url, {"reply": "needed"}).content.decode()
    assert "Every customer has an answer" in html
    html = client_member.get(url, {"reply": "expiring"}).content.decode()
    assert "No reply window closing soon" in html
    # Another view's link leaves the reply view; a malformed value is the default list.
    assert "reply=expiring" not in html.split('data-reply-view="needed"')[0].rsplit("<a", 1)[-1]
    assert client_member.get(url, {"reply": "nonsense"}).status_code == 200
    waiting = _conversation(page, inbound_ago=timedelta(hours=23))
    html = client_member.get(url, {"reply": "expiring"}).content.decode()
    assert f'id="conversation-{waiting.pk}"' in html


def test_the_filters_keep_the_view_in_their_links():
    assert ConversationFilters(reply="expiring").as_query() == {"reply": "expiring"}
    assert selectors.REPLY_VIEWS == ("expiring", "needed")


# --- mark read beside mark unread --------------------------------------------------------------------


def test_mark_read_and_unread_answer_the_live_fragments(client_member, member, page):
    conversation = _conversation(page, inbound_ago=timedelta(minutes=5), unread_count=1)
    response = client_member.post(reverse("inbox:conversation_read", args=[conversation.public_id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    assert f'id="conversation-{conversation.pk}"' in html and f'id="conversation-header-{conversation.pk}"' in html
    assert "Mark unread" in html and ">Mark read<" not in html
    response = client_member.post(reverse("inbox:conversation_unread", args=[conversation.public_id]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "data-mark-read" in html and "data-mark-unread" not in html


@pytest.mark.parametrize("name", ["conversation_read", "conversation_unread"])
def test_mark_read_and_unread_of_another_business_are_404(client_other, page, name):
    conversation = _conversation(page, inbound_ago=timedelta(minutes=5), unread_count=1)
    response = client_other.post(reverse(f"inbox:{name}", args=[conversation.public_id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.unread_count == 1


@pytest.mark.parametrize(
    ("referral", "from_ad"),
    [
        ({"source": "ADS", "ref": "x"}, True),
        ({"source": "ads"}, True),
        ({"ads_context_data": {"ad_title": "Winter sale"}}, True),
        ({"source": "SHORTLINK", "ref": "x"}, False),
        ({"source": "ADS", "ads_context_data": None}, True),
        (None, False),
        ("ADS", False),
    ],
)
def test_what_counts_as_an_ad_click(referral, from_ad):
    from inbox.ingest.ad_referrals import is_ad_referral

    assert is_ad_referral(referral) is from_ad


def test_the_pushed_header_carries_the_chip(page):
    from inbox.realtime import render_live

    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=timezone.now() - timedelta(hours=1)
    )
    html = render_live(business_id=page.business_id, conversation_ids=[conversation.pk])
    assert "reply-window-chip rw-open" in html and "22h left" in html
