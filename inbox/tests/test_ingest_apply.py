"""The ingest's one entry point, ``apply``, and the drain's handling of what goes wrong around it."""

from __future__ import annotations

from unittest import mock

import pytest

from inbox.facebook.parsing import parse_payload
from inbox.ingest import apply as apply_module
from inbox.ingest.apply import apply
from inbox.ingest.drafts import MessageDraft, customer_message
from inbox.ingest.drain import webhook_events_drain
from inbox.models import ChatMessage, Conversation, WebhookEvent
from inbox.tests.helpers import OTHER_PAGE_ID, PAGE_ID, FakeGraph, post_webhook, run_on_commit
from sandbox import payloads as p

pytestmark = pytest.mark.django_db

ALICE, BRUNO = "7100000000000001", "7100000000000002"
T = 1_780_000_000_000  # ms


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def events(*items: dict, page_id: str = PAGE_ID) -> list:
    return list(parse_payload(p.envelope(object_type="page", entries=[p.entry(account_id=page_id, events=list(items))])).events)


def test_changes_are_returned_by_business(page, other_page):
    ours = events(
        p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T),
        p.text_message(page_id=PAGE_ID, psid=BRUNO, text="two", mid="m_2", timestamp_ms=T + 1),
    )
    theirs = events(p.text_message(page_id=OTHER_PAGE_ID, psid=ALICE, text="three", mid="m_3", timestamp_ms=T),
                    page_id=OTHER_PAGE_ID)

    changes = run_on_commit(apply, {page: ours, other_page: theirs})

    assert changes.failures == []
    assert set(changes.touched) == {page.business_id, other_page.business_id}
    assert changes.touched[page.business_id].message_ids == set(
        ChatMessage.objects.filter(account=page).values_list("pk", flat=True)
    )
    assert len(changes.touched[page.business_id].conversation_ids) == 2
    assert len(changes.touched[other_page.business_id].message_ids) == 1
    # Applying the same events again changes nothing: every message is stored once.
    again = run_on_commit(apply, {page: ours, other_page: theirs})
    assert not any(again.touched.values()) and ChatMessage.objects.count() == 3


def test_a_failing_event_is_returned_and_the_others_apply_one_by_one(page):
    batch = events(
        p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T),
        p.text_message(page_id=PAGE_ID, psid=BRUNO, text="two", mid="m_2", timestamp_ms=T + 1),
        p.text_message(page_id=PAGE_ID, psid=ALICE, text="three", mid="m_3", timestamp_ms=T + 2),
    )

    def broken_for_bruno(event):
        if event.sender_id == BRUNO:
            raise ValueError("a bug")
        return customer_message(event)

    with mock.patch.object(apply_module, "customer_message", side_effect=broken_for_bruno) as drafted:
        changes = run_on_commit(apply, {page: batch})

    assert drafted.call_count == 2 + 3  # the batch up to the failing event, then each event on its own
    (failure,) = changes.failures
    assert failure.event is batch[1]
    assert "ValueError: a bug" in failure.error and "m_2" in failure.error
    assert sorted(ChatMessage.objects.values_list("message_id", flat=True)) == ["m_1", "m_3"]
    assert Conversation.objects.get(contact__external_id=ALICE).unread_count == 2
    assert not Conversation.objects.filter(contact__external_id=BRUNO).exists()  # rolled back with its event


def test_a_lone_failing_event_is_not_tried_twice(page):
    (event,) = events(p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T))
    with mock.patch.object(apply_module, "customer_message", side_effect=ValueError("a bug")) as drafted:
        changes = run_on_commit(apply, {page: [event]})
    assert drafted.call_count == 1
    assert [f.event for f in changes.failures] == [event]
    assert not Conversation.objects.exists()


def test_a_database_outage_is_not_a_failure_of_the_event(page):
    from django.db import OperationalError

    (event,) = events(p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T))
    with (
        mock.patch.object(apply_module, "customer_message", side_effect=OperationalError("gone")),
        pytest.raises(OperationalError),
    ):
        apply({page: [event]})


def test_a_message_draft_is_a_value():
    (event,) = events(p.postback(page_id=PAGE_ID, psid=ALICE, title="Opening hours", mid="m_b", timestamp_ms=T))
    draft = customer_message(event)
    assert isinstance(draft, MessageDraft)
    assert (draft.customer_id, draft.mid, draft.kind, draft.content, draft.preview) == (
        ALICE, "m_b", ChatMessage.Kind.POSTBACK, "Opening hours", "Opening hours"
    )
    with pytest.raises(AttributeError):
        draft.content = "changed"  # type: ignore[misc]


# --- the drain around apply -----------------------------------------------------------------------


def body(*items: dict) -> bytes:
    return p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))


def test_a_parsing_bug_fails_only_its_event(client, page):
    from inbox.ingest import drain

    for n in range(3):
        post_webhook(client, body(p.text_message(page_id=PAGE_ID, psid=ALICE, text=str(n), mid=f"m_{n}",
                                                 timestamp_ms=T + n)), run_tasks=False)
    second = WebhookEvent.objects.order_by("pk")[1].pk
    real = drain.parse

    def parse(*, event_id, body):
        if event_id == second:
            raise KeyError("a bug")
        return real(event_id=event_id, body=body)

    with mock.patch.object(drain, "parse", side_effect=parse):
        assert run_on_commit(webhook_events_drain) == 3
    states = list(WebhookEvent.objects.order_by("pk").values_list("state", "last_error"))
    assert [s for s, _ in states] == [WebhookEvent.State.PROCESSED, WebhookEvent.State.FAILED, WebhookEvent.State.PROCESSED]
    assert "KeyError" in states[1][1]
    assert sorted(ChatMessage.objects.values_list("message_id", flat=True)) == ["m_0", "m_2"]


def test_a_bug_after_applying_rolls_the_batch_back_and_is_recorded_on_its_events(client, page):
    for n in range(2):
        post_webhook(client, body(p.text_message(page_id=PAGE_ID, psid=ALICE, text=str(n), mid=f"m_{n}",
                                                 timestamp_ms=T + n)), run_tasks=False)
    with mock.patch("inbox.ingest.drain._mark_webhooks_seen", side_effect=RuntimeError("bug")):
        assert run_on_commit(webhook_events_drain) == 2
    assert set(WebhookEvent.objects.values_list("state", "last_error", "attempts")) == {
        (WebhookEvent.State.FAILED, "RuntimeError: bug", 1)
    }
    assert not ChatMessage.objects.exists()
