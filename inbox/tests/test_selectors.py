from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox import selectors
from inbox.selectors import ConversationFilters, cursor_decode, cursor_encode, sort_key
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_cursor_round_trips_to_the_microsecond():
    when = timezone.now().replace(microsecond=123456)
    assert cursor_decode(cursor_encode(when, 42)) == (when, 42)


@pytest.mark.parametrize("bad", ["", None, "abc", "1.2.3", "9" * 40 + ".1", ".5"])
def test_a_malformed_cursor_is_the_first_page(bad):
    assert cursor_decode(bad) is None


def test_sort_key_sorts_like_time_then_id():
    now = timezone.now()
    keys = [sort_key(now, 10), sort_key(now, 9), sort_key(now + timedelta(microseconds=1), 1)]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]


def test_conversation_list_takes_the_business_explicitly(page, other_page):
    mine = ConversationFactory(contact=ContactFactory(account=page))
    ConversationFactory(contact=ContactFactory(account=other_page))
    result = selectors.conversation_list(business=page.business)
    assert [c.pk for c in result.conversations] == [mine.pk]


def test_conversation_list_walks_every_row_once_with_ties(page):
    when = timezone.now()
    rows = [ConversationFactory(contact=ContactFactory(account=page), last_message_at=when) for _ in range(5)]
    rows += [ConversationFactory(contact=ContactFactory(account=page), last_message_at=when - timedelta(seconds=1))
             for _ in range(3)]
    seen, cursor = [], None
    while True:
        result = selectors.conversation_list(business=page.business, cursor=cursor, limit=3)
        seen += [c.pk for c in result.conversations]
        if not result.next_cursor:
            break
        cursor = result.next_cursor
    expected = sorted(rows, key=lambda c: (c.last_message_at, c.pk), reverse=True)
    assert seen == [c.pk for c in expected]


def test_account_filter_cannot_reach_another_business(page, other_page):
    ConversationFactory(contact=ContactFactory(account=other_page))
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(account=other_page.public_id))
    assert result.conversations == []


def test_search_does_not_match_deleted_text(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), last_message_preview="")
    ChatMessageFactory(conversation=conversation, content="my secret address", is_deleted=True)
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(q="secret"))
    assert result.conversations == []


def test_message_list_pages_backwards_in_display_order(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    now = timezone.now()
    messages = [ChatMessageFactory(conversation=conversation, timestamp=now - timedelta(seconds=10 - i))
                for i in range(10)]
    newest = selectors.message_list(conversation=conversation, limit=4)
    assert [m.pk for m in newest.messages] == [m.pk for m in messages[6:]]
    older = selectors.message_list(conversation=conversation, cursor=newest.older_cursor, limit=4)
    assert [m.pk for m in older.messages] == [m.pk for m in messages[2:6]]
    oldest = selectors.message_list(conversation=conversation, cursor=older.older_cursor, limit=4)
    assert [m.pk for m in oldest.messages] == [m.pk for m in messages[:2]]
    assert oldest.older_cursor is None


def test_messages_after_is_the_catch_up(page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    first = ChatMessageFactory(conversation=conversation)
    later = [ChatMessageFactory(conversation=conversation) for _ in range(3)]
    ChatMessageFactory()  # another conversation
    assert [m.pk for m in selectors.messages_after(conversation=conversation, after_id=first.pk)] == [
        m.pk for m in later
    ]


def test_counters_count_only_unread_conversations_per_page(page, other_page):
    ConversationFactory(contact=ContactFactory(account=page), unread_count=3)
    ConversationFactory(contact=ContactFactory(account=page), unread_count=1)
    ConversationFactory(contact=ContactFactory(account=page))
    ConversationFactory(contact=ContactFactory(account=other_page), unread_count=7)
    counters = selectors.inbox_counters(business=page.business)
    [row] = counters.accounts
    assert (row.account, row.unread_conversations) == (page, 2)
    assert counters.unread_conversations == 2 and not counters.capped


def test_counters_stop_at_the_cap(page, monkeypatch):
    monkeypatch.setattr(selectors, "UNREAD_COUNT_CAP", 3)
    for _ in range(5):
        ConversationFactory(contact=ContactFactory(account=page), unread_count=1)
    counters = selectors.inbox_counters(business=page.business)
    assert counters.accounts[0].unread_conversations == 3
    assert counters.capped


def test_disconnected_pages_leave_the_navigation(page):
    page.status = "disconnected"
    page.save(update_fields=["status"])
    assert selectors.inbox_counters(business=page.business).accounts == []


# Search answers the same by each of its plans: the newest conversations filling the page (common
# text), a newest-first walk chosen from what that window found, or, when the window found little,
# each half (names, message text) fetched as an id list or, for text more common than
# SEARCH_ID_LIMIT matches, checked row by row on a newest-first walk.
@pytest.fixture(params=["recent window", "walk", "id lists", "row checks"])
def search_limit(request, monkeypatch):
    if request.param == "walk":
        monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 1)
        monkeypatch.setattr(selectors, "SEARCH_WALK_FROM", 0)
    if request.param in ("id lists", "row checks"):
        monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 0)
    if request.param == "row checks":
        monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 1)
    return request.param


