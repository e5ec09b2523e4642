"""Reports in a real browser: every chart drawn by Chart.js and every table filled for a business with data,
readable on a phone, a CSV downloaded, and another business's figures never shown.

The harness (server or production stack, staff, `_open`) is test_browser.py's, inherited. The rollups
are built by the same service the periodic task runs, from the test process, whose database is the
server's (or the stack's). Screenshots: artifacts/screenshots/reports-laptop.png and reports-phone.png.
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_reports.py
"""

from __future__ import annotations

import csv
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from inbox.models import ChatMessage
from inbox.reports.rollup import reports_rollup
from inbox.services.conversations import conversations_set_status
from inbox.tests.e2e import test_browser
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CHARTS = ("conversations", "messages", "times", "agents", "misses")
CUSTOMERS = ("Giulia Bianchi", "Luca Ferri", "Anna Neri", "Marta Gallo", "Piero Sala", "Elena Riva", "Davide Conti")


@pytest.mark.e2e
class ReportsInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    """Marco owns Bakery Rossi and reads its reports; Sara is an agent there; Olga owns Other Shop."""

    def setUp(self) -> None:
        super().setUp()
        Membership.objects.filter(business=self.business_a, user=self.staff_a2).update(role=Membership.Role.AGENT)

    # --- data ------------------------------------------------------------------------------------------

    def _thread(self, page, name: str, *, days_ago: float, answer_minutes: float | None, by, resolve_by=None):
        start = timezone.now() - timedelta(days=days_ago)
        conversation = ConversationFactory(
            contact=ContactFactory(account=page, name=name), last_message_at=start, last_inbound_at=start
        )
        ChatMessageFactory(conversation=conversation, content="Hello, is the cake ready?", timestamp=start)
        if answer_minutes is not None:
            ChatMessageFactory(
                conversation=conversation,
                direction=ChatMessage.Direction.OUTBOUND,
                source=ChatMessage.Source.INBOX,
                status=ChatMessage.Status.SENT,
                sent_by=by,
                content="Yes, ready at five.",
                timestamp=start + timedelta(minutes=answer_minutes),
            )
            ChatMessageFactory(
                conversation=conversation, content="Thanks!", timestamp=start + timedelta(minutes=answer_minutes + 3)
            )
        if resolve_by is not None:
            # As staff resolve it (audit row, push); off Playwright's event loop, as a request would run it.
            worker = threading.Thread(
                target=conversations_set_status,
                kwargs={
                    "business": page.business,
                    "user": resolve_by,
                    "conversation_ids": [conversation.pk],
                    "status": "resolved",
                },
            )
            worker.start()
            worker.join()
        return conversation

    def _data(self) -> None:
        for index, name in enumerate(CUSTOMERS):
            by = self.staff_a if index % 3 else self.staff_a2
            self._thread(
                self.page_a,
                name,
                days_ago=0.2 + index * 0.9,
                answer_minutes=4 + index * 7,
                by=by,
                resolve_by=self.staff_a if index % 2 == 0 else None,
            )
        self._thread(self.page_a, "Silvia Moro", days_ago=2, answer_minutes=None, by=None)  # a missed window
        # Other Shop is busier, and its figures must never show on Bakery Rossi's reports.
        for index in range(9):
            self._thread(
                self.page_b,
                f"Olga's customer {index}",
                days_ago=0.3 + index * 0.4,
                answer_minutes=1,
                by=self.staff_b,
                resolve_by=self.staff_b,
            )
        reports_rollup(settle=timedelta(0))

    @staticmethod
    def _reports_text(page) -> str:
        return "\n".join(page.locator("section.report, .report-totals, .report-filters").all_inner_texts())

    # --- tests -----------------------------------------------------------------------------------------

    def test_every_report_renders_with_its_numbers_on_a_laptop_and_a_phone(self) -> None:
        from playwright.sync_api import expect

        self._data()
        for name, viewport, phone in (("laptop", LAPTOP, False), ("phone", PHONE, True)):
            page = self._open(
                self.staff_a,
                self.business_a,
                path="/inbox/reports/?period=7d",
                viewport=viewport,
                phone=phone,
                live=False,
            )
            expect(page.locator("h1")).to_have_text("Reports")
            for slug in CHARTS:
                expect(page.locator(f"canvas[data-chart='{slug}']")).to_have_attribute("data-drawn", "true")
                expect(page.locator(f"#report-{slug} table")).to_be_visible()
            expect(page.locator("#report-hours table.heat")).to_be_visible()
            totals = page.locator(".report-totals")
            expect(totals.locator(".stat").nth(0)).to_contain_text("8")  # opened: seven answered, one missed
            expect(totals.locator(".stat").nth(1)).to_contain_text("4")  # resolved
            # Windows closed unanswered: Silvia's, and three whose customer's "Thanks!" was left open.
            expect(totals.locator(".stat").nth(4)).to_contain_text("4")
            expect(page.locator("#report-agents table")).to_contain_text("Marco Rossi")
            expect(page.locator("#report-agents table")).to_contain_text("Sara")
            expect(page.locator("#report-times table")).to_contain_text("First response")
            body = self._reports_text(page)
            assert self.staff_b.display_name not in body and "Other Shop" not in body
            if phone:
                # Readable on a phone: nothing wider than the screen but the heat map, which scrolls in its box.
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], width
                chart = page.locator("canvas[data-chart='messages']").bounding_box()
                assert chart is not None and chart["width"] > 300
            # The whole page on a laptop; on a phone the first screen, then the response times further down.
            page.screenshot(path=str(test_browser.SCREENSHOTS / f"reports-{name}.png"), full_page=not phone)
            if phone:
                page.locator("#report-times").scroll_into_view_if_needed()
                page.screenshot(path=str(test_browser.SCREENSHOTS / "reports-phone-times.png"))
            assert page.errors == [], page.errors

    def test_a_report_downloads_as_csv_with_this_business_s_figures_only(self) -> None:
        self._data()
        page = self._open(self.staff_a, self.business_a, path="/inbox/reports/?period=30d", live=False)
        with page.expect_download() as download_info:
            page.locator("#report-agents a[download]").click()
        download = download_info.value
        assert download.suggested_filename.startswith("agents-")
        with open(download.path(), encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
        assert rows[0] == ["Agent", "Replies"]
        assert {row[0] for row in rows[1:]} == {"Marco Rossi", "Sara"}
        assert sum(int(row[1]) for row in rows[1:]) == 7

    def test_another_business_sees_its_own_figures_and_an_agent_is_refused(self) -> None:
        from playwright.sync_api import expect

        self._data()
        page = self._open(self.staff_b, self.business_b, path="/inbox/reports/?period=7d", live=False)
        totals = page.locator(".report-totals")
        expect(totals.locator(".stat").nth(0)).to_contain_text("9")
        body = self._reports_text(page)
        assert self.staff_b.display_name in body  # her own replies
        for name in ("Marco Rossi", "Sara", "Bakery Rossi"):
            assert name not in body, name
        # Bakery Rossi's page in the filter is not one of Other Shop's: refused, nothing shown.
        page.goto(f"{self.live_server_url}/inbox/reports/?page={self.page_a.public_id}")
        expect(page.locator(".report-errors")).to_be_visible()
        assert page.locator(".report-totals").count() == 0
        agent = self._open(self.staff_a2, self.business_a, path="/inbox/reports/", live=False)
        assert "Reports" not in agent.locator("h1").first.inner_text()
        response = agent.request.get(f"{self.live_server_url}/inbox/reports/export/?report=agents")
        assert response.status == 403


# Only this file's tests run here; the inherited ones run in test_browser.py.
for _name in dir(test_browser.InboxInTheBrowserTests):
    if _name.startswith("test_") and _name not in ReportsInTheBrowserTests.__dict__:
        setattr(ReportsInTheBrowserTests, _name, None)
