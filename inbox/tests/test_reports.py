"""Reports: the rollups (episodes, first response, resolution, window misses, business hours, re-runs)
and the page, its CSV exports and the business hours form (owners and admins only, one business's data)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import BusinessHours, ChatMessage, ConversationStats, HourlyStats
from inbox.reports.hours import hours_from_row, open_seconds
from inbox.reports.rollup import reports_rollup
from inbox.services.conversations import conversations_set_status
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

# Half past the current hour: a test's messages a few minutes apart stay in one hour's rollup row whatever the
# time the suite runs (at 13:57, NOW - 2 h + 5 min would fall in the next hour).
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
H = dt.timedelta(hours=1)


def _rollup(**kwargs):
    return reports_rollup(settle=dt.timedelta(0), **kwargs)


def _conversation(page, **kwargs):
    contact = ContactFactory(account=page, business=page.business, platform=page.platform)
    return ConversationFactory(contact=contact, account=page, business=page.business, platform=page.platform, **kwargs)


def _message(conversation, at, *, out=False, by=None, **kwargs):
    fields = {
        "direction": "outbound" if out else "inbound",
        "source": "inbox" if out else "customer",
        "status": "sent" if out else "received",
        "content": "hello",
        **kwargs,
    }
    return ChatMessage.objects.create(
        business=conversation.business,
        account=conversation.account,
        conversation=conversation,
        platform=conversation.platform,
        timestamp=at,
        sent_by=by,
        **fields,
    )


def _resolve(conversation, user):
    conversations_set_status(
        business=conversation.business, user=user, conversation_ids=[conversation.pk], status="resolved"
    )


def _episodes(conversation):
    return list(ConversationStats.objects.filter(conversation=conversation).order_by("id"))


def _hourly_totals(business):
    rows = HourlyStats.objects.filter(business=business)
    return (sum(r.messages_in for r in rows), sum(r.messages_out for r in rows), sum(r.replies for r in rows))


# --- rollups ---------------------------------------------------------------------------------------------


def test_first_response_and_resolution_are_measured_from_the_customer_s_first_message(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 3 * H)
    _message(conversation, NOW - 2 * H, out=True, by=member)
    _message(conversation, NOW - 2 * H + dt.timedelta(minutes=5), out=True, by=member)
    _resolve(conversation, member)

    run = _rollup()

    assert run.messages == 3 and run.resolutions == 1
    [episode] = _episodes(conversation)
    assert episode.first_response_seconds == 3600
    assert episode.first_response_by_pk == member.pk
    assert episode.resolved_by_pk == member.pk
    assert episode.resolution_seconds == int((_audit_time(conversation) - (NOW - 3 * H)).total_seconds())
    assert episode.window_missed_at is None and not episode.awaiting_reply
    assert _hourly_totals(page.business) == (1, 2, 2)
    assert HourlyStats.objects.get(business=page.business, agent_pk=member.pk, replies__gt=0).replies == 2


def test_notes_notices_and_failed_sends_are_not_counted(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 3 * H)
    ChatMessage.objects.create(
        business=page.business,
        account=page,
        conversation=conversation,
        platform=page.platform,
        direction="internal",
        kind="note",
        timestamp=NOW - 2 * H,
    )
    _message(conversation, NOW - 2 * H, out=True, by=member, status="failed", message_id=None)

    _rollup()

    [episode] = _episodes(conversation)
    assert episode.first_response_at is None and episode.awaiting_reply
    assert _hourly_totals(page.business) == (1, 0, 0)


def test_a_customer_writing_after_a_resolve_opens_a_new_episode_even_when_read_in_one_run(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 5 * H)
    _message(conversation, NOW - 4 * H, out=True, by=member)
    _rollup()
    _resolve(conversation, member)  # resolved now, in the audit trail
    # The customer writes again later than the resolve, and both are read by the same run.
    later = _audit_time(conversation) + dt.timedelta(seconds=5)
    _message(conversation, later)

    _rollup(now=later + dt.timedelta(seconds=1))

    first, second = _episodes(conversation)
    assert first.resolved_at is not None and first.resolved_at < later
    assert first.last_inbound_at <= first.resolved_at
    assert second.opened_at == later and second.resolved_at is None and second.awaiting_reply


def test_a_message_read_before_the_resolve_that_preceded_it_is_split_into_the_next_episode(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 5 * H)
    _resolve(conversation, member)
    resolved_at = _audit_time(conversation)
    after = resolved_at + dt.timedelta(minutes=1)
    _message(conversation, after)
    _message(conversation, after + dt.timedelta(minutes=9), out=True, by=member)

    # Messages are read first: the later customer message lands in the open episode, then the resolve splits it.
    _rollup(now=after + H)

    first, second = _episodes(conversation)
    assert first.resolved_at == resolved_at and first.first_response_at is None
    assert second.opened_at == after and second.first_response_seconds == 9 * 60


def _audit_time(conversation):
    from accounts.models import AuditEvent

    return AuditEvent.objects.get(action="conversation.resolved", target_id=str(conversation.pk)).created_at


def test_a_window_that_closed_unanswered_is_a_miss_and_one_answered_in_time_is_not(page, member):
    missed = _conversation(page)
    _message(missed, NOW - 30 * H)
    answered = _conversation(page)
    _message(answered, NOW - 30 * H)
    _message(answered, NOW - 29 * H, out=True, by=member)
    # The customer wrote twice, 26 hours apart, unanswered in between: the first window was missed.
    gap = _conversation(page)
    _message(gap, NOW - 40 * H)
    _message(gap, NOW - 2 * H)

    run = _rollup()

    assert _episodes(missed)[0].window_missed_at == NOW - 6 * H
    assert _episodes(answered)[0].window_missed_at is None
    assert _episodes(gap)[0].window_missed_at == NOW - 16 * H
    assert run.missed == 1  # the sweep found `missed`; `gap` was seen while reading


def test_a_second_run_counts_nothing_twice(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 3 * H)
    _message(conversation, NOW - 2 * H, out=True, by=member)
    _resolve(conversation, member)
    _rollup()
    before = (_hourly_totals(page.business), [(e.opened_at, e.resolved_at) for e in _episodes(conversation)])

    run = _rollup()

    assert run.messages == 0 and run.resolutions == 0
    assert (_hourly_totals(page.business), [(e.opened_at, e.resolved_at) for e in _episodes(conversation)]) == before


def test_runs_are_incremental_in_bounded_batches_and_wait_for_messages_to_settle(page, member):
    conversations = [_conversation(page) for _ in range(3)]
    for conversation in conversations:
        _message(conversation, NOW - 3 * H)
    run = _rollup(batch=2)
    assert run.messages == 3 and _hourly_totals(page.business) == (3, 0, 0)

    _message(conversations[0], NOW - 2 * H, out=True, by=member)
    unsettled = reports_rollup()  # written just now: not read until it is SETTLE old
    assert unsettled.messages == 0
    assert _rollup(batch=2).messages == 1
    assert _hourly_totals(page.business) == (3, 1, 1)
    assert ConversationStats.objects.filter(business=page.business).count() == 3


def test_rollups_keep_each_business_to_itself(page, other_page, member, other_member):
    _message(_conversation(page), NOW - 3 * H)
    theirs = _conversation(other_page)
    _message(theirs, NOW - 3 * H)
    _message(theirs, NOW - 3 * H, out=True, by=other_member)

    _rollup()

    assert _hourly_totals(page.business) == (1, 0, 0)
    assert _hourly_totals(other_page.business) == (1, 1, 1)
    assert set(ConversationStats.objects.filter(business=page.business).values_list("account_id", flat=True)) == {
        page.pk
    }


def test_a_resolve_recorded_for_another_business_s_conversation_is_ignored(page, other_business, member):
    from accounts.services import audit_record

    conversation = _conversation(page)
    _message(conversation, NOW - 3 * H)
    audit_record(action="conversation.resolved", business=other_business, target=conversation)

    _rollup()

    assert _episodes(conversation)[0].resolved_at is None


# --- business hours ----------------------------------------------------------------------------------------


def _weekdays_nine_to_five(zone="UTC"):
    return hours_from_row(time_zone=zone, week={str(d): ["09:00", "17:00"] for d in range(5)})


def test_open_seconds_count_only_the_opening_hours():
    hours = _weekdays_nine_to_five()
    friday_four = dt.datetime(2026, 11, 27, 16, tzinfo=dt.UTC)
    monday_ten = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    assert open_seconds(friday_four, monday_ten, hours) == 2 * 3600
    # Saturday night to Sunday night: closed all along.
    assert open_seconds(friday_four + dt.timedelta(days=1, hours=4), friday_four + dt.timedelta(days=2), hours) == 0
    # Five weeks: counted a week at a time, 40 hours each.
    assert open_seconds(monday_ten, monday_ten + dt.timedelta(weeks=5), hours) == 5 * 40 * 3600


def test_open_seconds_use_the_business_time_zone():
    hours = _weekdays_nine_to_five("Europe/Rome")  # UTC+1 in November
    start = dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)  # 08:00 in Rome, closed
    assert open_seconds(start, start + 2 * H, hours) == 3600


def test_unreadable_hours_are_no_hours():
    assert hours_from_row(time_zone="Mars/Olympus", week={"0": ["09:00", "17:00"]}) is None
    assert hours_from_row(time_zone="UTC", week={"0": ["17:00", "09:00"], "x": ["a"]}) is None


def test_saving_business_hours_counts_the_rolled_up_times_again(
    client_member, page, member, other_page, django_capture_on_commit_callbacks
):
    conversation = _conversation(page)
    friday_four = dt.datetime(2026, 11, 27, 16, tzinfo=dt.UTC)
    _message(conversation, friday_four)
    _message(conversation, friday_four + dt.timedelta(days=3, hours=-6), out=True, by=member)  # Monday 10:00
    theirs = _conversation(other_page)
    _message(theirs, friday_four)
    _message(theirs, friday_four + H, out=True)
    _rollup()
    assert _episodes(conversation)[0].first_response_open_seconds is None

    with django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(
            reverse("inbox:business_hours_save"),
            {
                "time_zone": "UTC",
                "days": ["0", "1", "2", "3", "4"],
                "opens": "09:00",
                "closes": "17:00",
            },
        )

    assert response.status_code == 302
    assert _episodes(conversation)[0].first_response_open_seconds == 2 * 3600
    assert _episodes(theirs)[0].first_response_open_seconds is None
    assert not BusinessHours.objects.filter(business=other_page.business).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client_member.post(reverse("inbox:business_hours_save"), {"clear": "1"})
    assert not BusinessHours.objects.filter(business=page.business).exists()
    assert _episodes(conversation)[0].first_response_open_seconds is None


def test_business_hours_that_close_before_they_open_are_refused(client_member, page):
    response = client_member.post(
        reverse("inbox:business_hours_save"),
        {
            "time_zone": "UTC",
            "days": ["0"],
            "opens": "17:00",
            "closes": "09:00",
        },
        follow=True,
    )
    assert "Closing time must be after opening time" in response.content.decode()
    assert not BusinessHours.objects.filter(business=page.business).exists()


# --- the page ------------------------------------------------------------------------------------------------


@pytest.fixture
def agent_client(client, business):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example").user
    client.force_login(agent)
    return client


@pytest.fixture
def data(page, member):
    conversation = _conversation(page)
    _message(conversation, NOW - 3 * H)
    _message(conversation, NOW - 2 * H, out=True, by=member)
    _resolve(conversation, member)
    _message(_conversation(page), NOW - 30 * H)
    _rollup()
    return conversation


def test_owners_see_every_report_with_their_numbers(client_member, data, member):
    response = client_member.get(reverse("inbox:reports"))

    assert response.status_code == 200
    report = response.context["report"]
    assert report.totals == {"opened": 2, "resolved": 1, "missed": 1, "messages_in": 2, "messages_out": 1}
    assert [s.slug for s in report.sections] == ["conversations", "messages", "times", "agents", "hours", "misses"]
    page = response.content.decode()
    assert 'id="report-charts"' in page and "chart-4.5.1.umd.min.js" in page
    assert member.display_name in page
    times = report.section("times")
    assert times.rows[0][:3] == ["First response", 1, 3600]


def test_agents_may_not_see_reports_nor_export_them_nor_set_hours(agent_client, data):
    assert agent_client.get(reverse("inbox:reports")).status_code == 403
    assert agent_client.get(reverse("inbox:report_export"), {"report": "conversations"}).status_code == 403
    response = agent_client.post(reverse("inbox:business_hours_save"), {"clear": "1"})
    assert response.status_code == 403


def test_access_ends_when_the_owner_becomes_an_agent_or_leaves(client_member, data, member, business):
    assert client_member.get(reverse("inbox:reports")).status_code == 200
    Membership.objects.filter(user=member, business=business).update(role=Membership.Role.AGENT)
    assert client_member.get(reverse("inbox:reports")).status_code == 403
    assert client_member.get(reverse("inbox:report_export"), {"report": "agents"}).status_code == 403
    Membership.objects.filter(user=member, business=business).delete()
    response = client_member.get(reverse("inbox:reports"))
    assert response.status_code == 302 and "Marco" not in response.content.decode()


def test_another_business_sees_only_its_own_empty_reports(client_other, data, page):
    response = client_other.get(reverse("inbox:reports"))

    assert response.status_code == 200
    assert response.context["report"].totals == {
        "opened": 0,
        "resolved": 0,
        "missed": 0,
        "messages_in": 0,
        "messages_out": 0,
    }
    assert page.account_name not in response.content.decode()
    export = client_other.get(reverse("inbox:report_export"), {"report": "messages"})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert all(row[1:] == ["0", "0"] for row in rows[1:])


def test_filtering_by_another_business_s_page_is_refused(client_other, data, page):
    response = client_other.get(reverse("inbox:reports"), {"page": str(page.public_id)})
    assert response.status_code == 400
    assert response.context["report"] is None
    assert client_other.get(reverse("inbox:report_export"), {"report": "messages", "page": page.pk}).status_code == 400


def test_filters_narrow_the_reports(client_member, data, page, business):
    from social.tests.factories import SocialAccountFactory

    quiet = SocialAccountFactory(business=business, account_id="104857600999999", account_name="Quiet page")
    by_page = client_member.get(reverse("inbox:reports"), {"page": str(quiet.public_id)})
    assert by_page.context["report"].totals["messages_in"] == 0
    today = timezone.now().date().isoformat()
    custom = client_member.get(reverse("inbox:reports"), {"period": "custom", "start": today, "end": "2020-01-01"})
    assert custom.status_code == 400
    assert "The end date is before the start date." in custom.content.decode()


def test_each_report_downloads_as_csv(client_member, data, member):
    for slug in ("conversations", "messages", "times", "agents", "hours", "misses"):
        response = client_member.get(reverse("inbox:report_export"), {"report": slug, "period": "30d"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert f'filename="{slug}-' in response["Content-Disposition"]
    agents = client_member.get(reverse("inbox:report_export"), {"report": "agents"})
    assert list(csv.reader(io.StringIO(agents.content.decode()))) == [["Agent", "Replies"], [member.display_name, "1"]]
    assert client_member.get(reverse("inbox:report_export"), {"report": "nope"}).status_code == 404


def test_a_name_that_looks_like_a_formula_is_quoted_in_the_csv(client_member, data, member):
    member.name = "=HYPERLINK(1)"
    member.save(update_fields=["name"])
    agents = client_member.get(reverse("inbox:report_export"), {"report": "agents"})
    assert "'=HYPERLINK(1)" in agents.content.decode()


def test_the_page_takes_the_same_number_of_queries_however_much_data(client_member, page, member):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client_member.get(reverse("inbox:reports"), {"period": "30d"}).status_code == 200
        return len(queries)

    _message(_conversation(page), NOW - 3 * H)
    _rollup()
    few = count()
    for day in range(12):
        conversation = _conversation(page)
        _message(conversation, NOW - dt.timedelta(days=day, hours=2))
        _message(conversation, NOW - dt.timedelta(days=day, hours=1), out=True, by=member)
        _resolve(conversation, member)
    _rollup()
    assert count() == few


# --- the periodic task ----------------------------------------------------------------------------------------


def test_the_rollup_task_is_registered_and_runs_every_minute_also_on_the_embedded_default(settings, page):
    from config.celery_app import app

    app.loader.import_default_modules()  # as the worker and beat do: CELERY_IMPORTS names the module
    assert "inbox.report_tasks.reports_rollup" in app.tasks
    assert "inbox.report_tasks.report_hours_recompute" in app.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["reports-rollup"]
    assert entry == {"task": "inbox.report_tasks.reports_rollup", "schedule": 60.0}
    # The task itself: settled messages only (SETTLE), so one written just now waits for the next run.
    _message(_conversation(page), NOW - 3 * H)
    assert app.tasks["inbox.report_tasks.reports_rollup"].apply().get() == 0
