"""The drain: stored webhook events applied in batches, one transaction and one broadcast per batch.

A batch must leave exactly the rows that applying the same events one by one leaves, whatever
the mix (redeliveries, late messages, an edit before its message, echoes, receipts, other
businesses, unknown pages, junk), and a bad event must not cost the others.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.ingest.drain import webhook_events_drain
from inbox.ingest.replay import webhook_events_replay
from inbox.models import ChatMessage, Contact, Conversation, WebhookEvent, WebhookEventHour
from inbox.tests.helpers import OTHER_PAGE_ID, PAGE_ID, FakeGraph, post_webhook, run_on_commit
from sandbox import payloads as p

pytestmark = pytest.mark.django_db

State = WebhookEvent.State
ALICE, BRUNO, CARLA = "7100000000000001", "7100000000000002", "7100000000000003"
T = 1_780_000_000_000  # ms


@pytest.fixture(autouse=True)
def graph():
    with FakeGraph() as fake:
        yield fake


def body(*items: dict, page_id: str = PAGE_ID) -> bytes:
    return p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=page_id, events=list(items))]))


def scenario() -> list[bytes]:
    m1 = p.text_message(page_id=PAGE_ID, psid=ALICE, text="hello", mid="m_a1", timestamp_ms=T + 1000)
    m2 = p.text_message(page_id=PAGE_ID, psid=ALICE, text="second", mid="m_a2", timestamp_ms=T + 2000)
    return [
        body(m1),
        body(m2),
        body(m2),  # redelivered in another body
        # The edit of m_a3 arrives before m_a3 itself: it waits, then applies to the stored message.
        body(p.edit(page_id=PAGE_ID, psid=ALICE, mid="m_a3", text="fixed", timestamp_ms=T + 3500)),
        body(p.echo(page_id=PAGE_ID, psid=ALICE, text="typed in Meta's app", mid="m_e1", timestamp_ms=T + 2500)),
        body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="typo", mid="m_a3", timestamp_ms=T + 3000)),
        body(p.reaction(page_id=PAGE_ID, psid=ALICE, mid="m_a1", timestamp_ms=T + 3100)),
        body(p.delivery(page_id=PAGE_ID, psid=ALICE, mids=["m_e1"], watermark_ms=T + 2600)),
        # Bruno: two messages in one body, then an older one late; the preview stays the newest.
        body(
            p.text_message(page_id=PAGE_ID, psid=BRUNO, text="newest", mid="m_b1", timestamp_ms=T + 1500),
            p.postback(page_id=PAGE_ID, psid=BRUNO, title="Opening hours", mid="m_b2", timestamp_ms=T + 1200),
        ),
        body(p.text_message(page_id=PAGE_ID, psid=BRUNO, text="older", mid="m_b3", timestamp_ms=T + 1400)),
        body(p.text_message(page_id=OTHER_PAGE_ID, psid=CARLA, text="other shop", mid="m_c1", timestamp_ms=T), page_id=OTHER_PAGE_ID),
        body(p.text_message(page_id="999", psid=CARLA, text="nobody's", mid="m_x1", timestamp_ms=T), page_id="999"),
        b'{"object":"page","entry":[',
    ]


def deliver(client, bodies: list[bytes], *, mode: str) -> None:
    if mode == "one by one":
        for item in bodies:
            assert post_webhook(client, item).status_code == 200
        return
    for item in bodies:
        assert post_webhook(client, item, run_tasks=False).status_code == 200
    assert WebhookEvent.objects.filter(state=State.PENDING).count() == len(bodies)
    assert run_on_commit(webhook_events_drain) == len(bodies)


@pytest.mark.parametrize("mode", ["one by one", "batch"])
def test_a_batch_leaves_the_rows_that_one_by_one_leaves(client, page, other_page, mode):
    deliver(client, scenario(), mode=mode)

    alice = Conversation.objects.get(contact__external_id=ALICE)
    # The reply typed in Meta's app (m_e1) read what came before it: only m_a3 is unread.
    assert alice.unread_count == 1
    assert alice.last_message_at.timestamp() * 1000 == T + 3000
    assert alice.last_message_preview == "fixed"
    assert alice.last_message_direction == ChatMessage.Direction.INBOUND
    messages = {m.message_id: m for m in ChatMessage.objects.filter(conversation=alice)}
    assert set(messages) == {"m_a1", "m_a2", "m_a3", "m_e1"}
    assert messages["m_a3"].content == "fixed"
    assert messages["m_a1"].extra.get("reaction")
    assert messages["m_e1"].direction == ChatMessage.Direction.OUTBOUND
    assert messages["m_e1"].status == ChatMessage.Status.DELIVERED
    assert messages["m_a1"].is_replied and messages["m_a2"].is_replied and not messages["m_a3"].is_replied

    bruno = Conversation.objects.get(contact__external_id=BRUNO)
    assert (bruno.unread_count, bruno.last_message_preview) == (3, "newest")
    assert bruno.last_message_at.timestamp() * 1000 == T + 1500

    carla = Conversation.objects.get(contact__external_id=CARLA)
    assert carla.business_id == other_page.business_id and carla.unread_count == 1

    assert ChatMessage.objects.count() == 8
    states = list(WebhookEvent.objects.order_by("pk").values_list("state", flat=True))
    assert states == [State.PROCESSED] * 11 + [State.UNROUTABLE, State.FAILED]
    page.refresh_from_db()
    assert page.last_webhook_at is not None


@pytest.mark.parametrize("mode", ["one by one", "batch"])
def test_each_delivery_is_counted_once_per_hour_for_the_ids_it_names(client, page, other_page, mode):
    deliver(client, scenario(), mode=mode)

    counts = {(row.object_type, row.meta_id): row.received for row in WebhookEventHour.objects.all()}
    # 10 bodies for the page, 1 for the other shop, 1 for a page nobody connected; the broken body names none.
    assert counts == {("page", PAGE_ID): 10, ("page", OTHER_PAGE_ID): 1, ("page", "999"): 1}
    assert {row.hour for row in WebhookEventHour.objects.all()} == {
        WebhookEventHour.hour_of(e.received_at) for e in WebhookEvent.objects.exclude(account_ids=[])
    }

    # A replay applies the events again, and is not a new delivery: the counts stay.
    replayed = list(WebhookEvent.objects.values_list("pk", flat=True))
    run_on_commit(webhook_events_replay, event_ids=replayed)
    assert WebhookEvent.objects.filter(state=State.PENDING).count() == 0
    assert {(r.object_type, r.meta_id): r.received for r in WebhookEventHour.objects.all()} == counts


def test_a_batch_is_broadcast_once_per_business(client, page, other_page):
    with mock.patch("inbox.ingest.drain.publish_on_commit") as publish:
        deliver(client, scenario(), mode="batch")
    assert sorted(c.kwargs["business_id"] for c in publish.call_args_list) == sorted(
        [page.business_id, other_page.business_id]
    )
    ours = next(c.kwargs for c in publish.call_args_list if c.kwargs["business_id"] == page.business_id)
    assert set(ours["message_ids"]) == set(
        ChatMessage.objects.filter(business_id=page.business_id).values_list("pk", flat=True)
    )
    assert set(ours["conversation_ids"]) == set(
        Conversation.objects.filter(business_id=page.business_id).values_list("pk", flat=True)
    )


def test_a_bad_event_in_a_batch_costs_only_itself(client, page):
    from inbox.ingest import apply as apply_module

    real = apply_module.customer_message

    def broken_for_bruno(event):
        if event.sender_id == BRUNO:
            raise ValueError("a bug")
        return real(event)

    bodies = [
        body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T)),
        body(p.text_message(page_id=PAGE_ID, psid=BRUNO, text="two", mid="m_2", timestamp_ms=T + 1)),
        body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="three", mid="m_3", timestamp_ms=T + 2)),
    ]
    with mock.patch.object(apply_module, "customer_message", side_effect=broken_for_bruno):
        deliver(client, bodies, mode="batch")
    assert sorted(ChatMessage.objects.values_list("message_id", flat=True)) == ["m_1", "m_3"]
    states = list(WebhookEvent.objects.order_by("pk").values_list("state", "last_error"))
    assert [s for s, _ in states] == [State.PROCESSED, State.FAILED, State.PROCESSED]
    assert "a bug" in states[1][1]
    assert Conversation.objects.get(contact__external_id=ALICE).unread_count == 2


def test_a_dashboard_test_event_in_a_batch_is_recorded_as_a_test_and_costs_nothing(client, page):
    # The App Dashboard's Test button (a captured sample: entry id "0"), between two real messages.
    sample = Path(__file__).parent / "fixtures" / "captured" / "messenger_test__launch-vehicle-fbm-issue-73.json"
    bodies = [
        body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T)),
        sample.read_bytes(),
        body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="two", mid="m_2", timestamp_ms=T + 1)),
    ]
    deliver(client, bodies, mode="batch")
    states = list(WebhookEvent.objects.order_by("pk").values_list("state", "unroutable_account_ids"))
    assert states == [(State.PROCESSED, []), (State.TEST, []), (State.PROCESSED, [])]
    assert sorted(ChatMessage.objects.values_list("message_id", flat=True)) == ["m_1", "m_2"]


def test_a_database_outage_leaves_the_batch_pending(client, page):
    from django.db import OperationalError

    item = body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="one", mid="m_1", timestamp_ms=T))
    for _ in range(2):
        post_webhook(client, item, run_tasks=False)
    with (
        mock.patch("inbox.ingest.drain.apply", side_effect=OperationalError("gone")),
        pytest.raises(OperationalError),
    ):
        webhook_events_drain()
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {State.PENDING}
    assert run_on_commit(webhook_events_drain) == 2
    assert ChatMessage.objects.count() == 1


def test_batches_share_their_queries(client, page, settings):
    """Forty customers' first messages: a batch needs a fraction of the queries of forty transactions."""
    settings.INBOX_WEBHOOK_BATCH_SIZE = 50

    def bodies(prefix: str) -> list[bytes]:
        return [
            body(p.text_message(page_id=PAGE_ID, psid=f"{prefix}{n:04d}", text=f"hi {n}", mid=f"m_{prefix}{n}",
                                timestamp_ms=T + n))
            for n in range(40)
        ]

    with mock.patch("inbox.tasks.contact_profiles_fetch.apply_async"):
        for item in bodies("71"):
            post_webhook(client, item, run_tasks=False)
        with CaptureQueriesContext(connection) as one_by_one:
            for event_id in WebhookEvent.objects.order_by("pk").values_list("pk", flat=True):
                from inbox.ingest.drain import webhook_event_process

                run_on_commit(webhook_event_process, event_id=event_id)
        one_by_one_count = len(one_by_one)  # before the next request resets the connection's query log
        for item in bodies("72"):
            post_webhook(client, item, run_tasks=False)
        with CaptureQueriesContext(connection) as batched:
            assert run_on_commit(webhook_events_drain) == 40
    assert ChatMessage.objects.count() == 80
    assert len(batched) < one_by_one_count * 0.4, (len(batched), one_by_one_count)


