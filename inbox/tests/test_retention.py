"""Retention of customers' raw data: old processed webhook bodies and old media files (docs/compliance.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import TestCase
from django.utils import timezone

from inbox.models import Attachment, WebhookEvent
from inbox.services.retention import data_retention_enforce, media_expire, webhook_events_expire
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ConversationFactory

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


def event(*, days_old: float, state: str = State.PROCESSED, account_ids: list[str] | None = None) -> WebhookEvent:
    row = WebhookEvent.objects.create(body=b'{"object":"page","entry":[]}', state=state,
                                      account_ids=account_ids or [])
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(days=days_old))
    return row


def stored(conversation, *, days_old: float, name: str) -> Attachment:
    file_name = default_storage.save(f"attachments/2025/01/{name}", ContentFile(b"bytes"))
    attachment = AttachmentFactory(message=ChatMessageFactory(conversation=conversation), file=file_name,
                                   state=Attachment.State.STORED)
    Attachment.objects.filter(pk=attachment.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    attachment.refresh_from_db()
    return attachment


def test_old_processed_bodies_go_failed_unroutable_pending_and_recent_ones_stay(page):
    old = event(days_old=31, account_ids=[page.account_id])
    recent = event(days_old=29, account_ids=[page.account_id])
    kept = [event(days_old=400, state=state, account_ids=[page.account_id])
            for state in (State.FAILED, State.UNROUTABLE, State.PENDING)]
    unknown_page = event(days_old=31, account_ids=["999"])  # its page is gone: the default applies

    assert webhook_events_expire() == 2

    remaining = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert old.pk not in remaining and unknown_page.pk not in remaining
    assert {recent.pk, *(e.pk for e in kept)} <= remaining


def test_each_business_keeps_bodies_as_long_as_it_chose(page, other_page):
    page.business.webhook_body_retention_days = 7
    page.business.save()
    other_page.business.webhook_body_retention_days = 0  # forever
    other_page.business.save()
    ours = event(days_old=8, account_ids=[page.account_id])
    theirs = event(days_old=800, account_ids=[other_page.account_id])
    both = event(days_old=8, account_ids=[page.account_id, other_page.account_id])

    webhook_events_expire()

    remaining = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert ours.pk not in remaining and theirs.pk in remaining
    assert both.pk not in remaining  # one body, two businesses: the shorter retention wins


def test_expiry_works_in_batches(page):
    rows = [event(days_old=40, account_ids=[page.account_id]) for _ in range(5)]
    assert webhook_events_expire(batch=2) == 5
    assert not WebhookEvent.objects.filter(pk__in=[r.pk for r in rows]).exists()


def test_old_media_files_are_deleted_and_marked_expired_recent_ones_stay(page, other_page):
    conversation = ConversationFactory(contact__account=page)
    old = stored(conversation, days_old=366, name="old.png")
    recent = stored(conversation, days_old=30, name="recent.png")
    link_only = AttachmentFactory(message=ChatMessageFactory(conversation=conversation), state=Attachment.State.LINK)
    Attachment.objects.filter(pk=link_only.pk).update(created_at=timezone.now() - timedelta(days=999))
    other_business_old = stored(ConversationFactory(contact__account=other_page), days_old=366, name="theirs.png")
    other_page.business.media_retention_days = 0  # keep forever
    other_page.business.save()
    old_name = old.file.name

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert media_expire(batch=1) == 1

    old.refresh_from_db()
    assert old.state == Attachment.State.EXPIRED and not old.file and old.url == ""
    assert not default_storage.exists(old_name)
    recent.refresh_from_db()
    assert recent.state == Attachment.State.STORED and default_storage.exists(recent.file.name)
    assert Attachment.objects.get(pk=link_only.pk).state == Attachment.State.LINK
    other_business_old.refresh_from_db()
    assert other_business_old.state == Attachment.State.STORED and default_storage.exists(other_business_old.file.name)


def test_the_daily_task_runs_both(page):
    from inbox.tasks import data_retention_enforce as task

    event(days_old=31, account_ids=[page.account_id])
    old = stored(ConversationFactory(contact__account=page), days_old=400, name="daily.png")

    with TestCase.captureOnCommitCallbacks(execute=True):
        counts = task()

    assert counts["webhook_events_deleted"] == 1 and counts["media_files_deleted"] == 1
    assert not default_storage.exists(old.file.name)
    assert data_retention_enforce() == {"webhook_events_deleted": 0, "media_files_deleted": 0}  # idempotent


def test_an_expired_attachment_is_not_downloaded_again(page):
    from inbox.services.media import attachment_download

    old = stored(ConversationFactory(contact__account=page), days_old=400, name="again.png")
    with TestCase.captureOnCommitCallbacks(execute=True):
        media_expire()
    old.refresh_from_db()
    # A late retry of the download cannot store it again: only pending or failed rows are updated.
    from inbox.tests.helpers import FakeGraph

    with FakeGraph():
        attachment_download(attachment=old)
    old.refresh_from_db()
    assert old.state == Attachment.State.EXPIRED and not old.file
