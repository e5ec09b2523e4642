"""A page's earlier conversations, imported from the sandbox's Conversations API through the real
connect flow, Graph client and tasks; and the daily reconciliation of messages whose webhook was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from config.inprocess_tasks import InProcessTask
from inbox import realtime, tasks
from inbox.models import ChatMessage, Conversation, HistoryImport, Notification
from inbox.services.history_import import history_import_start
from inbox.tests.helpers import FakeGraph, post_webhook
from sandbox import payloads
from sandbox.history import history_seed, thread_message_add
from sandbox.models import Customer, Fault, GraphCall
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social import services as social_services
from social.models import SocialAccount
from social.oauth import UserToken

pytestmark = pytest.mark.django_db

BAKERY = "104857600123456"
CONVERSATIONS_PATH = f"/{BAKERY}/conversations"


@pytest.fixture(autouse=True)
def _graph(settings):
    settings.INBOX_HISTORY_IMPORT_ON_CONNECT = True
    with FakeGraph() as fake:  # profile lookups answered at once
        yield fake


@pytest.fixture
def pushes(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(realtime, "publish", lambda **kwargs: sent.append(kwargs))
    return sent


def connect(business, member, capture) -> SocialAccount:
    token = UserToken(token=user_token(), expires_at=timezone.now() + timedelta(days=60))
    with capture(execute=True):
        result = social_services.accounts_connect(business=business, actor=member, user_token=token,
                                                  page_ids=[BAKERY])
    return result.connected[0]


def step(capture, history: HistoryImport) -> str:
    """One task run (one page of conversations), its follow-ups captured but not run."""
    with capture(execute=False):
        state = tasks.history_import_page.apply((history.pk,)).state
    history.refresh_from_db()
    return state


@pytest.fixture
def seeded(sandbox_http):
    return history_seed(page_id=BAKERY, conversations=200, days=20)


def counts(account) -> tuple[int, int]:
    return (Conversation.objects.filter(account=account).count(), ChatMessage.objects.filter(account=account).count())


def test_connecting_a_page_imports_its_earlier_conversations_quietly(
    seeded, business, member, pushes, django_capture_on_commit_callbacks
):
    account = connect(business, member, django_capture_on_commit_callbacks)

    history = HistoryImport.objects.get(account=account)
    assert history.state == HistoryImport.State.DONE and history.percent == 100
    assert (history.conversations_done, history.messages_imported, history.pages_done) == (200, 400, 8)
    assert counts(account) == (200, 400)
    conversations = Conversation.objects.filter(account=account)
    assert sum(c.unread_count for c in conversations) == 0
    assert not ChatMessage.objects.filter(account=account, direction="inbound", is_read=False).exists()
    # Every question was answered by the page: replied, and the row shows the answer.
    assert not ChatMessage.objects.filter(account=account, direction="inbound", is_replied=False).exists()
    newest = conversations.order_by("-last_message_at").first()
    assert newest.last_message_direction == "outbound" and newest.last_inbound_at is not None
    assert newest.status == Conversation.Status.OPEN
    assert Notification.objects.count() == 0
    # One push of the list when the import ended, none per message (the other pushes are the customers'
    # names, one per new contact, as their profile lookups come back).
    assert not any(push["message_ids"] for push in pushes)
    lists = [push for push in pushes if len(push["conversation_ids"]) > 1]
    assert len(lists) == 1 and lists[0]["business_id"] == business.pk and len(lists[0]["conversation_ids"]) == 60
    assert len(pushes) - 1 <= 200


def test_importing_again_or_receiving_the_webhooks_later_stores_nothing_twice(
    seeded, business, member, client, django_capture_on_commit_callbacks
):
    account = connect(business, member, django_capture_on_commit_callbacks)
    before = counts(account)

    with django_capture_on_commit_callbacks(execute=True):
        again = history_import_start(account=account, actor=member)
    again.refresh_from_db()
    assert again.state == HistoryImport.State.DONE and again.messages_imported == 0
    assert counts(account) == before

    message = ChatMessage.objects.filter(account=account, direction="inbound").order_by("-timestamp").first()
    psid = message.conversation.contact.external_id
    body = payloads.encode(payloads.envelope(object_type="page", entries=[payloads.entry(
        account_id=BAKERY, events=[payloads.text_message(page_id=BAKERY, psid=psid, text=message.content,
                                                          mid=message.message_id)])]))
    assert post_webhook(client, body).status_code == 200
    assert counts(account) == before
    assert Conversation.objects.get(pk=message.conversation_id).unread_count == 0


def test_an_import_that_fails_midway_resumes_from_its_cursor_without_duplicates(
    seeded, business, member, settings, django_capture_on_commit_callbacks
):
    settings.INBOX_HISTORY_IMPORT_ON_CONNECT = False
    account = connect(business, member, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        history = history_import_start(account=account, actor=member)
    assert step(django_capture_on_commit_callbacks, history) == "SUCCESS"
    assert step(django_capture_on_commit_callbacks, history) == "SUCCESS"
    assert history.conversations_done == 50 and history.state == HistoryImport.State.RUNNING
    cursor = history.cursor
    # Meta refuses page 3 (a permission problem: not retried).
    Fault.objects.create(path=CONVERSATIONS_PATH, method="GET", http_status=400, code=200,
                         message="(#200) Requires pages_messaging permission to manage the object")
    step(django_capture_on_commit_callbacks, history)
    assert history.state == HistoryImport.State.FAILED and "200" in history.error
    assert history.cursor == cursor and counts(account) == (50, 100)

    calls_before = GraphCall.objects.filter(path=CONVERSATIONS_PATH).count()
    with django_capture_on_commit_callbacks(execute=True):
        resumed = history_import_start(account=account, actor=member)
    assert resumed.pk == history.pk
    resumed.refresh_from_db()
    assert resumed.state == HistoryImport.State.DONE and resumed.error == ""
    assert (resumed.conversations_done, resumed.messages_imported) == (200, 400)
    assert counts(account) == (200, 400)
    # Pages 3 to 8 only: the first two were not read again.
    assert GraphCall.objects.filter(path=CONVERSATIONS_PATH).count() - calls_before == 6
    assert AuditEvent.objects.filter(action="history_import.resumed", business=business).exists()


def test_a_rate_limit_answer_retries_the_page_after_meta_s_wait(
    seeded, business, member, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INBOX_HISTORY_IMPORT_ON_CONNECT = False
    account = connect(business, member, django_capture_on_commit_callbacks)
    countdowns: list = []

    def retry(self, *args, countdown=None, **kwargs):
        countdowns.append(countdown)
        return Retry(exc=kwargs.get("exc"), when=countdown)

    monkeypatch.setattr(InProcessTask, "retry", retry)
    with django_capture_on_commit_callbacks(execute=False):
        history = history_import_start(account=account)
    Fault.objects.create(path=CONVERSATIONS_PATH, method="GET", http_status=400, code=613,
                         message="(#613) Calls to this api have exceeded the rate limit.")
    assert step(django_capture_on_commit_callbacks, history) == "RETRY"
    assert countdowns == [60]  # social.graph.DEFAULT_RETRY_AFTER_SECONDS: the sandbox sends no usage header
    assert history.state == HistoryImport.State.RUNNING and history.cursor == "" and counts(account) == (0, 0)


def test_reconciliation_recovers_a_message_whose_webhook_was_lost(
    seeded, business, member, client, django_capture_on_commit_callbacks
):
    account = connect(business, member, django_capture_on_commit_callbacks)
    customer = Customer.objects.filter(page__page_id=BAKERY, psid__startswith="71").order_by("psid").first()
    lost = thread_message_add(customer=customer, text="Did you get my order?")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.history_reconcile_all.apply().result == 1

    reconciliation = HistoryImport.objects.get(account=account, kind=HistoryImport.Kind.RECONCILE)
    assert reconciliation.state == HistoryImport.State.DONE and reconciliation.messages_imported == 1
    message = ChatMessage.objects.get(account=account, message_id=lost.mid)
    conversation = message.conversation
    # Like the webhook it stands for: unread and unanswered, at the top of the list.
    assert conversation.unread_count == 1 and not message.is_replied
    assert conversation.last_message_preview == "Did you get my order?"
    assert counts(account) == (200, 401)

    client.force_login(member)
    page = client.get(reverse("inbox:history_import_status", args=[account.public_id]))
    assert "Recovered 1 message on" in page.content.decode()


def test_the_progress_fragment_polls_while_running_and_owners_may_start_it(
    sandbox_http, business, member, page, client, django_capture_on_commit_callbacks
):
    client.force_login(member)
    url = reverse("inbox:history_import_status", args=[page.public_id])
    assert "Import history" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("inbox:history_import_begin", args=[page.public_id]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in html and "<progress" in html
    history = HistoryImport.objects.get(account=page)
    assert history.state == HistoryImport.State.QUEUED and history.started_by == member
    assert AuditEvent.objects.filter(action="history_import.started", business=business).exists()


def test_an_agent_may_watch_but_not_start_an_import(business, page, client):
    from accounts.tests.factories import MembershipFactory

    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)
    html = client.get(reverse("inbox:history_import_status", args=[page.public_id])).content.decode()
    assert "Import history" not in html
    response = client.post(reverse("inbox:history_import_begin", args=[page.public_id]))
    assert response.status_code in (302, 403) and not HistoryImport.objects.exists()


def test_another_business_cannot_see_or_start_an_import(page, client_other, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        history_import_start(account=page)
    assert client_other.get(reverse("inbox:history_import_status", args=[page.public_id])).status_code == 404
    assert client_other.post(reverse("inbox:history_import_begin", args=[page.public_id])).status_code == 404
    assert HistoryImport.objects.count() == 1


def test_a_member_who_leaves_sees_the_import_no_more(business, member, page, client):
    client.force_login(member)
    url = reverse("inbox:history_import_status", args=[page.public_id])
    assert client.get(url).status_code == 200
    Membership.objects.filter(user=member, business=business).delete()
    assert client.get(url).status_code != 200


def test_a_disconnected_page_is_not_imported(page, client, member):
    page.status = SocialAccount.Status.DISCONNECTED
    page.save(update_fields=["status"])
    client.force_login(member)
    response = client.post(reverse("inbox:history_import_begin", args=[page.public_id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and b"Reconnect" in response.content
    assert not HistoryImport.objects.exists()


def test_an_instagram_account_imports_its_own_threads_through_its_page(
    sandbox_http, business, member, django_capture_on_commit_callbacks
):
    history_seed(page_id=BAKERY, conversations=5, instagram=True)
    history_seed(page_id=BAKERY, conversations=3)
    token = UserToken(token=user_token(), expires_at=timezone.now() + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        social_services.accounts_connect(business=business, actor=member, user_token=token, page_ids=[BAKERY],
                                         instagram_ids=["17841400000000000"])
    instagram = SocialAccount.objects.get(platform="INSTAGRAM")
    facebook = SocialAccount.objects.get(platform="FACEBOOK")
    assert HistoryImport.objects.get(account=instagram).state == HistoryImport.State.DONE
    assert counts(instagram) == (5, 10) and counts(facebook) == (3, 6)
    reply = ChatMessage.objects.filter(account=instagram, direction="outbound").first()
    assert reply.sender_id == "17841400000000000" and reply.conversation.platform == "INSTAGRAM"


def test_channel_health_loads_the_import_of_its_page(member, page, client):
    client.force_login(member)
    html = client.get(reverse("inbox:channel_health", args=[page.public_id])).content.decode()
    assert f'hx-get="{reverse("inbox:history_import_status", args=[page.public_id])}"' in html
