"""The activity log: owners and admins see their business's actions and its calls to Meta, filter and export
them, and choose how long they are kept; nobody else sees any of it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import activity
from accounts.models import AuditEvent, Membership
from accounts.services import audit_record
from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LOG = reverse("accounts:activity_log")
EXPORT = reverse("accounts:activity_export")
RETENTION = reverse("accounts:activity_retention")


@pytest.fixture
def agent(business):
    return MembershipFactory(business=business, role=Membership.Role.AGENT, user__name="Ada Agent").user


def _event(business, action: str, *, actor=None, days_ago: float = 0, **metadata) -> AuditEvent:
    event = audit_record(action=action, business=business, actor=actor, metadata=metadata)
    if days_ago:
        # created_at is auto_now_add and the rows are append-only: age them below the model.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AuditEvent._meta.db_table} SET created_at = %s WHERE id = %s",
                [timezone.now() - timedelta(days=days_ago), event.pk],
            )
    return event


def _graph_call(business, *, account_id="104857600123456", error_code=None, days_ago: float = 0) -> AuditEvent:
    metadata = {"method": "GET", "path": "/v23.0/me", "status": 200, "account_id": account_id}
    if error_code:
        metadata.update(status=400, error_code=error_code, error_subcode=463, error="token_expired", fbtrace_id="AbC")
    return _event(business, "graph.call", days_ago=days_ago, **metadata)


def test_the_log_lists_actions_and_sums_the_calls_to_meta_per_page(client_member, business, member, agent):
    _event(business, "conversation.assigned", actor=member, assignee="Ada Agent")
    _event(business, "membership.role_changed", actor=member, role="admin")
    for _ in range(3):
        _graph_call(business)
    _graph_call(business, error_code=190)
    _graph_call(business, account_id="17841400000000001")

    html = client_member.get(LOG).content.decode()

    assert "assigned a conversation" in html and "changed a member&#x27;s role" in html
    assert html.count('id="activity-') == 2  # the calls to Meta are not rows of their own
    assert '<td>104857600123456</td><td>4</td><td><strong class="activity-failed">1</strong>' in html
    assert "<td>17841400000000001</td><td>1</td><td>0</td>" in html
    assert "error 190/463" in html and "(token_expired)" in html


def test_another_business_never_appears(client_member, business, other_business, other_member):
    _event(business, "label.created", actor=None, name="Refund")
    theirs = _event(other_business, "label.deleted", actor=other_member, name="Secret label")
    _graph_call(other_business, account_id="999999999", error_code=10)

    html = client_member.get(LOG).content.decode()
    assert "created a label" in html
    assert "Secret label" not in html and "999999999" not in html and "deleted a label" not in html
    # Their rows cannot be reached by cursor either.
    assert "Secret label" not in client_member.get(LOG, {"before": theirs.pk + 1}).content.decode()
    exported = b"".join(client_member.get(EXPORT).streaming_content).decode()
    assert "Secret label" not in exported and "label.created" in exported


def test_agents_are_refused_everything(client, business, agent):
    client.force_login(agent)
    assert client.get(LOG).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert client.post(RETENTION, {"activity_retention_days": 30, "graph_call_retention_days": 7}).status_code == 403
    business.refresh_from_db()
    assert business.activity_retention_days == 730
    assert not AuditEvent.objects.filter(action="activity.exported").exists()


def test_access_ends_with_the_membership(client_member, business, member):
    assert client_member.get(LOG).status_code == 200
    Membership.objects.filter(business=business, user=member).delete()
    response = client_member.get(LOG)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:business_create")


def test_filters_by_kind_member_and_period(client_member, business, member, agent):
    _event(business, "conversation.resolved", actor=agent, days_ago=3)
    _event(business, "team.created", actor=member, name="Orders")
    _event(business, "conversation.snoozed", actor=member)

    def shown(**query) -> list[str]:
        html = client_member.get(LOG, query).content.decode()
        return [w for w in ("resolved a conversation", "created a team", "snoozed a conversation") if w in html]

    assert shown(kind="conversations") == ["resolved a conversation", "snoozed a conversation"]
    assert shown(member=agent.pk) == ["resolved a conversation"]
    today = timezone.localdate()
    assert shown(since=today.isoformat()) == ["created a team", "snoozed a conversation"]
    assert shown(until=(today - timedelta(days=1)).isoformat()) == ["resolved a conversation"]
    html = client_member.get(
        LOG, {"since": today.isoformat(), "until": (today - timedelta(days=2)).isoformat()}
    ).content.decode()
    assert "The period ends before it starts." in html


def test_older_rows_come_a_page_at_a_time(client_member, business):
    events = [_event(business, "label.updated", n=n) for n in range(activity.PAGE_SIZE + 5)]
    first = client_member.get(LOG).content.decode()
    assert first.count('id="activity-') == activity.PAGE_SIZE
    assert f'id="activity-{events[-1].pk}"' in first and f'id="activity-{events[4].pk}"' not in first
    older = client_member.get(LOG, {"before": events[5].pk}).content.decode()
    assert older.count('id="activity-') == 5
    assert f'id="activity-{events[0].pk}"' in older


def test_the_export_is_csv_safe_for_spreadsheets_and_audited(client_member, business, member):
    _event(business, "label.created", actor=member, name='=HYPERLINK("http://evil")')
    response = client_member.get(EXPORT, {"kind": "library"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(activity.EXPORT_HEADER)
    assert len(rows) == 2 and rows[1][2] == "label.created"
    assert rows[1][5] == 'name==HYPERLINK("http://evil")'  # inside the details cell, after "name="
    _event(business, "team.created", actor=member, name="-2+3")
    rows = list(csv.reader(io.StringIO(b"".join(client_member.get(EXPORT).streaming_content).decode())))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert AuditEvent.objects.filter(business=business, action="activity.exported", actor=member).count() == 2


def test_retention_is_a_choice_of_the_business_and_enforced_daily(client_member, business, other_business, member):
    response = client_member.post(
        RETENTION, {"activity_retention_days": 365, "graph_call_retention_days": 30}, follow=True
    )
    assert "Saved." in response.content.decode()
    business.refresh_from_db()
    assert (business.activity_retention_days, business.graph_call_retention_days) == (365, 30)
    assert AuditEvent.objects.filter(business=business, action="business.retention_changed").exists()

    refused = client_member.post(
        RETENTION, {"activity_retention_days": 5, "graph_call_retention_days": 30}, follow=True
    )
    assert "Not saved." in refused.content.decode()
    business.refresh_from_db()
    assert business.activity_retention_days == 365

    kept_action = _event(business, "team.created", days_ago=300)
    old_action = _event(business, "team.deleted", days_ago=400)
    kept_call = _graph_call(business, days_ago=20)
    old_call = _graph_call(business, days_ago=40)
    theirs = _graph_call(other_business, days_ago=40)  # the other business keeps calls 90 days

    assert activity.audit_retention_enforce() == 2
    remaining = set(AuditEvent.objects.values_list("pk", flat=True))
    assert {kept_action.pk, kept_call.pk, theirs.pk} <= remaining
    assert not {old_action.pk, old_call.pk} & remaining


def test_audit_rows_leave_only_by_retention(business):
    _event(business, "team.created")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(business=business).delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(business=business).update(action="x")
    assert AuditEvent.objects.filter(business=business).count() == 1


def test_the_daily_clean_up_is_scheduled():
    from accounts.tasks import audit_retention_enforce
    from config.celery_app import app

    assert "accounts.tasks.audit_retention_enforce" in app.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["expire-activity-log"]
    assert entry["task"] == "accounts.tasks.audit_retention_enforce" and entry["schedule"] == 24 * 3600.0
    assert audit_retention_enforce() == 0