def test_a_batch_of_new_customers_queues_one_profile_lookup_for_all_of_them(client, page):
    for n in range(3):
        post_webhook(client, body(p.text_message(page_id=PAGE_ID, psid=f"73{n:04d}", text=f"hi {n}",
                                                 mid=f"m_73{n}", timestamp_ms=T + n)), run_tasks=False)
    with mock.patch("inbox.tasks.contact_profiles_fetch.apply_async") as batch, \
            mock.patch("inbox.tasks.contact_profile_fetch.apply_async") as single:
        assert run_on_commit(webhook_events_drain) == 3
    assert single.call_count == 0
    assert batch.call_count == 1
    ((contact_ids,),) = batch.call_args.args
    assert sorted(contact_ids) == sorted(Contact.objects.values_list("pk", flat=True)) and len(contact_ids) == 3


def test_a_drain_out_of_time_hands_over_to_the_next(client, page, settings):
    settings.INBOX_WEBHOOK_BATCH_SIZE = 2
    for n in range(5):
        item = body(p.text_message(page_id=PAGE_ID, psid=ALICE, text=str(n), mid=f"m_{n}", timestamp_ms=T + n))
        post_webhook(client, item, run_tasks=False)
    with mock.patch("inbox.tasks.webhook_events_drain.apply_async") as apply_async:
        assert run_on_commit(webhook_events_drain, seconds=0) == 2
    apply_async.assert_called_once()
    assert WebhookEvent.objects.filter(state=State.PENDING).count() == 3
    # With time left it goes on until nothing is pending.
    assert run_on_commit(webhook_events_drain) == 3
    assert Conversation.objects.get().unread_count == 5