def _search(business, q, **kwargs):
    return selectors.conversation_list(business=business, filters=ConversationFilters(q=q), **kwargs)


def test_search_matches_names_usernames_and_any_message_in_any_case(page, search_limit):
    now = timezone.now()
    by_name = ConversationFactory(contact=ContactFactory(account=page, name="Parcel Smith"), last_message_at=now)
    by_username = ConversationFactory(contact=ContactFactory(account=page, name="Bo", username="the.parcel.guy"),
                                      last_message_at=now - timedelta(minutes=1))
    by_old_message = ConversationFactory(contact=ContactFactory(account=page, name="Cy"),
                                         last_message_at=now - timedelta(minutes=2))
    ChatMessageFactory(conversation=by_old_message, content="Where is my PARCEL?")
    ChatMessageFactory(conversation=by_old_message, content="Thanks")
    by_two_messages = ConversationFactory(contact=ContactFactory(account=page, name="Di"),
                                          last_message_at=now - timedelta(minutes=3))
    ChatMessageFactory(conversation=by_two_messages, content="parcels x2")
    ChatMessageFactory(conversation=by_two_messages, content="one more parcel")
    no_match = ConversationFactory(contact=ContactFactory(account=page, name="Ed"), last_message_at=now)
    ChatMessageFactory(conversation=no_match, content="Where is my order?")
    result = _search(page.business, "pArCeL")
    assert [c.pk for c in result.conversations] == [by_name.pk, by_username.pk, by_old_message.pk, by_two_messages.pk]
    assert result.next_cursor is None


def test_search_pages_with_the_cursor_newest_first(page, search_limit):
    when = timezone.now()
    rows = []
    for index in range(7):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"Customer {index}"),
                                           last_message_at=when - timedelta(seconds=index // 2))
        ChatMessageFactory(conversation=conversation, content=f"my refund {index}" if index != 3 else "hello")
        rows.append(conversation)
    seen, cursor = [], None
    while True:
        result = _search(page.business, "refund", cursor=cursor, limit=2)
        seen += [c.pk for c in result.conversations]
        if not result.next_cursor:
            break
        cursor = result.next_cursor
    expected = sorted((c for i, c in enumerate(rows) if i != 3), key=lambda c: (c.last_message_at, c.pk),
                      reverse=True)
    assert seen == [c.pk for c in expected]


def test_search_keeps_the_other_filters(page, search_limit):
    resolved = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), status="resolved")
    ChatMessageFactory(conversation=resolved, content="refund please")
    now = timezone.now()
    unread = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), unread_count=2,
                                 last_message_at=now - timedelta(minutes=1))
    read = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), last_message_at=now)
    ChatMessageFactory(conversation=read, content="refund please")
    assert [c.pk for c in _search(page.business, "anna").conversations] == [read.pk, unread.pk]
    filters = ConversationFilters(q="refund", unread=True)
    assert selectors.conversation_list(business=page.business, filters=filters).conversations == []
    filters = ConversationFilters(q="refund", status="resolved")
    assert [c.pk for c in selectors.conversation_list(business=page.business, filters=filters).conversations] == [
        resolved.pk
    ]


def test_search_never_reaches_another_business(page, other_page, search_limit):
    theirs = ConversationFactory(contact=ContactFactory(account=other_page, name="Refund Jones"))
    ChatMessageFactory(conversation=theirs, content="refund")
    ChatMessageFactory(conversation=theirs, content="another refund")
    mine = ConversationFactory(contact=ContactFactory(account=page, name="Kim"))
    ChatMessageFactory(conversation=mine, content="no refund?")
    ChatMessageFactory(conversation=mine, content="refund!")
    assert [c.pk for c in _search(page.business, "refund").conversations] == [mine.pk]
    assert _search(other_page.business, "kim").conversations == []


def test_search_ignores_deleted_text_in_both_plans(page, search_limit):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Anna"))
    ChatMessageFactory(conversation=conversation, content="my secret address", is_deleted=True)
    ChatMessageFactory(conversation=conversation, content="my secret code", is_deleted=True)
    assert _search(page.business, "secret").conversations == []


