"""Presence over the inbox socket: strict frames, tenancy, rate limit, and presence gone with the socket."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from config.asgi import application
from inbox.services import presence
from inbox.tests.factories import ContactFactory, ConversationFactory
from inbox.tests.helpers import logged_in_client

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def sara(business):
    return MembershipFactory(business=business, user__email="sara@bakery.example", user__name="Sara", role="agent").user


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page))


async def _socket(user, business) -> WebsocketCommunicator:
    client = await sync_to_async(logged_in_client)(user, business.pk)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _frame(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=2))


IDLE = json.dumps({"presence": "idle"})


async def _pair(member, sara, business):
    """Marco's page, then Sara's, each saying it is here: Marco hears Sara arrive, Sara is told Marco is here."""
    marco_ws = await _socket(member, business)
    await marco_ws.send_to(text_data=IDLE)
    assert await marco_ws.receive_nothing(timeout=0.2)  # nobody else here yet
    sara_ws = await _socket(sara, business)
    await sara_ws.send_to(text_data=IDLE)
    arrived = await _frame(marco_ws)
    assert arrived["type"] == "presence" and arrived["entries"][0]["name"] == "Sara"
    snapshot = await _frame(sara_ws)
    assert snapshot["snapshot"] is True and [e["user"] for e in snapshot["entries"]] == [member.pk]
    return marco_ws, sara_ws


async def test_viewing_and_typing_reach_the_others_of_the_business_only(
    member, sara, other_member, business, other_business, conversation, clean_layer
):
    olga_ws = await _socket(other_member, other_business)
    marco_ws, sara_ws = await _pair(member, sara, business)

    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": conversation.pk}))
    entry = (await _frame(marco_ws))["entries"][0]
    assert (entry["name"], entry["state"], entry["conversation"]) == ("Sara", "viewing", conversation.pk)
    assert entry["expires_in"] == presence.ONLINE_SECONDS and "channel" not in json.dumps(entry)

    await sara_ws.send_to(text_data=json.dumps({"presence": "typing", "conversation": conversation.pk}))
    entry = (await _frame(marco_ws))["entries"][0]
    assert entry["state"] == "typing" and 5 <= entry["typing_for"] <= presence.TYPING_SECONDS

    # Sara is not told about herself; Olga (another business) hears nothing at all.
    assert await sara_ws.receive_nothing(timeout=0.3)
    assert await olga_ws.receive_nothing(timeout=0.3)
    for ws in (marco_ws, sara_ws, olga_ws):
        await ws.disconnect()


async def test_a_socket_that_never_speaks_presence_gets_html_only(member, sara, business, conversation, clean_layer):
    listener = await _socket(member, business)  # an older page, or a test client: it only listens
    sara_ws = await _socket(sara, business)
    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": conversation.pk}))
    assert await listener.receive_nothing(timeout=0.3)
    assert [e["user"] for e in await presence.presence_entries(business_id=business.pk)] == [sara.pk]
    await listener.disconnect()
    await sara_ws.disconnect()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"presence": "viewing"}),  # no conversation
        json.dumps({"presence": "dancing", "conversation": 1}),
        json.dumps({"presence": "viewing", "conversation": "1"}),
        json.dumps({"presence": "viewing", "conversation": True}),
        json.dumps({"presence": "viewing", "conversation": -3}),
        json.dumps({"presence": "viewing", "conversation": 2**64}),
        json.dumps({"presence": "viewing", "conversation": 1, "group": "inbox.business.1"}),
        json.dumps(["viewing", 1]),
        json.dumps({"presence": "idle", "conversation": None, "x": "y" * 200}),  # too long
    ],
)
async def test_malformed_frames_are_dropped(member, sara, business, text, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=text)
    assert await marco_ws.receive_nothing(timeout=0.3)
    await marco_ws.disconnect()
    await sara_ws.disconnect()


async def test_bytes_are_dropped(member, sara, business, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(bytes_data=b'{"presence": "idle"}')
    assert await marco_ws.receive_nothing(timeout=0.3)
    await marco_ws.disconnect()
    await sara_ws.disconnect()


async def test_another_business_conversation_is_refused(member, sara, business, other_page, clean_layer):
    theirs = await sync_to_async(ConversationFactory)(contact=await sync_to_async(ContactFactory)(account=other_page))
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": theirs.pk}))
    assert await marco_ws.receive_nothing(timeout=0.3)
    await marco_ws.disconnect()
    await sara_ws.disconnect()


async def test_a_conversation_is_checked_once_then_remembered(member, sara, business, conversation, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": conversation.pk}))
    await _frame(marco_ws)
    with mock.patch("inbox.consumers._conversation_in_business", side_effect=AssertionError("looked up")):
        await sara_ws.send_to(text_data=json.dumps({"presence": "typing", "conversation": conversation.pk}))
        assert (await _frame(marco_ws))["entries"][0]["state"] == "typing"
    await marco_ws.disconnect()
    await sara_ws.disconnect()


async def test_more_than_five_frames_a_second_are_dropped(member, sara, business, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await asyncio.sleep(1.05)  # the frame of _pair out of the window
    for _ in range(12):
        await sara_ws.send_to(text_data=json.dumps({"presence": "idle"}))
    received = 0
    while not await marco_ws.receive_nothing(timeout=0.3):
        await marco_ws.receive_from()
        received += 1
    assert received == presence.FRAMES_PER_SECOND
    await marco_ws.disconnect()
    await sara_ws.disconnect()


async def test_disconnect_clears_presence_for_everyone(member, sara, business, conversation, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": conversation.pk}))
    socket_id = (await _frame(marco_ws))["entries"][0]["socket"]
    await sara_ws.disconnect()
    gone = await _frame(marco_ws)
    assert gone == {"type": "presence.gone", "socket": socket_id, "user": sara.pk}
    entries = await presence.presence_entries(business_id=business.pk)
    assert [e["user"] for e in entries] == [member.pk]
    await marco_ws.disconnect()
    assert await presence.presence_entries(business_id=business.pk) == []


async def test_presence_ends_with_access(member, sara, business, conversation, clean_layer):
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=json.dumps({"presence": "viewing", "conversation": conversation.pk}))
    socket_id = (await _frame(marco_ws))["entries"][0]["socket"]

    await sync_to_async(Membership.objects.filter(user=sara, business=business).delete)()
    ended = await _frame(sara_ws)
    assert ended["type"] == "access.ended", ended
    assert await _frame(marco_ws) == {"type": "presence.gone", "socket": socket_id, "user": sara.pk}
    assert [e["user"] for e in await presence.presence_entries(business_id=business.pk)] == [member.pk]

    # A frame still in flight from the removed member is not broadcast.
    await sara_ws.send_to(text_data=json.dumps({"presence": "typing", "conversation": conversation.pk}))
    assert await marco_ws.receive_nothing(timeout=0.3)
    await sara_ws.disconnect()
    await marco_ws.disconnect()


async def test_a_stale_entry_of_a_removed_member_is_not_in_the_snapshot(member, sara, business, clean_layer):
    # Sara's socket died without a goodbye (a crashed worker): her entry is still in the cache.
    ghost = presence.entry_new(socket="ghost", user=sara)
    await presence.presence_enter(business_id=business.pk, entry=ghost)
    await sync_to_async(Membership.objects.filter(user=sara, business=business).delete)()
    marco_ws = await _socket(member, business)
    await marco_ws.send_to(text_data=IDLE)
    assert await marco_ws.receive_nothing(timeout=0.3)  # no snapshot: nobody (current) is here
    await marco_ws.disconnect()


async def test_expired_entries_leave_the_index(member, business, clean_layer):
    entry = presence.entry_new(socket="s1", user=member)
    await presence.presence_enter(business_id=business.pk, entry=entry)
    await sync_to_async(cache.delete)(f"inbox:presence:{business.pk}:s1")  # what expiry does
    assert await presence.presence_entries(business_id=business.pk) == []
    assert await sync_to_async(cache.get)(f"inbox:presence:{business.pk}") == []


def test_typing_runs_out_into_viewing():
    entry = {
        "socket": "s",
        "user": 1,
        "name": "Sara",
        "initials": "S",
        "colour": 1,
        "state": "typing",
        "conversation": 5,
        "typing_until": 100.0,
    }
    assert presence.entry_public(entry, now=99.0)["state"] == "typing"
    assert presence.entry_public(entry, now=101.0)["state"] == "viewing"


def test_frame_rate_window():
    rate = presence.FrameRate(per_second=2)
    assert [rate.allow(0.0), rate.allow(0.1), rate.allow(0.2), rate.allow(1.05)] == [True, True, False, True]


async def test_an_acknowledgement_records_screen_latency_and_is_never_broadcast(
    member, sara, business, conversation, clean_layer
):
    from datetime import timedelta

    from django.utils import timezone

    from inbox import latency
    from inbox.tests.factories import ChatMessageFactory

    message = await sync_to_async(ChatMessageFactory)(
        conversation=conversation, received_at=timezone.now() - timedelta(seconds=0.5)
    )
    marco_ws, sara_ws = await _pair(member, sara, business)
    await sara_ws.send_to(text_data=json.dumps({"ack": [message.pk]}))
    assert await marco_ws.receive_nothing(timeout=0.3)  # an acknowledgement is nobody else's business
    summary = await sync_to_async(latency.latency_summary)(account_pk=conversation.account_id)
    assert summary[2].kind == latency.WEBHOOK_TO_SCREEN and summary[2].samples == 1
    assert 400 <= summary[2].p50_ms < 30_000
    await marco_ws.disconnect()
    await sara_ws.disconnect()
