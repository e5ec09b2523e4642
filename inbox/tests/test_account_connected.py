"""A connected account's stored events are replayed: social announces it, the inbox's receiver replays."""

from __future__ import annotations

import pytest

from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.helpers import OTHER_PAGE_ID, FakeGraph, load_fixture, post_webhook, run_on_commit
from social.models import SocialAccount
from social.signals import account_connected
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def _announce(account: SocialAccount) -> list:
    return account_connected.send_robust(sender=SocialAccount, account=account)


def test_the_inbox_replays_an_account_s_unroutable_events_when_it_is_connected(client, page, other_business):
    post_webhook(client, load_fixture("batched_entries"))
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.UNROUTABLE
    assert not ChatMessage.objects.filter(content="Merci !").exists()

    other_page = SocialAccountFactory(business=other_business, account_id=OTHER_PAGE_ID)
    results = run_on_commit(_announce, other_page)
    assert [error for _, error in results if isinstance(error, Exception)] == []

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED and event.unroutable_account_ids == []
    assert ChatMessage.objects.get(content="Merci !").business == other_business


def test_announcing_an_account_without_stored_events_changes_nothing(client, page, other_business):
    post_webhook(client, load_fixture("batched_entries"))
    unrelated = SocialAccountFactory(business=other_business, account_id="104857600777777")
    run_on_commit(_announce, unrelated)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.UNROUTABLE
    assert not ChatMessage.objects.filter(content="Merci !").exists()


def test_the_inbox_listens_to_connected_accounts():
    # Connected in InboxConfig.ready (inbox/signals.py).
    assert account_connected.has_listeners(SocialAccount)
