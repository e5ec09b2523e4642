"""Access ends live on an open inbox socket: removal, sign-out, password change, business switch.

Every path ends in the same way: the socket gets one JSON control frame, is closed with an
application code, and a later push of the business no longer reaches it.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory, UserFactory
from config.asgi import application
from inbox import access
from inbox.realtime import business_group
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import logged_in_client

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
PASSWORD = "correct horse battery staple"  # the factories' password


@pytest.fixture
def agent(business):
    """A second member of the business (the owner is the `member` fixture)."""
    return MembershipFactory(business=business, user__email="agent@bakery.example", role="agent").user


def _same_session(client: Client) -> Client:
    """Another tab of the same browser: a second client carrying the same session cookie."""
    tab = Client()
    tab.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return tab


async def _socket(client: Client) -> WebsocketCommunicator:
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _push(layer, business_id: int, html: str = "<p id='x'>secret</p>") -> None:
    await layer.group_send(business_group(business_id), {"type": "inbox.html", "html": html})


async def _assert_ended(communicator: WebsocketCommunicator, layer, business_id: int, *, reason: str, code: int) -> dict:
    """The control frame, then the close, within a second; a later push does not reach the socket."""
    frame = json.loads(await communicator.receive_from(timeout=1))
    assert frame["type"] == "access.ended" and frame["reason"] == reason and frame["code"] == code
    closed = await communicator.receive_output(timeout=1)
    assert closed == {"type": "websocket.close", "code": code}
    await _push(layer, business_id)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    return frame


async def _assert_still_live(communicator: WebsocketCommunicator, layer, business_id: int) -> None:
    await _push(layer, business_id, "<p id='y'>still here</p>")
    assert await communicator.receive_from(timeout=1) == "<p id='y'>still here</p>"
    await communicator.disconnect()


# --- removal ---------------------------------------------------------------------------------------


async def test_removed_on_the_team_page(member, agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    owner = await sync_to_async(logged_in_client)(member, business.pk)
    membership = await Membership.objects.aget(user=agent, business=business)
    response = await sync_to_async(owner.post)(
        reverse("accounts:member_remove", args=[membership.pk]), {"confirm": "yes"}
    )
    assert response.status_code == 302
    assert not await Membership.objects.filter(pk=membership.pk).aexists()

    frame = await _assert_ended(socket, clean_layer, business.pk, reason="removed", code=4403)
    assert frame["message"] == "You no longer have access to Bakery Rossi."


async def test_removed_in_the_django_admin(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    operator = await sync_to_async(UserFactory)(email="ops@example.com", is_staff=True, is_superuser=True)
    admin = await sync_to_async(logged_in_client)(operator)
    membership = await Membership.objects.aget(user=agent, business=business)
    response = await sync_to_async(admin.post)(
        reverse("admin:accounts_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    await _assert_ended(socket, clean_layer, business.pk, reason="removed", code=4403)


async def test_removed_by_a_queryset_delete(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    await sync_to_async(Membership.objects.filter(user=agent, business=business).delete)()
    await _assert_ended(socket, clean_layer, business.pk, reason="removed", code=4403)


async def test_removed_when_the_business_is_deleted(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    business_id = business.pk
    await sync_to_async(business.delete)()  # memberships go by cascade
    await _assert_ended(socket, clean_layer, business_id, reason="removed", code=4403)


async def test_removal_from_another_business_leaves_this_socket_open(agent, business, other_business, clean_layer):
    await sync_to_async(MembershipFactory)(business=other_business, user=agent)
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    await sync_to_async(Membership.objects.filter(user=agent, business=other_business).delete)()
    await _assert_still_live(socket, clean_layer, business.pk)


# --- sign-out --------------------------------------------------------------------------------------


async def test_logged_out_in_another_tab(agent, business, clean_layer):
    browser = await sync_to_async(logged_in_client)(agent, business.pk)
    socket = await _socket(browser)
    response = await sync_to_async(_same_session(browser).post)(reverse("account_logout"))
    assert response.status_code == 302
    frame = await _assert_ended(socket, clean_layer, business.pk, reason="signed_out", code=4401)
    assert frame["message"] == "You were signed out."


async def test_logging_out_another_browser_leaves_this_socket_open(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    other_browser = await sync_to_async(logged_in_client)(agent, business.pk)
    await sync_to_async(other_browser.post)(reverse("account_logout"))
    await _assert_still_live(socket, clean_layer, business.pk)


async def test_deactivated_user(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    agent.is_active = False
    await sync_to_async(agent.save)()
    await _assert_ended(socket, clean_layer, business.pk, reason="signed_out", code=4401)


# --- password change -------------------------------------------------------------------------------


async def test_password_changed_by_set_password_and_save(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    user = await type(agent).objects.aget(pk=agent.pk)
    user.set_password("a whole new password 42")
    await sync_to_async(user.save)()
    frame = await _assert_ended(socket, clean_layer, business.pk, reason="password_changed", code=4401)
    assert "password was changed" in frame["message"]


async def test_password_changed_on_the_password_page_of_another_browser(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    other_browser = await sync_to_async(logged_in_client)(agent, business.pk)
    response = await sync_to_async(other_browser.post)(reverse("account_change_password"), {
        "oldpassword": PASSWORD, "password1": "a whole new password 42", "password2": "a whole new password 42",
    })
    assert response.status_code == 302
    await _assert_ended(socket, clean_layer, business.pk, reason="password_changed", code=4401)


async def test_password_page_in_another_tab_of_the_same_browser_also_ends_the_socket(agent, business, clean_layer):
    """Django keeps that browser signed in under a new session key; the socket, opened with the old
    one, cannot tell this from another browser and ends too (its page's reload just works)."""
    browser = await sync_to_async(logged_in_client)(agent, business.pk)
    socket = await _socket(browser)
    tab = _same_session(browser)
    response = await sync_to_async(tab.post)(reverse("account_change_password"), {
        "oldpassword": PASSWORD, "password1": "a whole new password 42", "password2": "a whole new password 42",
    })
    assert response.status_code == 302
    frame = json.loads(await socket.receive_from(timeout=1))
    assert frame["code"] == 4401
    assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}
    await socket.disconnect()
    inbox = await sync_to_async(tab.get)(reverse("inbox:conversation_list"))
    assert inbox.status_code == 200  # still signed in there


