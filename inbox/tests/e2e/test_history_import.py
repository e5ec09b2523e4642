"""A page connected by clicking brings its earlier conversations: the card on /social/ shows the import's
progress bar until it is done, and the inbox lists the conversations. The harness is test_browser.py's;
run like the rest of the tier (see test_team_inbox.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from inbox.models import ChatMessage, Conversation, HistoryImport
from inbox.tests.e2e import stack, test_browser
from social.models import SocialAccount

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CATERING = "104857600234567"  # Rossi Catering: Marco Rossi's second sandbox page
EARLIER = 200


@pytest.mark.e2e
class HistoryImportInTheBrowserTests(test_browser.ConnectingInTheBrowserTests):
    # Connecting imports (the unit tests' settings turn that off).
    dialog_settings = {"INBOX_HISTORY_IMPORT_ON_CONNECT": True}

    def setUp(self) -> None:
        if stack.EXTERNAL:
            stack.delete_leftovers(page_ids=(CATERING,))
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        if stack.EXTERNAL:
            stack.delete_created(businesses=[], users=[], page_ids=(CATERING,))

    def _seed_earlier_conversations(self) -> None:
        if stack.EXTERNAL:
            response = stack._session().post(f"{self.sandbox_url}/sandbox/control/history", timeout=30,
                                             json={"page_id": CATERING, "conversations": EARLIER, "days": 20})
            response.raise_for_status()
        else:
            from sandbox.history import history_seed

            history_seed(page_id=CATERING, conversations=EARLIER, days=20)

    def test_connecting_a_page_shows_the_import_s_progress_and_then_its_conversations(self) -> None:
        self._seed_earlier_conversations()
        page = self._open(self.staff_a, self.business_a, path="/social/", live=False, viewport=LAPTOP)
        page.get_by_role("button", name="Connect Facebook").first.click()
        page.get_by_label("Marco Rossi").check()
        page.get_by_role("button", name="Continue").click()
        page.locator(f"input[name=pages][value='{test_browser.PAGE_A}']").uncheck()
        page.get_by_role("button", name=re.compile("^Continue as")).click()
        expect(page).to_have_url(re.compile(r"/social/connect/pages/$"))
        page.get_by_role("button", name="Connect selected").click()
        expect(page.locator(".flash-success")).to_contain_text("Connected: Rossi Catering")
        account = SocialAccount.objects.get(business=self.business_a, account_id=CATERING)

        # The card shows the import: its progress bar while it runs (polled every 2 s), then what it brought.
        card = page.locator(f"#account-{account.pk}")
        section = card.locator(f"#history-{account.pk}")
        expect(section).to_be_visible()
        section.scroll_into_view_if_needed()
        if HistoryImport.objects.filter(account=account, state__in=("queued", "running")).exists():
            expect(section.locator("progress")).to_be_visible()
            self._shot(page, "history-import-progress-laptop")
        expect(section).to_contain_text("History imported", timeout=120_000)
        expect(section.locator("progress")).to_have_count(0)
        self._shot(page, "history-import-done-laptop")
        history = HistoryImport.objects.get(account=account, kind=HistoryImport.Kind.IMPORT)
        self.assertGreaterEqual(history.conversations_done, EARLIER)
        self.assertEqual(Conversation.objects.filter(account=account, unread_count__gt=0).count(), 0)
        self.assertEqual(ChatMessage.objects.filter(account=account).count(), history.messages_imported)

        # The inbox lists them, newest first, on a laptop and on a phone.
        newest = Conversation.objects.filter(account=account).order_by("-last_message_at").first()
        inbox = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        expect(inbox.locator("#conversation-list")).to_contain_text(newest.last_message_preview[:20])
        phone = self._open(self.staff_a, self.business_a, path="/social/", viewport=PHONE, phone=True, live=False)
        expect(phone.locator(f"#history-{account.pk}")).to_contain_text("History imported")
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        self._shot(phone, "history-import-done-phone")
        assert [e for e in inbox.errors if not re.search(r"favicon", e)] == [], inbox.errors
        # The connect flow's pages show Meta's pictures of the Page, which the sandbox of the stack serves
        # from a plain-http address the CSP refuses; nothing else may fail there.
        for shown in (page, phone):
            others = [e for e in shown.errors if not re.search(r"favicon|Loading the image|Failed to load resource", e)]
            assert others == [], shown.errors
