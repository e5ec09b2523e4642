"""The Handover Protocol in a real browser: a thread Page Inbox took shows "Thread: Page Inbox" in the
header, and Take control (through the sandbox's Graph API) makes it ours on every open page, live.

The harness (server or production stack, sandbox, staff, `_open`) is test_browser.py's, inherited. Run:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_handover.py
"""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import PAGE_INBOX_APP_ID, Conversation
from inbox.tests.e2e import test_browser
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.mark.e2e
class HandoverInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def test_take_control_makes_a_page_inbox_thread_ours_live(self) -> None:
        from playwright.sync_api import expect

        now = timezone.now()
        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, external_id=test_browser.PSID, name="Giulia Bianchi"),
            last_message_at=now, last_inbound_at=now, last_message_preview="Is the cake ready?",
        )
        ChatMessageFactory(conversation=conversation, content="Is the cake ready?", timestamp=now, is_read=True)
        # Page Inbox takes the thread at Meta: Meta tells us with take_thread_control.
        answer = requests.post(f"{self.sandbox_url}/sandbox/control/thread", timeout=10, json={
            "page_id": test_browser.PAGE_A, "psid": test_browser.PSID, "owner_app_id": PAGE_INBOX_APP_ID,
        })
        assert answer.status_code == 200, answer.text
        self._wait_until(
            lambda: Conversation.objects.get(pk=conversation.pk).thread_owner_app_id == PAGE_INBOX_APP_ID,
            "the take_thread_control webhook was never applied",
        )

        path = f"/inbox/c/{conversation.public_id}/"
        page = self._open(self.staff_a, self.business_a, path=path, viewport=LAPTOP)
        other = self._open(self.staff_a2, self.business_a, path=path, viewport=PHONE, phone=True)
        header = page.locator(f"#conversation-header-{conversation.pk}")
        other_header = other.locator(f"#conversation-header-{conversation.pk}")
        expect(header.locator(".handover-chip")).to_have_text("Thread: Page Inbox")
        expect(other_header.locator(".handover-chip")).to_have_text("Thread: Page Inbox")
        expect(page.locator(".msg-notice").last).to_contain_text("Thread control taken from")
        self._shot(page, "handover-chip-laptop")
        self._shot(other, "handover-chip-phone")

        header.get_by_role("button", name="Take control").click()

        expect(header.locator(".handover-chip")).to_have_count(0)
        expect(header.get_by_role("button", name="Pass to Page Inbox")).to_be_visible()
        # The other staff member's page changes too, without a reload.
        expect(other_header.locator(".handover-chip")).to_have_count(0)
        expect(other_header.get_by_role("button", name="Pass to Page Inbox")).to_be_visible()
        self._shot(other, "handover-taken-phone")
        assert Conversation.objects.get(pk=conversation.pk).thread_owner_app_id == ""
        assert AuditEvent.objects.filter(action="conversation.thread_take", actor=self.staff_a).exists()
        assert page.errors == [] and other.errors == [], (page.errors, other.errors)
