"""Events of the inbox and of social become deliveries, for subscribed endpoints only, and cost the
ingest nothing when the business has no endpoint."""

from __future__ import annotations

import json

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Conversation
from inbox.services.assignment import conversation_assign
from inbox.services.conversations import conversation_resolve
from inbox.services.replies import reply_fail
from inbox.tests.factories import ChatMessageFactory, ConversationFactory
from inbox.tests.helpers import FakeGraph, load_fixture, post_webhook, run_on_commit
from outbound.models import WebhookDelivery
from outbound.tests.factories import WebhookEndpointFactory
from sandbox.testing import sandbox_http_fixture  # noqa: F401 - fixture
from social.models import Platform
from social.services import account_mark_needs_reconnect
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

URL = "https://crm.example.com/hook"
OTHER_URL = "https://bot.example.com/hook"


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def receiver():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.POST, URL, status=200)
        mocked.add(responses.POST, OTHER_URL, status=200)
        yield mocked


def _events(business, event):
    return list(WebhookDelivery.objects.for_business(business).filter(event=event))


def test_a_message_stored_by_ingest_is_delivered_to_a_subscribed_endpoint_only(client, page, business, receiver):
    subscribed = WebhookEndpointFactory(business=business, url=URL, events=["message.created"])
    WebhookEndpointFactory(business=business, url=OTHER_URL, events=["conversation.resolved"])

    post_webhook(client, load_fixture("message_text"))

    message = ChatMessage.objects.get()
    (delivery,) = WebhookDelivery.objects.for_business(business)
    assert delivery.endpoint == subscribed and delivery.event == "message.created"
    assert delivery.payload["data"]["id"] == str(message.public_id)
    assert delivery.payload["data"]["content"] == message.content
    assert delivery.payload["business"] == business.slug
    assert delivery.state == WebhookDelivery.State.SUCCEEDED  # its task ran after commit
    assert [call.request.url for call in receiver.calls] == [URL]
    sent = json.loads(receiver.calls[0].request.body)
    assert sent["type"] == "message.created" and sent["id"] == str(delivery.event_id)


def test_a_new_conversation_is_an_event_too(client, page, business, receiver):
    WebhookEndpointFactory(business=business, url=URL, events=["conversation.created", "message.created"])

    post_webhook(client, load_fixture("message_text"))
    post_webhook(client, load_fixture("message_text"))  # Meta redelivers: nothing new, no event

    conversation = Conversation.objects.get()
    (created,) = _events(business, "conversation.created")
    assert created.payload["data"]["id"] == str(conversation.public_id)
    assert len(_events(business, "message.created")) == 1


def test_without_an_endpoint_the_ingest_stores_no_delivery_and_asks_nothing_of_outbound(client, page, business):
    post_webhook(client, load_fixture("message_text"))  # the first asks once, then the answer is cached
    second = load_fixture("message_text").replace(b"m_Zm9v", b"m_Xm9v")

    with CaptureQueriesContext(connection) as queries:
        post_webhook(client, second)

    assert ChatMessage.objects.count() == 2
    assert not WebhookDelivery.objects.exists()
    assert queries.captured_queries  # the control: the ingest did run here
    assert not [q["sql"] for q in queries.captured_queries if "outbound_" in q["sql"]]


def test_without_an_endpoint_the_ingest_opens_no_savepoint_for_outbound(client, page, business, member, receiver):
    """Each savepoint is two round trips on the drain's way to the screen: only an endpoint costs them."""
    from outbound import receivers
    from outbound.endpoints import endpoint_create

    def savepoints_posting(mid: bytes) -> int:
        with CaptureQueriesContext(connection) as queries:
            post_webhook(client, load_fixture("message_text").replace(b"m_Zm9v", mid))
        return sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries)

    post_webhook(client, load_fixture("message_text"))  # "no endpoint" is now cached
    for event, signal in receivers.SIGNALS.items():  # the baseline: outbound not listening at all
        signal.disconnect(dispatch_uid=f"outbound.{event}")
    try:
        baseline = savepoints_posting(b"m_Wm9v")
    finally:
        receivers.connect()
    without = savepoints_posting(b"m_Xm9v")
    run_on_commit(endpoint_create, business=business, user=member, url=URL, events=["message.created"])
    with_endpoint = savepoints_posting(b"m_Ym9v")

    assert without == baseline
    assert with_endpoint > without
    assert len(_events(business, "message.created")) == 1


def test_an_endpoint_added_later_gets_the_next_events_at_once(client, page, business, member, receiver):
    from outbound.endpoints import endpoint_create

    post_webhook(client, load_fixture("message_text"))  # "no endpoint" is now cached
    run_on_commit(endpoint_create, business=business, user=member, url=URL, events=["message.created"])

    post_webhook(client, load_fixture("message_text").replace(b"m_Zm9v", b"m_Xm9v"))

    assert len(_events(business, "message.created")) == 1