def test_the_pane_is_pushed_only_when_a_message_can_change_it(client, page):
    """A customer writing into an open window changes the list row and adds a message; the open
    conversation's header and composer change only when it was resolved or the window was closed."""
    from datetime import timedelta

    from django.utils import timezone

    def pushed_panes(item: bytes) -> set[int]:
        with mock.patch("inbox.ingest.drain.publish_on_commit") as publish:
            post_webhook(client, item)
        return set(publish.call_args.kwargs["pane_ids"])

    now_ms = int(timezone.now().timestamp() * 1000)
    first = body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="hi", mid="m_1", timestamp_ms=now_ms))
    post_webhook(client, first)
    conversation = Conversation.objects.get()
    # The window is open: only the row and the message.
    assert pushed_panes(body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="a", mid="m_2", timestamp_ms=now_ms))) == set()

    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.RESOLVED)
    assert pushed_panes(body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="b", mid="m_3", timestamp_ms=now_ms))) == {
        conversation.pk
    }
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    assert pushed_panes(body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="c", mid="m_4", timestamp_ms=now_ms))) == {
        conversation.pk
    }


@pytest.mark.parametrize("mode", ["one by one", "batch"])
def test_a_reply_to_a_message_of_the_same_batch_is_linked(client, page, mode):
    first = p.text_message(page_id=PAGE_ID, psid=ALICE, text="which colours?", mid="m_q", timestamp_ms=T)
    answer = p.text_message(page_id=PAGE_ID, psid=ALICE, text="blue please", mid="m_r", timestamp_ms=T + 1,
                            reply_to_mid="m_q")
    deliver(client, [body(first, answer), body(answer)], mode=mode)
    reply = ChatMessage.objects.get(message_id="m_r")
    assert reply.reply_to == ChatMessage.objects.get(message_id="m_q")
    assert ChatMessage.objects.count() == 2
    assert Conversation.objects.get().unread_count == 2


