"""Notifications: created for others only, pushed to the recipient's own screens, read per member."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from config.asgi import application
from inbox.models import Notification
from inbox.realtime import member_group, publish_to_user
from inbox.services.notifications import notification_create, notifications_mark_read
from inbox.tests.factories import ContactFactory, ConversationFactory
from inbox.tests.helpers import logged_in_client, run_on_commit

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, user__email="agent@bakery.example", user__name="Ada Agent", role="agent"
    ).user


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page, name="Marco Bianchi"))


def _notify(business, recipient, actor, conversation, text="Ada was assigned"):
    return notification_create(
        business=business, recipient=recipient, kind="assigned", conversation=conversation, actor=actor, text=text
    )


# --- the service -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_notification_is_stored_and_pushed_to_the_recipient_after_commit(business, member, agent, conversation):
    with mock.patch("inbox.realtime.publish_to_user") as push:
        notification = run_on_commit(_notify, business, agent, member, conversation)
    assert notification.recipient == agent and notification.actor == member
    assert notification.kind == "assigned" and notification.read_at is None
    assert notification.conversation == conversation and notification.business == business
    push.assert_called_once_with(business_id=business.pk, user_id=agent.pk)


@pytest.mark.django_db
def test_nobody_is_notified_of_their_own_action(business, member, conversation):
    with mock.patch("inbox.realtime.publish_to_user") as push:
        assert run_on_commit(_notify, business, member, member, conversation) is None
    assert not Notification.objects.exists()
    push.assert_not_called()


@pytest.mark.django_db
def test_a_non_member_is_not_notified(business, member, other_member, conversation):
    assert _notify(business, other_member, member, conversation) is None
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_system_action_notifies(business, agent, conversation):
    assert _notify(business, agent, None, conversation).actor is None


@pytest.mark.django_db
def test_an_unknown_kind_or_another_business_s_conversation_is_refused(
    business, other_business, member, agent, other_page
):
    with pytest.raises(ValueError):
        notification_create(business=business, recipient=agent, kind="bogus", conversation=None, actor=member, text="")
    foreign = ConversationFactory(contact=ContactFactory(account=other_page))
    with pytest.raises(ValueError):
        _notify(business, agent, member, foreign)


@pytest.mark.django_db
def test_mark_read_marks_only_the_member_s_own(business, member, agent, conversation):
    third = MembershipFactory(business=business, role="agent").user
    mine = _notify(business, agent, member, conversation)
    theirs = _notify(business, third, member, conversation)
    with mock.patch("inbox.realtime.publish_to_user") as push:
        assert run_on_commit(notifications_mark_read, business=business, user=agent) == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None
    push.assert_called_once_with(business_id=business.pk, user_id=agent.pk)
    assert notifications_mark_read(business=business, user=agent) == 0


@pytest.mark.django_db
def test_mark_read_by_ids(business, member, agent, conversation):
    first = _notify(business, agent, member, conversation)
    second = _notify(business, agent, member, conversation)
    assert notifications_mark_read(business=business, user=agent, ids=[first.pk]) == 1
    assert Notification.objects.filter(read_at__isnull=True).get() == second


# --- the pages ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_bell_shows_the_unread_count(business, member, agent, conversation):
    _notify(business, agent, member, conversation)
    _notify(business, agent, member, conversation)
    html = logged_in_client(agent, business.pk).get(reverse("inbox:notification_bell")).content.decode()
    assert 'id="notification-bell"' in html and "2 unread" in html
    html = logged_in_client(member, business.pk).get(reverse("inbox:notification_bell")).content.decode()
    assert "unread" not in html


@pytest.mark.django_db
def test_every_page_loads_the_bell(business, member):
    html = logged_in_client(member, business.pk).get(reverse("accounts:team")).content.decode()
    assert reverse("inbox:notification_bell") in html and 'hx-trigger="load"' in html


@pytest.mark.django_db
def test_the_list_shows_my_notifications_and_reads_them(business, member, agent, conversation):
    _notify(business, agent, member, conversation, text="Conversation with Marco assigned to you")
    _notify(business, member, agent, conversation, text="Not for Ada")
    client = logged_in_client(agent, business.pk)
    html = client.get(reverse("inbox:notification_list")).content.decode()
    assert "Conversation with Marco assigned to you" in html and "Not for Ada" not in html
    assert "is-new" in html
    assert reverse("inbox:conversation_detail", args=[conversation.public_id]) in html
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=member, read_at__isnull=True).exists()
    assert "is-new" not in client.get(reverse("inbox:notification_list")).content.decode()


@pytest.mark.django_db
def test_the_list_of_one_business_shows_nothing_of_another(business, other_business, member, agent, conversation):
    _notify(business, agent, member, conversation, text="Bakery secret")
    MembershipFactory(business=other_business, user=agent)
    html = logged_in_client(agent, other_business.pk).get(reverse("inbox:notification_list")).content.decode()
    assert "Bakery secret" not in html


@pytest.mark.django_db
def test_mark_all_read_button(business, member, agent, conversation):
    _notify(business, agent, member, conversation)
    response = logged_in_client(agent, business.pk).post(reverse("inbox:notifications_read"))
    assert response.status_code == 200
    assert not Notification.objects.filter(read_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_pages_need_a_login(client):
    for name in ("inbox:notification_bell", "inbox:notification_list", "inbox:mention_list", "inbox:mention_members"):
        assert client.get(reverse(name)).status_code == 302


# --- live: the member's own group ---------------------------------------------------------------------------


async def _socket(client) -> WebsocketCommunicator:
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_a_notification_reaches_the_recipient_s_socket_only(business, member, agent, conversation, clean_layer):
    agent_socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    owner_socket = await _socket(await sync_to_async(logged_in_client)(member, business.pk))

    await sync_to_async(_notify)(business, agent, member, conversation)  # autocommit: pushed at once

    html = await agent_socket.receive_from(timeout=2)
    assert 'id="notification-bell"' in html and "1 unread" in html
    assert await owner_socket.receive_nothing(timeout=0.3)
    await agent_socket.disconnect()
    await owner_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_member_group_is_per_business(business, other_business, agent, clean_layer):
    await sync_to_async(MembershipFactory)(business=other_business, user=agent)
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    await sync_to_async(publish_to_user)(business_id=other_business.pk, user_id=agent.pk, html="<p id='x'>other</p>")
    assert await socket.receive_nothing(timeout=0.3)
    await sync_to_async(publish_to_user)(business_id=business.pk, user_id=agent.pk, html="<p id='x'>mine</p>")
    assert await socket.receive_from(timeout=1) == "<p id='x'>mine</p>"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_removed_member_s_socket_is_closed_and_gets_no_more_notifications(
    business, member, agent, conversation, clean_layer
):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    await sync_to_async(Membership.objects.filter(user=agent, business=business).delete)()
    frame = json.loads(await socket.receive_from(timeout=1))
    assert frame["type"] == "access.ended" and frame["reason"] == "removed"
    assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4403}
    # Nothing sent to their group afterwards reaches the closed socket.
    await clean_layer.group_send(member_group(business.pk, agent.pk), {"type": "inbox.html", "html": "<p>late</p>"})
    assert await socket.receive_nothing(timeout=0.3)
    assert await sync_to_async(_notify)(business, agent, member, conversation) is None
    await socket.disconnect()
