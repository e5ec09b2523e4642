"""Presence, reply collisions and browser notifications, as two members of one business see them.

The harness (server or production stack, sandbox, staff, `_customer_writes`) is test_browser.py's.
Marco and Sara each have a browser context of their own, with the notifications permission granted;
an init script wraps `window.Notification` so what the page would show is recorded in the page.
Run like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_presence_alerts.py
"""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.test import Client

from accounts.middleware import SESSION_KEY
from inbox.models import ChatMessage, Conversation
from inbox.tests.e2e import stack, test_browser

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Wraps the browser's Notification: each one the page raises is recorded (and not shown).
RECORD_NOTIFICATIONS = """
(function () {
  var Real = window.Notification;
  window.__notifications = [];
  function Recorded(title, options) {
    window.__notifications.push({ title: title, body: (options && options.body) || '', tag: (options && options.tag) || '' });
    this.close = function () {};
  }
  Object.defineProperty(Recorded, 'permission', { get: function () { return Real ? Real.permission : 'granted'; } });
  Recorded.requestPermission = function (cb) { var p = Real ? Real.requestPermission() : Promise.resolve('granted'); if (cb) { p.then(cb); } return p; };
  window.Notification = Recorded;
})();
"""


@pytest.mark.e2e
class PresenceAndAlertsInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    """Marco (owner) and Sara (from the harness) of Bakery Rossi."""

    def _open_watched(self, user, business, *, path: str, phone: bool = False):
        """As `_open`, with notifications allowed and recorded."""
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = business.pk
        session.save()
        self._session_keys.append(session.session_key)
        context = self.browser.new_context(
            viewport=PHONE if phone else LAPTOP,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            ignore_https_errors=stack.EXTERNAL,
        )
        self.contexts.append(context)
        context.grant_permissions(["notifications"], origin=self.live_server_url)
        context.add_init_script(RECORD_NOTIFICATIONS)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": self.live_server_url,
                }
            ]
        )
        page = context.new_page()
        page.set_default_timeout(test_browser.TIMEOUT)
        page.errors = []
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(self.live_server_url + path)
        page.wait_for_selector("body[data-ws='open']", state="attached")
        return page

    def _presence_shot(self, page, name: str) -> None:
        page.screenshot(path=str(test_browser.SCREENSHOTS / f"presence-{name}.png"))

    @staticmethod
    def _notifications(page) -> list[dict]:
        return page.evaluate("window.__notifications")

    def test_presence_collision_and_notifications(self) -> None:
        from playwright.sync_api import expect

        self._customer_writes("Ciao! Is the torta della nonna ready for Saturday?")
        conversation = Conversation.objects.get(business=self.business_a)
        path = f"/inbox/c/{conversation.public_id}/"
        header = f"#conversation-header-{conversation.pk} [data-presence-activity]"

        # Sara has the conversation open; Marco opens it: she sees him within a second.
        sara = self._open_watched(self.staff_a2, self.business_a, path=path)
        marco = self._open_watched(self.staff_a, self.business_a, path=path)
        expect(sara.locator(header)).to_have_text("Marco Rossi is viewing", timeout=1000)
        expect(marco.locator(header)).to_have_text("Sara is viewing", timeout=1000)
        expect(sara.locator(f"#conversation-header-{conversation.pk} [data-presence-online] .avatar")).to_have_count(1)

        # Marco types a reply: Sara sees it within a second; he does not see himself anywhere.
        marco.locator(f"#reply-text-{conversation.pk}").press_sequentially("Yes, it is ready")
        expect(sara.locator(header)).to_have_text("Marco Rossi is typing a reply…", timeout=1000)
        expect(marco.locator(header)).not_to_contain_text("Marco")
        self._presence_shot(sara, "typing-laptop")
        sara_phone = self._open_watched(self.staff_a2, self.business_a, path=path, phone=True)
        marco.locator(f"#reply-text-{conversation.pk}").press_sequentially(" at 4pm.")
        expect(sara_phone.locator(header)).to_contain_text("Marco Rossi is typing", timeout=1000)
        self._presence_shot(sara_phone, "typing-phone")
        sara_phone.context.close()
        self.contexts.remove(sara_phone.context)

        # Sara answers first, while Marco is still writing: his send is held with a warning.
        sara_text = "Buongiorno! Yes, it is ready from 10am."
        sara_box = sara.locator(f"#reply-text-{conversation.pk}")
        sara_box.fill(sara_text)
        sara_box.press("Enter")
        expect(sara.locator("article.msg-outbound", has_text="ready from 10am")).to_be_visible()
        self._wait(lambda: ChatMessage.objects.filter(content=sara_text).exists(), "Sara's reply was never stored")
        marco.locator(f"#reply-text-{conversation.pk}").press("Enter")
        warning = marco.locator(f"#composer-{conversation.pk} [data-collision]")
        expect(warning).to_contain_text(re.compile(r"Sara replied \d+ s ago — read it, then send again"))
        expect(marco.locator(f"#reply-text-{conversation.pk}")).to_have_value("Yes, it is ready at 4pm.")
        assert not ChatMessage.objects.filter(content="Yes, it is ready at 4pm.").exists()
        self._presence_shot(marco, "collision-laptop")
        warning.get_by_role("button", name="Send anyway").click()
        expect(marco.locator("article.msg-outbound", has_text="ready at 4pm")).to_be_visible()
        expect(warning).to_have_count(0)
        self._wait(
            lambda: ChatMessage.objects.filter(content="Yes, it is ready at 4pm.").exists(),
            "Marco's confirmed reply was never stored",
        )

        # The conversation is Marco's now. A customer message in it while it is on his screen: nothing.
        Conversation.objects.filter(pk=conversation.pk).update(assignee=self.staff_a)
        self._customer_writes("Perfect, and without nuts?")
        expect(marco.locator(f"#messages-{conversation.pk}")).to_contain_text("without nuts")
        time.sleep(0.5)  # an alert would have come with the message
        assert self._notifications(marco) == []

        # Sara goes back to the list; Marco mentions her in a note: she is notified.
        sara.goto(self.live_server_url + "/inbox/")
        sara.wait_for_selector("body[data-ws='open']", state="attached")
        from inbox.services.notes import note_create

        self._off_the_loop(note_create, conversation=conversation, user=self.staff_a, text="@Sara can you box it?")
        self._wait(lambda: self._notifications(sara), "Sara was never notified of the mention")
        [note] = self._notifications(sara)
        assert note["title"] == "You were mentioned" and "can you box it?" in note["body"]

        # Marco leaves the conversation for the list: the next message in it does notify him.
        marco.goto(self.live_server_url + "/inbox/")
        marco.wait_for_selector("body[data-ws='open']", state="attached")
        expect(sara.locator("[data-presence-for]")).to_have_count(0)
        self._customer_writes("See you Saturday!")
        self._wait(lambda: self._notifications(marco), "Marco was never notified of the message")
        [alert] = self._notifications(marco)
        assert alert["body"] == "See you Saturday!"
        self._presence_shot(marco, "list-laptop")

        # Sara's socket closes: Marco's pages forget her at once.
        marco.goto(self.live_server_url + path)
        marco.wait_for_selector("body[data-ws='open']", state="attached")
        sara.goto(self.live_server_url + path)
        expect(marco.locator(header)).to_have_text("Sara is viewing", timeout=2000)
        sara.context.close()
        self.contexts.remove(sara.context)
        expect(marco.locator(header)).to_be_hidden(timeout=2000)
        # The held reply is a 422 by design (the composer comes back with the warning); nothing else failed.
        unexpected = [e for e in marco.errors if "422" not in e]
        assert unexpected == [], unexpected

    def test_notification_choices_and_the_inbox_prompt(self) -> None:
        from playwright.sync_api import expect

        from accounts.models import Membership

        # No permission asked yet: the inbox offers it, quietly; "Not now" is remembered.
        marco = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        prompt = marco.locator(".alert-prompt")
        expect(prompt.get_by_role("button", name="Turn on desktop notifications")).to_be_visible()
        self._presence_shot(marco, "prompt-laptop")
        prompt.get_by_role("button", name="Not now").click()
        expect(prompt).to_have_count(0)
        marco.reload()
        marco.wait_for_selector("body[data-ws='open']", state="attached")
        expect(marco.locator(".alert-prompt")).to_have_count(0)

        # The profile page: the choices for this business, saved in place.
        marco.goto(self.live_server_url + "/profile/")
        section = marco.locator("#alert-preferences")
        expect(section.get_by_role("button", name="Turn on desktop notifications")).to_be_visible()
        section.get_by_label("New conversations").uncheck()
        section.get_by_label("Play a short sound").check()
        section.get_by_role("button", name="Save notifications").click()
        expect(marco.locator("#alert-preferences .alert-prefs-saved")).to_have_text("Saved.")
        choices = Membership.objects.values_list("notify_new_conversations", "notify_sound").get(
            user=self.staff_a, business=self.business_a
        )
        assert choices == (False, True)
        expect(marco.locator("#alert-preferences").get_by_label("Play a short sound")).to_be_checked()
        self._presence_shot(marco, "preferences-laptop")
        phone = self._open(self.staff_a, self.business_a, path="/profile/", phone=True, viewport=PHONE, live=False)
        phone.locator("#alert-preferences").scroll_into_view_if_needed()
        self._presence_shot(phone, "preferences-phone")
        assert marco.errors == [] and phone.errors == []

    @staticmethod
    def _wait(condition, message: str) -> None:
        deadline = time.monotonic() + test_browser.TIMEOUT / 1000
        while not condition():
            assert time.monotonic() < deadline, message
            time.sleep(0.05)
