"""The reply window in a real browser: the header's countdown chip (ticking, amber under two hours, and
the composer re-rendered by the server when the window closes), the "Needs reply" and "Expiring soon"
views, and the header's Mark read / Mark unread buttons.

The harness (server or production stack, sandbox, staff, `_open`, `_customer_writes`) is
test_browser.py's, inherited. Run like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_reply_window.py
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation
from inbox.tests.e2e import test_browser
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from social.models import SocialAccount

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ROWS = "#conversation-list > li[data-live='row']"
DAY = timedelta(hours=24)


@pytest.mark.e2e
class ReplyWindowInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def _conversation(
        self, name: str, *, wrote_ago: timedelta, replied: bool = False, unread: int = 0, **fields
    ) -> Conversation:
        """A conversation whose customer wrote `wrote_ago` (made in the database: nothing goes to Meta)."""
        at = timezone.now() - wrote_ago
        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, name=name),
            last_message_preview=f"Hello from {name}",
            last_message_at=at,
            last_inbound_at=at,
            unread_count=unread,
            **fields,
        )
        ChatMessageFactory(
            conversation=conversation,
            content=f"Hello from {name}",
            timestamp=at,
            is_read=not unread,
            is_replied=replied,
        )
        return conversation

    def _pane(self, conversation: Conversation, **kwargs):
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", **kwargs)
        page.wait_for_load_state("networkidle")
        return page

    def _no_errors(self, *pages) -> None:
        for page in pages:
            assert page.errors == [], page.errors

    # --- the chip -------------------------------------------------------------------------------------

    def test_the_chip_counts_down_and_turns_amber_under_two_hours(self) -> None:
        from playwright.sync_api import expect

        # Two hours and six seconds left: "2h left", calm; a few seconds on, "1h 59m left", amber.
        conversation = self._conversation("Luca Neri", wrote_ago=DAY - timedelta(hours=2, seconds=6))
        page = self._pane(conversation, viewport=LAPTOP)
        chip = page.locator(f"#conversation-header-{conversation.pk} .reply-window-chip")
        words = chip.locator(".rw-text")
        expect(words).to_have_text("2h left")
        expect(chip).to_have_class(re.compile("rw-open"))
        expect(chip).to_have_attribute("title", "Reply window: 2h left")
        self._shot(page, "reply-window-chip-laptop")
        expect(words).to_have_text("1h 59m left", timeout=25_000)
        expect(chip).to_have_class(re.compile("rw-soon"))
        expect(page.locator(f"#reply-text-{conversation.pk}")).to_be_visible()
        self._shot(page, "reply-window-chip-soon-laptop")
        self._no_errors(page)

    def test_when_the_window_closes_the_server_re_renders_header_and_composer(self) -> None:
        from playwright.sync_api import expect

        conversation = self._conversation("Anna Blu", wrote_ago=DAY - timedelta(seconds=8))
        page = self._pane(conversation, viewport=PHONE, phone=True)
        header = page.locator(f"#conversation-header-{conversation.pk}")
        expect(header.locator(".reply-window-chip .rw-text")).to_have_text("Closes in 1 min")
        expect(header.locator(".reply-window-chip")).to_have_class(re.compile("rw-soon"))
        self._shot(page, "reply-window-closing-phone")
        # The deadline passes: the page asks, the server answers with the closed window.
        expect(header.locator(".reply-window-chip .rw-text")).to_have_text("Window closed", timeout=25_000)
        expect(page.locator(f"#composer-{conversation.pk} .composer-lock")).to_contain_text("within 24 hours")
        expect(page.locator(f"#reply-text-{conversation.pk}")).to_have_count(0)
        self._shot(page, "reply-window-closed-phone")
        self._no_errors(page)

    def test_a_new_customer_message_restarts_the_countdown(self) -> None:
        from playwright.sync_api import expect

        at = timezone.now() - DAY + timedelta(minutes=30)
        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, external_id=test_browser.PSID, name="Giulia Bianchi"),
            last_message_at=at,
            last_inbound_at=at,
        )
        ChatMessageFactory(conversation=conversation, content="Is the cake ready?", timestamp=at, is_read=True)
        page = self._pane(conversation, viewport=LAPTOP)
        chip = page.locator(f"#conversation-header-{conversation.pk} .reply-window-chip")
        expect(chip.locator(".rw-text")).to_have_text(re.compile(r"Closes in (29|30) min"))
        self._customer_writes("Sorry, one more thing")
        expect(chip.locator(".rw-text")).to_have_text("23h left")
        expect(chip).to_have_class(re.compile("rw-open"))
        self._no_errors(page)

    def test_after_the_window_a_human_agent_reply_is_offered_with_its_own_countdown(self) -> None:
        from playwright.sync_api import expect

        SocialAccount.objects.filter(pk=self.page_a.pk).update(human_agent_enabled=True)
        conversation = self._conversation("Sofia Gialli", wrote_ago=DAY - timedelta(seconds=8))
        page = self._pane(conversation, viewport=LAPTOP)
        chip = page.locator(f"#conversation-header-{conversation.pk} .reply-window-chip")
        expect(chip.locator(".rw-text")).to_have_text("Closes in 1 min")
        expect(chip.locator(".rw-text")).to_have_text("Human agent: 6d left", timeout=25_000)
        expect(chip).to_have_class(re.compile("rw-human"))
        composer = page.locator(f"#composer-{conversation.pk}")
        expect(composer).to_have_attribute("data-state", "human_agent")
        expect(composer.locator(".composer-note")).to_contain_text("human agent message")
        self._shot(page, "reply-window-human-agent-laptop")
        self._no_errors(page)

    # --- the views --------------------------------------------------------------------------------------

    def test_needs_reply_and_expiring_soon_list_the_right_conversations(self) -> None:
        from playwright.sync_api import expect

        closing = self._conversation("Luca Neri", wrote_ago=timedelta(hours=23))
        waiting = self._conversation("Anna Blu", wrote_ago=timedelta(hours=1))
        answered = self._conversation("Marta Viola", wrote_ago=timedelta(hours=23, minutes=30), replied=True)
        resolved = self._conversation("Piero Rosa", wrote_ago=timedelta(hours=22, minutes=30), status="resolved")
        page = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        expect(page.locator(ROWS)).to_have_count(3)  # the open ones

        page.locator(".filter", has_text="Needs reply").click()
        expect(page.locator(".filter", has_text="Needs reply")).to_have_attribute("aria-current", "page")
        expect(page.locator(ROWS)).to_have_count(2)
        expect(page.locator(f"#conversation-{closing.pk}")).to_be_visible()
        expect(page.locator(f"#conversation-{waiting.pk}")).to_be_visible()
        expect(page.locator(f"#conversation-{answered.pk}")).to_have_count(0)
        assert "reply=needed" in page.url
        # A customer writes: live, their conversation joins the view.
        self._customer_writes("Do you deliver on Sundays?")
        expect(page.locator(ROWS)).to_have_count(3)
        self._shot(page, "reply-window-needs-reply-laptop")

        page.locator(".filter", has_text="Expiring soon").click()
        expect(page.locator(ROWS)).to_have_count(1)
        expect(page.locator(f"#conversation-{closing.pk}")).to_be_visible()
        expect(page.locator(".filter", has_text="Open")).not_to_have_class(re.compile("is-active"))
        # A new message opens a fresh 24 hours: the server keeps it out of this view, pushed or not.
        self._customer_writes("One more question")
        page.wait_for_timeout(2500)
        expect(page.locator(ROWS)).to_have_count(1)
        self._shot(page, "reply-window-expiring-laptop")

        # Nothing expiring once Luca is answered elsewhere: the view's own empty state.
        Conversation.objects.filter(pk=closing.pk).update(last_inbound_at=timezone.now() - timedelta(hours=30))
        page.reload()
        expect(page.locator("#conversation-results .empty-title")).to_have_text("No reply window closing soon")
        page.locator(".filter", has_text="Open").first.click()
        expect(page.locator(ROWS)).to_have_count(4)
        assert "reply=" not in page.url
        assert resolved.pk not in [
            int(i.split("-")[1]) for i in page.locator(ROWS).evaluate_all("rows => rows.map(r => r.id)")
        ]

        phone = self._open(self.staff_a, self.business_a, path="/inbox/?reply=needed", viewport=PHONE, phone=True)
        expect(phone.locator(ROWS)).to_have_count(3)
        self._shot(phone, "reply-window-needs-reply-phone")
        self._no_errors(page, phone)

    # --- mark read / unread -------------------------------------------------------------------------------

    def test_mark_read_and_mark_unread_buttons(self) -> None:
        from playwright.sync_api import expect

        conversation = self._conversation("Luca Neri", wrote_ago=timedelta(minutes=3), unread=1)
        page = self._pane(conversation, viewport=LAPTOP)
        header = page.locator(f"#conversation-header-{conversation.pk}")
        row = page.locator(f"#conversation-{conversation.pk}")
        # Opening it read it: the header offers to mark it unread.
        expect(header.get_by_role("button", name="Mark unread")).to_be_visible()
        header.get_by_role("button", name="Mark unread").click()
        expect(row).to_have_class(re.compile("is-unread"))
        expect(header.get_by_role("button", name="Mark read")).to_be_visible()
        assert Conversation.objects.get(pk=conversation.pk).unread_count > 0
        self._shot(page, "reply-window-mark-read-laptop")
        header.get_by_role("button", name="Mark read").click()
        expect(row).not_to_have_class(re.compile("is-unread"))
        expect(header.get_by_role("button", name="Mark unread")).to_be_visible()
        assert Conversation.objects.get(pk=conversation.pk).unread_count == 0
        self._no_errors(page)