async def test_saving_the_user_without_a_new_password_leaves_the_socket_open(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    user = await type(agent).objects.aget(pk=agent.pk)
    user.name = "Agent Smith"
    with mock.patch("inbox.access.recheck_user_on_commit") as recheck:
        await sync_to_async(user.save)()
        await sync_to_async(user.save)(update_fields=["last_login"])  # what every sign-in saves
    recheck.assert_not_called()
    await _assert_still_live(socket, clean_layer, business.pk)


# --- business switch -------------------------------------------------------------------------------


async def test_switched_business_in_another_tab(agent, business, other_business, clean_layer):
    await sync_to_async(MembershipFactory)(business=other_business, user=agent)
    browser = await sync_to_async(logged_in_client)(agent, business.pk)
    socket = await _socket(browser)
    response = await sync_to_async(_same_session(browser).post)(
        reverse("accounts:business_switch", args=[other_business.pk])
    )
    assert response.status_code == 302
    frame = await _assert_ended(socket, clean_layer, business.pk, reason="switched", code=4409)
    assert "another business" in frame["message"]


async def test_switching_to_the_same_business_or_in_another_browser_leaves_the_socket_open(
    agent, business, other_business, clean_layer
):
    await sync_to_async(MembershipFactory)(business=other_business, user=agent)
    browser = await sync_to_async(logged_in_client)(agent, business.pk)
    socket = await _socket(browser)
    await sync_to_async(_same_session(browser).post)(reverse("accounts:business_switch", args=[business.pk]))
    other_browser = await sync_to_async(logged_in_client)(agent, business.pk)
    await sync_to_async(other_browser.post)(reverse("accounts:business_switch", args=[other_business.pk]))
    await _assert_still_live(socket, clean_layer, business.pk)


# --- a lost event: the recheck before a push -------------------------------------------------------


def _delete_without_signals(membership_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Membership._meta.db_table} WHERE id = %s", [membership_id])


async def test_a_lost_revocation_leaks_no_push_after_the_recheck_interval(
    agent, business, page, clean_layer, monkeypatch
):
    conversation = await sync_to_async(ConversationFactory)(contact=await sync_to_async(ContactFactory)(account=page))
    message = await sync_to_async(ChatMessageFactory)(conversation=conversation, content="private order")
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    membership = await Membership.objects.aget(user=agent, business=business)
    await sync_to_async(_delete_without_signals)(membership.pk)
    monkeypatch.setattr(access, "RECHECK_SECONDS", 0)  # as if the last check were a second old

    from inbox.realtime import publish

    await sync_to_async(publish)(business_id=business.pk, conversation_ids=[conversation.pk], message_ids=[message.pk])
    frame = json.loads(await socket.receive_from(timeout=1))
    assert frame["reason"] == "removed"
    assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4403}
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_the_recheck_also_notices_a_session_switched_or_ended_without_an_event(
    agent, business, other_business, clean_layer, monkeypatch
):
    await sync_to_async(MembershipFactory)(business=other_business, user=agent)
    switched = await sync_to_async(logged_in_client)(agent, business.pk)
    ended = await sync_to_async(logged_in_client)(agent, business.pk)
    switched_socket, ended_socket = await _socket(switched), await _socket(ended)
    with mock.patch("inbox.access._send"):  # every event is lost
        await sync_to_async(_same_session(switched).post)(
            reverse("accounts:business_switch", args=[other_business.pk])
        )
        await sync_to_async(_same_session(ended).post)(reverse("account_logout"))
    monkeypatch.setattr(access, "RECHECK_SECONDS", 0)
    await _push(clean_layer, business.pk)
    assert json.loads(await switched_socket.receive_from(timeout=1))["reason"] == "switched"
    assert json.loads(await ended_socket.receive_from(timeout=1))["reason"] == "session_ended"
    for socket in (switched_socket, ended_socket):
        assert (await socket.receive_output(timeout=1))["type"] == "websocket.close"
        await socket.disconnect()


async def test_pushes_within_the_interval_cost_no_query_and_later_ones_one_check(agent, business, clean_layer):
    socket = await _socket(await sync_to_async(logged_in_client)(agent, business.pk))
    checks = mock.AsyncMock(return_value=None)
    with mock.patch("inbox.consumers._access_problem", checks):
        for i in range(3):
            await _push(clean_layer, business.pk, f"<i>{i}</i>")
            assert await socket.receive_from(timeout=1) == f"<i>{i}</i>"
        checks.assert_not_called()
        with mock.patch.object(access, "RECHECK_SECONDS", 0):
            await _push(clean_layer, business.pk, "<i>3</i>")
            assert await socket.receive_from(timeout=1) == "<i>3</i>"
        assert checks.await_count == 1
    await socket.disconnect()
