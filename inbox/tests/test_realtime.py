from __future__ import annotations

from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from inbox import realtime
from inbox.realtime import publish_on_commit, render_live
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import layer_listen, layer_nothing

pytestmark = pytest.mark.django_db


def _receive(layer, channel: str) -> dict:
    return async_to_sync(layer.receive)(channel)




def test_publish_sends_the_page_partials_in_one_group_message(layer, page, other_page,
                                                             django_capture_on_commit_callbacks):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Giulia"), unread_count=1)
    message = ChatMessageFactory(conversation=conversation, content="Is the cake ready?")
    AttachmentFactory(message=message, type="image", state="stored")
    ours = layer_listen(layer, page.business_id)
    theirs = layer_listen(layer, other_page.business_id)
    with mock.patch.object(layer, "group_send", wraps=layer.group_send) as group_send:
        with django_capture_on_commit_callbacks(execute=True):
            publish_on_commit(business_id=page.business_id, conversation_ids=[conversation.pk],
                              message_ids=[message.pk])
        assert group_send.call_count == 1
    event = _receive(layer, ours)
    assert event["type"] == "inbox.html"
    html = event["html"]
    assert f'id="conversation-{conversation.pk}"' in html and 'data-live="row"' in html
    assert f'id="message-{message.pk}"' in html and 'data-live="message"' in html
    assert f'data-conversation="{conversation.pk}"' in html
    assert f'id="conversation-header-{conversation.pk}"' in html
    assert f'id="composer-{conversation.pk}"' in html
    assert 'id="unread-total"' in html and f'id="unread-account-{page.pk}"' in html
    assert "Is the cake ready?" in html and "Giulia" in html
    assert layer_nothing(layer, theirs)


def test_publish_of_another_business_ids_renders_nothing_of_theirs(page, other_page):
    foreign = ConversationFactory(contact=ContactFactory(account=other_page, name="Foreign"))
    foreign_message = ChatMessageFactory(conversation=foreign, content="not yours")
    html = render_live(business_id=page.business_id, conversation_ids=[foreign.pk], message_ids=[foreign_message.pk])
    assert "Foreign" not in html and "not yours" not in html
    assert f'id="unread-account-{other_page.pk}"' not in html


def test_nothing_is_sent_for_a_rolled_back_transaction(layer, page, django_capture_on_commit_callbacks):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    channel = layer_listen(layer, page.business_id)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        publish_on_commit(business_id=page.business_id, conversation_ids=[conversation.pk])
        raise RuntimeError("rolled back")
    assert layer_nothing(layer, channel)


def test_a_big_batch_tells_pages_to_fetch_instead(page, settings):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    messages = [ChatMessageFactory(conversation=conversation) for _ in range(realtime.MAX_MESSAGES_PER_PUSH + 5)]
    html = render_live(business_id=page.business_id, message_ids=[m.pk for m in messages])
    assert 'data-live="resync"' in html
    assert html.count('data-live="message"') == realtime.MAX_MESSAGES_PER_PUSH
    assert f'id="message-{messages[-1].pk}"' in html
    assert f'data-conversations="{conversation.pk}"' in html


def test_a_big_batch_resyncs_every_conversation_whose_messages_it_leaves_out(page):
    """The oldest messages of a big push are left out: every conversation they belong to is named."""
    early, late = (ConversationFactory(contact=ContactFactory(account=page)) for _ in range(2))
    dropped = [ChatMessageFactory(conversation=early) for _ in range(3)]
    sent = [ChatMessageFactory(conversation=late) for _ in range(realtime.MAX_MESSAGES_PER_PUSH)]
    html = render_live(business_id=page.business_id, message_ids=[m.pk for m in dropped + sent])
    assert f'data-conversations="{early.pk}"' in html
    assert not any(f'id="message-{m.pk}"' in html for m in dropped)
    assert all(f'id="message-{m.pk}"' in html for m in sent)


def test_a_batch_touching_many_conversations_sends_the_newest_rows_and_reloads_the_list(page):
    """500 new customers in one batch must not make a push over the 1 MiB WebSocket frame limit."""
    conversations = [
        ConversationFactory(contact=ContactFactory(account=page)) for _ in range(realtime.MAX_ROWS_PER_PUSH + 7)
    ]
    ids = [c.pk for c in conversations]
    html = render_live(business_id=page.business_id, conversation_ids=ids)
    assert html.count('data-live="row"') == realtime.MAX_ROWS_PER_PUSH
    assert all(f'id="conversation-{pk}"' in html for pk in ids[-realtime.MAX_ROWS_PER_PUSH:])
    assert 'data-list="1"' in html
    left_out = ",".join(str(pk) for pk in sorted(ids)[: len(ids) - realtime.MAX_ROWS_PER_PUSH])
    assert f'data-conversations="{left_out}"' in html


def test_a_batch_under_the_row_cap_does_not_reload_the_list(page):
    conversations = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(3)]
    html = render_live(business_id=page.business_id, conversation_ids=[c.pk for c in conversations])
    assert 'data-list="1"' not in html
    assert html.count('data-live="row"') == 3


def test_rendering_cost_does_not_grow_with_the_rows(page, django_assert_max_num_queries):
    conversations = [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(2)]
    messages = [ChatMessageFactory(conversation=conversations[0], reply_to=None) for _ in range(2)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        render_live(business_id=page.business_id, conversation_ids=[c.pk for c in conversations],
                    message_ids=[m.pk for m in messages])
    conversations += [ConversationFactory(contact=ContactFactory(account=page)) for _ in range(20)]
    messages += [ChatMessageFactory(conversation=conversations[1]) for _ in range(20)]
    for m in messages:
        AttachmentFactory(message=m)
    with django_assert_max_num_queries(len(few)):
        render_live(business_id=page.business_id, conversation_ids=[c.pk for c in conversations],
                    message_ids=[m.pk for m in messages])


def test_a_broken_layer_never_breaks_the_caller(page):
    with mock.patch("config.channel_send.get_channel_layer") as get_layer:
        get_layer.return_value.group_send = mock.AsyncMock(side_effect=ConnectionError("redis is down"))
        realtime.publish(business_id=page.business_id)  # logs, does not raise
        get_layer.return_value.group_send.assert_awaited_once()


def test_pane_ids_limit_the_header_and_composer_to_those_conversations(page):
    first = ConversationFactory(contact=ContactFactory(account=page, name="Giulia"))
    second = ConversationFactory(contact=ContactFactory(account=page, name="Marco"))
    html = render_live(business_id=page.business_id, conversation_ids=[first.pk, second.pk], pane_ids=[second.pk])
    assert f'id="conversation-{first.pk}"' in html and f'id="conversation-{second.pk}"' in html
    assert f'id="conversation-header-{first.pk}"' not in html and f'id="composer-{first.pk}"' not in html
    assert f'id="conversation-header-{second.pk}"' in html and f'id="composer-{second.pk}"' in html
    # Without pane_ids (the staff actions), every conversation's pane parts are sent.
    html = render_live(business_id=page.business_id, conversation_ids=[first.pk, second.pk])
    assert f'id="conversation-header-{first.pk}"' in html and f'id="composer-{second.pk}"' in html