def test_staff_actions_are_events(page, business, member, receiver):
    WebhookEndpointFactory(business=business, url=URL, events=[
        "conversation.resolved", "conversation.assigned", "message.status_changed", "message.created",
    ])
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example").user
    conversation = ConversationFactory(contact__account=page, contact__business=business)
    queued = ChatMessageFactory(conversation=conversation, direction=ChatMessage.Direction.OUTBOUND,
                                status=ChatMessage.Status.QUEUED, message_id=None)

    run_on_commit(conversation_resolve, conversation=conversation, user=member)
    run_on_commit(conversation_assign, conversation=conversation, actor=member, assignee=agent)
    run_on_commit(reply_fail, message_id=queued.pk, error="(#551) This person isn't available right now.")

    (resolved,) = _events(business, "conversation.resolved")
    assert resolved.payload["data"]["status"] == "resolved"
    (assigned,) = _events(business, "conversation.assigned")
    assert assigned.payload["data"]["assignee"]["email"] == "agent@bakery.example"
    (failed,) = _events(business, "message.status_changed")
    assert failed.payload["data"]["status"] == "failed" and failed.payload["data"]["id"] == str(queued.public_id)
    assert not _events(business, "message.created")


def test_an_account_needing_reconnecting_is_an_event_without_its_token(page, business, receiver):
    WebhookEndpointFactory(business=business, url=URL, events=["account.needs_reconnect"])
    instagram = SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, page=page, access_token="")

    run_on_commit(account_mark_needs_reconnect, account=page, reason="Error validating access token")

    by_account = {d.payload["data"]["accountId"]: d.payload["data"] for d in _events(business, "account.needs_reconnect")}
    assert set(by_account) == {page.account_id, instagram.account_id}  # its Instagram account goes with it
    assert by_account[page.account_id]["status"] == "needs_reconnect"
    assert page.access_token not in json.dumps(by_account)


def test_events_of_another_business_do_not_reach_our_endpoints(client, page, other_page, business, other_business,
                                                               receiver):
    WebhookEndpointFactory(business=other_business, url=URL, events=["message.created"])

    post_webhook(client, load_fixture("message_text"))  # to our page

    assert not WebhookDelivery.objects.exists()
    assert not receiver.calls


def test_deliveries_are_written_with_the_change_and_rolled_back_with_it(business, member, page):
    """No window between the change's commit and its announcement: the delivery row is part of it."""
    from django.db import transaction

    WebhookEndpointFactory(business=business, url=URL, events=["conversation.resolved"])
    kept = ConversationFactory(contact__account=page)
    undone = ConversationFactory(contact__account=page)

    with transaction.atomic():
        conversation_resolve(conversation=kept, user=member)
        # Before the commit, in the same transaction: already there.
        assert len(_events(business, "conversation.resolved")) == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        conversation_resolve(conversation=undone, user=member)
        raise RuntimeError("the change fails after the event")

    (delivery,) = _events(business, "conversation.resolved")
    assert delivery.payload["data"]["id"] == str(kept.public_id)
    assert Conversation.objects.get(pk=undone.pk).status != Conversation.Status.RESOLVED


def test_a_history_import_is_not_news_but_what_reconciliation_recovers_is(
    business, member, django_capture_on_commit_callbacks, sandbox_http, settings
):
    """Importing a page's earlier conversations announces none of them; a message a reconciliation
    recovers is announced as its lost webhook would have been."""
    from inbox import tasks
    from inbox.models import HistoryImport
    from inbox.tests.test_history_import import BAKERY, connect
    from sandbox.history import history_seed, thread_message_add
    from sandbox.models import Customer

    settings.INBOX_HISTORY_IMPORT_ON_CONNECT = True
    WebhookEndpointFactory(business=business, url=URL, events=["message.created", "conversation.created"])
    history_seed(page_id=BAKERY, conversations=5, days=3)

    account = connect(business, member, django_capture_on_commit_callbacks)
    assert ChatMessage.objects.filter(account=account).count() == 10
    assert not WebhookDelivery.objects.for_business(business).exists()

    customer = Customer.objects.filter(page__page_id=BAKERY, psid__startswith="71").order_by("psid").first()
    lost = thread_message_add(customer=customer, text="Did you get my order?")
    with django_capture_on_commit_callbacks(execute=False):  # the deliveries' sends are not run
        tasks.history_reconcile_all.apply()
        reconcile = HistoryImport.objects.get(account=account, kind=HistoryImport.Kind.RECONCILE)
        tasks.history_import_page.apply((reconcile.pk,))

    (delivery,) = WebhookDelivery.objects.for_business(business)
    assert delivery.event == "message.created"
    assert delivery.payload["data"]["messageId"] == lost.mid
