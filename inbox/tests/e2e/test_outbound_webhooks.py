"""Outbound webhooks settings in a real browser: an owner adds an endpoint on a phone, copies its secret
(shown once), reads the delivery log with each try on a laptop and replays a delivery, which a worker
of the stack picks up. Screenshots: artifacts/screenshots/webhooks-phone.png and webhooks-laptop.png.
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=... REDIS_URL=... scripts/browser_on_stack.sh -m e2e \\
        inbox/tests/e2e/test_outbound_webhooks.py
"""

from __future__ import annotations

import pytest

from inbox.tests.e2e import test_browser

pytestmark = pytest.mark.e2e

URL = "https://crm.example.com/hooks/bakery-rossi"
ATTEMPTS = [
    {"at": "2026-12-05T09:00:00+00:00", "status": 500, "error": "The endpoint answered 500.", "durationMs": 41},
    {"at": "2026-12-05T09:00:31+00:00", "status": 503, "error": "The endpoint answered 503.", "durationMs": 38},
]


@pytest.mark.e2e
class WebhooksInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def test_an_owner_adds_an_endpoint_on_a_phone_and_replays_a_delivery_on_a_laptop(self) -> None:
        from playwright.sync_api import expect

        from outbound.models import WebhookDelivery, WebhookEndpoint

        page = self._open(self.staff_a, self.business_a, path="/integrations/webhooks/",
                          viewport=test_browser.PHONE, phone=True, live=False)
        expect(page.locator("h1")).to_have_text("Webhooks")
        page.fill("input[name='url']", URL)
        page.check("input[value='message.created']")
        page.check("input[value='conversation.resolved']")
        page.click("button:has-text('Add endpoint')")
        secret = page.locator("#webhook-secret")
        expect(secret).to_contain_text("whsec_")
        shown = secret.inner_text().strip()
        self._shot(page, "webhooks-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= test_browser.PHONE["width"]
        endpoint = WebhookEndpoint.objects.get(business=self.business_a)
        assert endpoint.secret == shown and endpoint.url == URL
        assert sorted(endpoint.events) == ["conversation.resolved", "message.created"]

        failed = WebhookDelivery.objects.create(
            business=self.business_a, endpoint=endpoint, event="message.created", payload={"data": {}},
            state=WebhookDelivery.State.GIVEN_UP, attempts=2, attempts_log=ATTEMPTS, response_status=503,
        )
        page = self._open(self.staff_a, self.business_a, path=f"/integrations/webhooks/{endpoint.pk}/", live=False)
        expect(page.locator("#webhook-secret")).to_have_count(0)  # shown once only
        assert shown not in page.content()
        row = page.locator(f"#delivery-{failed.pk}")
        expect(row).to_contain_text("2 attempts")
        row.locator("summary").click()
        expect(row.locator("table.webhook-attempts tbody tr")).to_have_count(2)
        expect(row).to_contain_text("The endpoint answered 503.")
        self._shot(page, "webhooks-laptop")
        row.locator("button:has-text('Replay')").click()
        expect(page.locator(".flash")).to_contain_text("being sent again")
        replay = WebhookDelivery.objects.get(replay_of=failed)
        expect(page.locator(f"#delivery-{replay.pk}")).to_contain_text("Replay")
        assert replay.event_id == failed.event_id
        assert page.errors == []