@pytest.mark.parametrize("mode", ["one by one", "batch"])
def test_a_batch_of_a_page_and_its_instagram_account_routes_each_to_its_own(client, page, mode):
    from inbox.tests.helpers import IG_ACCOUNT_ID, IGSID
    from social.models import Platform
    from social.tests.factories import SocialAccountFactory

    instagram = SocialAccountFactory(
        business=page.business, platform=Platform.INSTAGRAM, account_id=IG_ACCOUNT_ID, account_name="bakery.rossi",
        page=page,
    )
    ig_message = p.text_message(page_id=IG_ACCOUNT_ID, psid=IGSID, text="from instagram", mid="m_ig", timestamp_ms=T)
    ig_body = p.encode(
        p.envelope(object_type="instagram", entries=[p.entry(account_id=IG_ACCOUNT_ID, events=[ig_message])])
    )
    fb_body = body(p.text_message(page_id=PAGE_ID, psid=ALICE, text="from messenger", mid="m_fb", timestamp_ms=T))
    deliver(client, [fb_body, ig_body], mode=mode)
    assert ChatMessage.objects.get(message_id="m_ig").account == instagram
    assert ChatMessage.objects.get(message_id="m_fb").account == page
    assert Conversation.objects.get(account=instagram).contact.external_id == IGSID
    assert set(WebhookEvent.objects.values_list("object_type", "state")) == {
        ("page", State.PROCESSED), ("instagram", State.PROCESSED)
    }