def test_search_without_a_match_is_empty(page, search_limit):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Anna"))
    ChatMessageFactory(conversation=conversation, content="hello")
    result = _search(page.business, "zqxjv")
    assert (result.conversations, result.next_cursor) == ([], None)


@pytest.mark.parametrize(("q", "matching", "other"), [
    ("100%", "got 100% of it", "got 1000 of it"),
    ("a_b", "code a_b please", "code axb please"),
    ("order 1", "about order 12345", "about order 22345"),
])
def test_search_text_is_literal_with_wildcards_and_spaces(page, search_limit, q, matching, other):
    found = ConversationFactory(contact=ContactFactory(account=page, name="Anna"))
    ChatMessageFactory(conversation=found, content=matching)
    ChatMessageFactory(conversation=found, content=matching + " again")
    missed = ConversationFactory(contact=ContactFactory(account=page, name="Bo"))
    ChatMessageFactory(conversation=missed, content=other)
    assert [c.pk for c in _search(page.business, q).conversations] == [found.pk]


def test_common_text_still_finds_a_rare_name(page, monkeypatch):
    # Message text past the limit (a per-row walk) with few name matches (an id list on its own):
    # the walk must still list the customers found by name.
    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 0)
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 2)
    now = timezone.now()
    by_name = ConversationFactory(contact=ContactFactory(account=page, name="Refundo Ruiz"),
                                  last_message_at=now - timedelta(minutes=5))
    by_text = []
    for index in range(3):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"C{index}"),
                                           last_message_at=now - timedelta(minutes=index))
        ChatMessageFactory(conversation=conversation, content="refund?")
        by_text.append(conversation)
    ConversationFactory(contact=ContactFactory(account=page, name="Nobody"), last_message_at=now)
    assert [c.pk for c in _search(page.business, "refund").conversations] == [c.pk for c in by_text] + [by_name.pk]


def test_many_matching_conversations_are_one_id_list_query(page, monkeypatch, django_assert_num_queries):
    # Below the limit the matches go to the database as ids; four queries whatever their number (the
    # window of the newest conversations finds too few of them to fill a page or to choose a walk).
    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 5)
    monkeypatch.setattr(selectors, "SEARCH_WALK_FROM", 6)  # never a walk: the window holds only 5
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 50)
    rows = []
    for index in range(30):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"C{index}"))
        ChatMessageFactory(conversation=conversation, content=f"parcel {index}")
        rows.append(conversation)
    with django_assert_num_queries(4 + 1):  # and one for the labels of the page's rows
        result = _search(page.business, "parcel", limit=10)
    expected = sorted(rows, key=lambda c: (c.last_message_at, c.pk), reverse=True)[:10]
    assert [c.pk for c in result.conversations] == [c.pk for c in expected]
    assert result.next_cursor is not None


def _newest_first(page, *, matches) -> list:
    """12 conversations, newest first, a minute apart; those whose index ``matches`` say "refund please"."""
    now = timezone.now()
    rows = []
    for index in range(12):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"C{index}"),
                                           last_message_at=now - timedelta(minutes=index))
        ChatMessageFactory(conversation=conversation, content="refund please" if matches(index) else "hello")
        rows.append(conversation)
    return rows


def test_common_text_is_answered_from_the_newest_conversations_in_one_query(page, django_assert_num_queries):
    rows = _newest_first(page, matches=lambda index: index % 4)
    expected = [c.pk for i, c in enumerate(rows) if i % 4][:5]
    with django_assert_num_queries(1 + 1):  # and one for the labels of the page's rows
        result = _search(page.business, "refund", limit=5)
    assert [c.pk for c in result.conversations] == expected
    assert result.next_cursor is not None
    # The next page comes from the window after the cursor, just as exactly.
    following = _search(page.business, "refund", limit=5, cursor=result.next_cursor)
    assert [c.pk for c in following.conversations] == [c.pk for i, c in enumerate(rows) if i % 4][5:]


def test_text_in_part_of_the_newest_conversations_is_walked(page, monkeypatch, django_assert_num_queries):
    # 3 matches in the window of 6: too few for a page of 4, enough to choose the walk (2 queries).
    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 6)
    monkeypatch.setattr(selectors, "SEARCH_WALK_FROM", 3)
    rows = _newest_first(page, matches=lambda index: index % 2)
    with django_assert_num_queries(2 + 1):  # and one for the labels of the page's rows
        result = _search(page.business, "refund", limit=4)
    assert [c.pk for c in result.conversations] == [c.pk for i, c in enumerate(rows) if i % 2][:4]
