"""Contacts and conversations: race-free creation and the sender's profile from the Graph API."""

from __future__ import annotations

import re
import threading
from unittest import mock

import pytest
import responses
from django.db import connection

from inbox.ingest.drain import webhook_event_process
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent
from inbox.tests.factories import ContactFactory, ConversationFactory
from inbox.tests.helpers import IG_ACCOUNT_ID, IGSID, OTHER_PSID, PAGE_ID, PSID, FakeGraph, load_fixture, post_webhook
from sandbox import payloads as p
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

PICTURE = "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=7012345678901234&ext=1&hash=AbCd"


@pytest.fixture
def graph_http(settings):
    """The real Graph client over mocked HTTP."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def profile_url(settings, user_id: str) -> re.Pattern:
    return re.compile(re.escape(f"{settings.FACEBOOK_GRAPH_URL}/{user_id}") + r"\?.*")


# --- profile lookup -------------------------------------------------------------------------------


def test_profile_lookup_names_the_contact_everywhere(client, page, settings, graph_http):
    graph_http.get(profile_url(settings, PSID), json={"first_name": "Giulia", "last_name": "Bianchi",
                                                      "profile_pic": PICTURE, "id": PSID})
    graph_http.get(PICTURE, body=b"\xff\xd8 jpeg", content_type="image/jpeg")
    post_webhook(client, load_fixture("message_text"))

    contact = Contact.objects.get()
    assert contact.name == "Giulia Bianchi"
    assert contact.picture_url == PICTURE
    assert contact.profile_state == Contact.ProfileState.FETCHED
    assert contact.profile_fetched_at is not None
    assert contact.picture.name.startswith("contacts/")
    with contact.picture.open("rb") as handle:
        assert handle.read() == b"\xff\xd8 jpeg"
    conversation = Conversation.objects.get()
    # The page's side stays beside the customer's name.
    assert conversation.participant_names == ["Giulia Bianchi", conversation.account.account_name]
    assert ChatMessage.objects.get().sender_name == "Giulia Bianchi"
    request = graph_http.calls[0].request
    assert "fields=first_name%2Clast_name%2Cprofile_pic" in request.url
    # The page token travels in a header with its proof, never in the URL.
    assert "access_token" not in request.url and "appsecret_proof=" in request.url
    assert request.headers["Authorization"] == f"Bearer {page.access_token}"


def test_instagram_profile_uses_name_or_username(client, page, settings, graph_http):
    ig = SocialAccountFactory(business=page.business, platform=Platform.INSTAGRAM, account_id=IG_ACCOUNT_ID, page=page)
    graph_http.get(profile_url(settings, IGSID), json={"name": None, "username": "giulia.b", "id": IGSID})
    post_webhook(client, load_fixture("instagram_text"))
    contact = Contact.objects.get()
    assert contact.account == ig
    assert contact.username == "giulia.b"
    assert contact.display_name == "@giulia.b"
    assert "fields=name%2Cusername%2Cprofile_pic" in graph_http.calls[0].request.url
    # Instagram calls use the parent page's token.
    assert graph_http.calls[0].request.headers["Authorization"] == f"Bearer {page.access_token}"


def test_a_refused_profile_is_recorded_and_the_message_is_untouched(client, page, settings, graph_http):
    graph_http.get(profile_url(settings, PSID), status=400, json={
        "error": {"message": "User consent is required", "type": "OAuthException", "code": 200,
                  "error_subcode": 2018218, "fbtrace_id": "AbC"}})
    post_webhook(client, load_fixture("message_text"))
    contact = Contact.objects.get()
    assert contact.profile_state == Contact.ProfileState.FAILED
    assert contact.name == ""
    assert contact.display_name == PSID
    assert len(graph_http.calls) == 1  # not retried: it will not get better
    message = ChatMessage.objects.get()
    assert message.sender_name == PSID
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


def test_a_flaky_graph_is_retried_then_recorded(client, page, settings, graph_http):
    from inbox.tasks import contact_profile_fetch

    graph_http.get(profile_url(settings, PSID), status=500, json={"error": {"message": "Oops", "code": 2}})
    post_webhook(client, load_fixture("message_text"))
    contact = Contact.objects.get()
    assert contact.profile_state == Contact.ProfileState.FAILED
    # One call per task attempt: the task retries, the client never repeats a call.
    assert len(graph_http.calls) == contact_profile_fetch.max_retries + 1
    assert ChatMessage.objects.count() == 1


def test_a_failed_profile_is_asked_again_on_a_later_message_after_a_while(client, page):
    from datetime import timedelta

    from django.utils import timezone

    with FakeGraph() as graph:
        from social.graph import TransientGraphError

        graph.profile = TransientGraphError("down")
        post_webhook(client, load_fixture("message_text"))
        assert Contact.objects.get().profile_state == Contact.ProfileState.FAILED
        calls = len(graph.profile_calls)

        graph.profile = {"first_name": "Giulia"}
        post_webhook(client, p.encode(p.envelope(object_type="page", entries=[p.entry(
            account_id=PAGE_ID, events=[p.text_message(page_id=PAGE_ID, psid=PSID, text="soon after")])])))
        assert len(graph.profile_calls) == calls  # too soon to ask again

        Contact.objects.update(profile_fetched_at=timezone.now() - timedelta(days=2))
        post_webhook(client, p.encode(p.envelope(object_type="page", entries=[p.entry(
            account_id=PAGE_ID, events=[p.text_message(page_id=PAGE_ID, psid=PSID, text="next day")])])))
    assert Contact.objects.get().name == "Giulia"


# --- race-free creation ---------------------------------------------------------------------------


def test_get_or_create_reads_the_rows_another_worker_just_inserted(page):
    from django.utils import timezone

    from inbox.ingest import conversations

    existing = ConversationFactory(account=page, contact=ContactFactory(account=page, external_id=PSID))
    real_find = conversations.conversations_find
    reads = []

    def find(**kwargs):
        reads.append(kwargs["external_ids"])
        # Our read ran just before the other worker committed its rows.
        return {} if len(reads) == 1 else real_find(**kwargs)

    with mock.patch.object(conversations, "conversations_find", side_effect=find), \
            mock.patch("inbox.services.contacts.enqueue_on_commit") as enqueue:
        found = conversations.conversations_get_or_create(account=page, first_seen={PSID: timezone.now()})
    assert found == {PSID: existing}
    assert (Contact.objects.count(), Conversation.objects.count()) == (1, 1)
    enqueue.assert_not_called()  # not created here: its profile lookup was queued by whoever created it
    # The conflicts cost no savepoint and no error: the transaction is still usable.
    assert Conversation.objects.get().pk == existing.pk


def test_a_contact_without_its_conversation_gets_one(page):
    from django.utils import timezone

    from inbox.ingest.conversations import conversations_get_or_create

    contact = ContactFactory(account=page, external_id=PSID)  # another worker is between its two inserts
    first = timezone.now()
    found = conversations_get_or_create(account=page, first_seen={PSID: first}, lookup_only={OTHER_PSID})
    assert found[PSID].contact == contact
    assert found[PSID].last_message_at == first
    assert OTHER_PSID not in found
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1


def _event_for(text: str, mid: str) -> WebhookEvent:
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(
        account_id=PAGE_ID, events=[p.text_message(page_id=PAGE_ID, psid=PSID, text=text, mid=mid)])]))
    return WebhookEvent.objects.create(body=body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_two_first_messages_at_once_make_one_conversation():
    from accounts.tests.factories import BusinessFactory

    page = SocialAccountFactory(business=BusinessFactory(), account_id=PAGE_ID)
    events = [_event_for("first", "m_race_1"), _event_for("second", "m_race_2")]
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    from inbox.ingest import conversations

    real_find = conversations.conversations_find

    looked = threading.local()

    def find_then_wait(**kwargs):
        found = real_find(**kwargs)
        if not getattr(looked, "once", False):
            # Both workers have looked and found nothing before either inserts.
            looked.once = True
            barrier.wait()
        return found

    def worker(event_id: int) -> None:
        try:
            webhook_event_process(event_id=event_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with FakeGraph(), mock.patch.object(conversations, "conversations_find", side_effect=find_then_wait):
        threads = [threading.Thread(target=worker, args=(event.pk,)) for event in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert Contact.objects.filter(account=page).count() == 1
    conversation = Conversation.objects.get(account=page)
    assert conversation.unread_count == 2
    assert ChatMessage.objects.filter(conversation=conversation).count() == 2
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_the_same_event_processed_by_two_workers_at_once_stores_once():
    from accounts.tests.factories import BusinessFactory

    page = SocialAccountFactory(business=BusinessFactory(), account_id=PAGE_ID)
    event = _event_for("hello", "m_twice")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            webhook_event_process(event_id=event.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with FakeGraph():
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert ChatMessage.objects.filter(account=page).count() == 1
    assert Conversation.objects.get(account=page).unread_count == 1
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.attempts == 1


def test_a_profile_picture_on_our_network_stays_unfetched(client, page, settings, graph_http, caplog):
    inside = "http://169.254.169.254/latest/meta-data/"
    graph_http.get(profile_url(settings, PSID), json={"first_name": "Giulia", "profile_pic": inside, "id": PSID})
    with caplog.at_level("INFO", logger="inbox.services.contacts"):
        post_webhook(client, load_fixture("message_text"))
    contact = Contact.objects.get()
    assert (contact.name, contact.profile_state) == ("Giulia", Contact.ProfileState.FETCHED)
    assert not contact.picture
    assert len(graph_http.calls) == 1  # the profile only: the picture was never requested
    (record,) = [r for r in caplog.records if "Profile picture" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert "not stored: http://169.254.169.254 is not an allowed media origin" in record.getMessage()
