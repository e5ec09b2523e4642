"""The inbox socket: who may connect, and which business's pushes reach them."""

from __future__ import annotations

from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from inbox.realtime import business_group, publish
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import logged_in_client

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def _session_cookie(user, business_id=None) -> bytes:
    client = logged_in_client(user, business_id)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _communicator(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


async def test_anonymous_is_refused(clean_layer):
    communicator = _communicator()
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_missing_origin_is_refused(member, clean_layer):
    cookie = await sync_to_async(_session_cookie)(member)
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_session_pointing_at_a_business_they_do_not_belong_to_is_refused(
    member, other_business, clean_layer
):
    cookie = await sync_to_async(_session_cookie)(member, other_business.pk)
    communicator = _communicator(cookie)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_member_receives_their_business_and_nothing_of_another(
    member, other_member, business, other_business, page, other_page, clean_layer
):
    ours = await sync_to_async(ConversationFactory)(contact=await sync_to_async(ContactFactory)(account=page))
    our_message = await sync_to_async(ChatMessageFactory)(conversation=ours, content="for business A")
    theirs = await sync_to_async(ConversationFactory)(contact=await sync_to_async(ContactFactory)(account=other_page))
    their_message = await sync_to_async(ChatMessageFactory)(conversation=theirs, content="for business B")

    communicator = _communicator(await sync_to_async(_session_cookie)(member, business.pk))
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(publish)(business_id=business.pk, conversation_ids=[ours.pk], message_ids=[our_message.pk])
    html = await communicator.receive_from(timeout=3)
    assert f'id="message-{our_message.pk}"' in html and "for business A" in html

    await sync_to_async(publish)(
        business_id=other_business.pk, conversation_ids=[theirs.pk], message_ids=[their_message.pk]
    )
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_without_a_chosen_business_the_first_membership_is_followed(member, business, clean_layer):
    communicator = _communicator(await sync_to_async(_session_cookie)(member))
    connected, _ = await communicator.connect()
    assert connected
    await clean_layer.group_send(business_group(business.pk), {"type": "inbox.html", "html": "<p id='x'>hi</p>"})
    assert await communicator.receive_from(timeout=3) == "<p id='x'>hi</p>"
    await communicator.disconnect()


async def test_events_are_forwarded_without_a_database_lookup(member, business, clean_layer):
    communicator = _communicator(await sync_to_async(_session_cookie)(member, business.pk))
    connected, _ = await communicator.connect()
    assert connected
    # Within the recheck interval (inbox.access.RECHECK_SECONDS) of the check at connect.
    with mock.patch("inbox.consumers._followed_business", side_effect=AssertionError("looked up")), \
            mock.patch("inbox.consumers._access_problem", side_effect=AssertionError("looked up")):
        await clean_layer.group_send(business_group(business.pk), {"type": "inbox.html", "html": "<i>1</i>"})
        await clean_layer.group_send(business_group(business.pk), {"type": "inbox.html", "html": "<i>2</i>"})
        assert await communicator.receive_from(timeout=3) == "<i>1</i>"
        assert await communicator.receive_from(timeout=3) == "<i>2</i>"
    await communicator.disconnect()


async def test_what_the_client_sends_is_ignored(member, business, clean_layer):
    communicator = _communicator(await sync_to_async(_session_cookie)(member, business.pk))
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data='{"group": "inbox.business.999"}')
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
