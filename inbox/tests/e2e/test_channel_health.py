"""Channel health in a real browser: the events chart, a failed event replayed once by the owner, and another
business's page out of reach. The harness (server or production stack, sandbox, staff, `_open`) is
test_browser.py's, inherited; run like the rest of the tier (see test_team_inbox.py)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from inbox.models import ChatMessage, WebhookEvent
from inbox.tests.e2e import test_browser

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.mark.e2e
class ChannelHealthInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def _failed_event(self, text: str) -> WebhookEvent:
        """An event for Bakery Rossi's page that failed when it arrived (as with the database down)."""
        from sandbox import payloads

        item = payloads.text_message(page_id=test_browser.PAGE_A, psid=test_browser.PSID, text=text)
        body = payloads.encode(
            payloads.envelope(object_type="page", entries=[payloads.entry(account_id=test_browser.PAGE_A, events=[item])])
        )
        return WebhookEvent.objects.create(
            body=body, state=WebhookEvent.State.FAILED, object_type="page", attempts=3,
            last_error="OperationalError: the database was unavailable", account_ids=[test_browser.PAGE_A],
        )

    def test_the_owner_sees_the_chart_and_replays_a_failed_event_once(self) -> None:
        from playwright.sync_api import expect

        text = f"Did my order go through? {uuid.uuid4().hex[:6]}"
        event = self._failed_event(text)
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/pages/{self.page_a.public_id}/health/", live=False)
        expect(page.locator("h1")).to_contain_text("Bakery Rossi")
        drawn = page.evaluate("() => !!(window.Chart && Chart.getChart(document.getElementById('events-chart')))")
        assert drawn, f"the events chart was not drawn ({page.errors})"
        row = page.locator(f"#event-{event.pk}")
        expect(row).to_contain_text("the database was unavailable")
        self._shot(page, "channel-health-laptop")

        row.get_by_role("button", name="Replay").click()
        expect(page.locator(".flash")).to_contain_text(f"Event {event.pk} is being applied again")
        self._wait_until(
            lambda: WebhookEvent.objects.filter(pk=event.pk, state=WebhookEvent.State.PROCESSED).exists(),
            "The replayed event was never processed",
        )
        page.reload()
        expect(page.locator(f"#event-{event.pk}")).to_have_count(0)
        inbox = self._open(self.staff_a, self.business_a)
        expect(inbox.locator("#conversation-list")).to_contain_text(text[:20])
        assert ChatMessage.objects.filter(account=self.page_a, content=text).count() == 1
        self._no_errors(page, inbox)

    def test_a_message_shown_live_counts_towards_the_pages_speed(self) -> None:
        from playwright.sync_api import expect

        inbox = self._open(self.staff_a, self.business_a)
        text = f"How long did this take? {uuid.uuid4().hex[:6]}"
        self._customer_writes(text)
        expect(inbox.locator("#conversation-list")).to_contain_text(text[:20])
        inbox.locator("#conversation-list .conv-link").first.click()
        expect(inbox.locator(".messages")).to_contain_text(text)
        # The page acknowledged the pushed message (at most a second later): the health page shows a figure.
        health = self._open(self.staff_a, self.business_a, path=f"/inbox/pages/{self.page_a.public_id}/health/", live=False)
        screen = health.locator(".health-latency dd").nth(2)
        deadline = time.monotonic() + 10
        while "median" not in screen.inner_text() and time.monotonic() < deadline:
            time.sleep(0.5)
            health.reload()
            screen = health.locator(".health-latency dd").nth(2)
        expect(screen).to_contain_text("median")
        expect(health.locator(".health-latency dd").nth(0)).to_contain_text("median")
        self._no_errors(inbox, health)

    def test_another_business_never_sees_this_page(self) -> None:
        from playwright.sync_api import expect

        event = self._failed_event("Secret order for Bakery Rossi")
        other = self._open(self.staff_b, self.business_b, path=f"/inbox/pages/{self.page_a.public_id}/health/", live=False)
        assert "Secret order" not in other.content()
        expect(other.locator("body")).not_to_contain_text("Bakery Rossi")
        own = self._open(self.staff_b, self.business_b, path=f"/inbox/pages/{self.page_b.public_id}/health/", live=False)
        expect(own.locator("h1")).to_contain_text("Other Shop")
        expect(own.locator(f"#event-{event.pk}")).to_have_count(0)
        expect(own.locator("body")).not_to_contain_text("database was unavailable")

    def test_channel_health_on_a_phone(self) -> None:
        from playwright.sync_api import expect

        self._failed_event("Phone-sized failure")
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/pages/{self.page_a.public_id}/health/", live=False,
                          viewport=PHONE, phone=True)
        expect(page.get_by_role("button", name="Replay").first).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        self._shot(page, "channel-health-phone")

    def _no_errors(self, *pages) -> None:
        for page in pages:
            assert [e for e in page.errors if not re.search(r"favicon", e)] == [], page.errors
