"""A stale tab never eats a draft, and the unread badges equal the list, in a real browser.

Failed htmx requests (an ended session, a tab left on another business) show a notice and swap
nothing (config/htmx_errors.py, static/js/inbox.js); the reply typed is kept in the composer and
comes back after signing in. Badges come from one source and follow every action.

Uses the harness of test_browser.py (a live server, Chromium, the sandbox); the test bodies need
only `self.live_server_url`, `self._open(user, business)` and `self._customer_writes(text)`.
Run alone, on PostgreSQL (+ Redis):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test_inbox REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_drafts.py -p no:cacheprovider
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Conversation
from inbox.tests.e2e import test_browser as harness
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"  # accounts.tests.factories.UserFactory's
REPLY = "Yes, the torta is ready at 4pm. See you then!"
# What the browser logs for the refused requests these tests make on purpose.
EXPECTED_ERRORS = re.compile(r"status of 40[139]|Response Status Error Code 40[139]")


def _draft_key(conversation: Conversation) -> str:
    return f"inbox:draft:{conversation.pk}"


@pytest.mark.e2e
class DraftsAndBadgesInTheBrowserTests(harness.InboxInTheBrowserTests):
    # --- helpers -------------------------------------------------------------------------------------

    def _open_quiet(self, user, business, *, path: str = "/inbox/", **kwargs):
        """A page whose socket is open but hears nothing: only the htmx answers change it.

        The failures here are the htmx path's to handle; the socket's own ending of access is
        test_access_live.py's. Muting it also proves the answers alone keep the page right.
        """
        page = self._open(user, business, path=path, live=False, **kwargs)
        page.route_web_socket(re.compile(r"/ws/"), lambda ws: None)
        page.reload()
        page.wait_for_selector("body[data-ws='open']", state="attached")
        return page

    def _end_session(self, page) -> None:
        key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
        deleted, _ = Session.objects.filter(session_key=key).delete()
        assert deleted == 1

    def _unexpected_errors(self, page) -> list[str]:
        return [e for e in page.errors if not EXPECTED_ERRORS.search(e)]

    def _type_reply(self, page, conversation: Conversation, text: str):
        composer = page.locator(f"#reply-text-{conversation.pk}")
        composer.fill(text)
        return composer

    # --- an ended session ----------------------------------------------------------------------------

    def test_a_reply_sent_after_the_session_ended_is_kept_and_comes_back_after_sign_in(self) -> None:
        from playwright.sync_api import expect

        self._customer_writes("Ciao! Is the torta della nonna ready for Saturday?")
        conversation = Conversation.objects.get(business=self.business_a)
        detail = f"/inbox/c/{conversation.public_id}/"
        page = self._open_quiet(self.staff_a, self.business_a, path=detail)
        expect(page.locator(f"#messages-{conversation.pk}")).to_contain_text("torta della nonna")
        composer = self._type_reply(page, conversation, REPLY)

        self._end_session(page)
        page.locator(f"#composer-reply-{conversation.pk} button[type=submit]").click()

        notice = page.locator("#notice-area [data-notice='signed_out']")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("You were signed out")
        sign_in = notice.get_by_role("link", name="Sign in")
        next_url = parse_qs(urlsplit(sign_in.get_attribute("href")).query)["next"][0]
        assert next_url == detail
        # Nothing was swapped: the conversation and the typed reply are where they were.
        expect(composer).to_have_value(REPLY)
        expect(page.locator(f"#conversation-pane[data-conversation='{conversation.pk}']")).to_be_visible()
        assert page.locator("input[type=password]").count() == 0
        assert page.locator("header.topbar").count() == 1
        assert page.url.endswith(detail)
        assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()
        self._shot(page, "drafts-signed-out-notice-laptop")

        # Sign in from the notice: back on the conversation, with the reply in the composer.
        sign_in.click()
        page.locator("input[name=login]").fill(self.staff_a.email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("input[name=password]").press("Enter")
        expect(page).to_have_url(re.compile(rf"{re.escape(detail)}$"))
        composer = page.locator(f"#reply-text-{conversation.pk}")
        expect(composer).to_have_value(REPLY)
        self._shot(page, "drafts-restored-after-sign-in")

        # Sent and accepted: the reply is in the conversation and the draft is gone.
        page.locator(f"#composer-reply-{conversation.pk} button[type=submit]").click()
        expect(page.locator("article.msg-outbound", has_text="ready at 4pm")).to_be_visible()
        expect(composer).to_have_value("")
        assert page.evaluate(f"sessionStorage.getItem('{_draft_key(conversation)}')") is None
        expect(page.locator("#notice-area")).to_be_hidden()
        assert ChatMessage.objects.filter(conversation=conversation, direction="outbound", content=REPLY).count() == 1
        page.reload()
        expect(page.locator(f"#reply-text-{conversation.pk}")).to_have_value("")
        assert self._unexpected_errors(page) == [], page.errors

    def test_a_draft_survives_a_reload(self) -> None:
        from playwright.sync_api import expect

        conversation = ConversationFactory(contact=ContactFactory(account=self.page_a, name="Luca Neri"))
        ChatMessageFactory(conversation=conversation, content="Hello", is_read=True)
        other = ConversationFactory(contact=ContactFactory(account=self.page_a, name="Marta Bakes"))
        page = self._open_quiet(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/")
        self._type_reply(page, conversation, "Half a thought")
        page.reload()
        expect(page.locator(f"#reply-text-{conversation.pk}")).to_have_value("Half a thought")
        # Another conversation's composer does not get it; coming back to this one does.
        page.locator(f"#conversation-{other.pk} a").click()
        expect(page.locator(f"#reply-text-{other.pk}")).to_have_value("")
        page.locator(f"#conversation-{conversation.pk} a").click()
        expect(page.locator(f"#reply-text-{conversation.pk}")).to_have_value("Half a thought")
        # Logging out on purpose forgets the tab's drafts: the next person here must not find them.
        page.locator("form.logout button").click()
        expect(page.locator("input[name=password]")).to_be_visible()
        assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('inbox:draft:'))") == []
        assert self._unexpected_errors(page) == [], page.errors

    def test_the_notice_on_a_phone(self) -> None:
        from playwright.sync_api import expect

        conversation = ConversationFactory(contact=ContactFactory(account=self.page_a, name="Giulia Bianchi"))
        now = timezone.now()
        for minutes, text in ((9, "Ciao! Do you make birthday cakes?"), (8, "Something for 12 people."),
                              (2, "Is the shop open on Sunday?")):
            ChatMessageFactory(conversation=conversation, content=text, is_read=True,
                               timestamp=now - timedelta(minutes=minutes))
        page = self._open_quiet(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/",
                                viewport=harness.PHONE, phone=True)
        composer = self._type_reply(page, conversation, "We open at 9 on Sunday.")
        self._end_session(page)
        composer.press("Enter")
        notice = page.locator("#notice-area [data-notice='signed_out']")
        expect(notice).to_be_visible()
        expect(composer).to_have_value("We open at 9 on Sunday.")
        box = notice.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= harness.PHONE["width"]
        self._shot(page, "drafts-signed-out-notice-phone")
        notice.get_by_role("button", name="Dismiss").click()
        expect(page.locator("#notice-area")).to_be_hidden()
        expect(composer).to_have_value("We open at 9 on Sunday.")
        assert self._unexpected_errors(page) == [], page.errors

    # --- a business switched in another tab ---------------------------------------------------------

    def test_a_tab_left_on_another_business_shows_a_notice_and_swaps_nothing(self) -> None:
        from playwright.sync_api import expect

        MembershipFactory(business=self.business_b, user=self.staff_a)
        first = ConversationFactory(contact=ContactFactory(account=self.page_a, name="Elena Greco"))
        ChatMessageFactory(conversation=first, content="Can I change my order?", is_read=True)
        second = ConversationFactory(contact=ContactFactory(account=self.page_a, name="Tom Baker"))
        ChatMessageFactory(conversation=second, content="Thanks!", is_read=True)
        detail = f"/inbox/c/{first.public_id}/"
        page = self._open_quiet(self.staff_a, self.business_a, path=detail)
        composer = self._type_reply(page, first, "Of course, 12 cupcakes it is.")

        other_tab = page.context.new_page()
        other_tab.goto(self.live_server_url + "/businesses/")
        other_tab.locator("tr", has_text="Other Shop").get_by_role("button", name="Switch").click()
        expect(other_tab).to_have_url(re.compile(r"/inbox/$"))

        # Replying from the stale tab: refused before anything is written, the text stays.
        page.locator(f"#composer-reply-{first.pk} button[type=submit]").click()
        notice = page.locator("#notice-area [data-notice='switched']")
        expect(notice).to_contain_text("You switched to Other Shop in another tab")
        expect(composer).to_have_value("Of course, 12 cupcakes it is.")
        assert not ChatMessage.objects.filter(conversation=first, direction="outbound").exists()

        # Clicking another conversation: the notice again, and the pane is not replaced.
        page.locator("#notice-area [data-notice-close]").click()
        page.locator(f"#conversation-{second.pk} a").click()
        expect(notice).to_be_visible()
        expect(page.locator(f"#conversation-pane[data-conversation='{first.pk}']")).to_be_visible()
        assert page.url.endswith(detail)
        assert page.locator("header.topbar").count() == 1
        assert "Page not found" not in page.content()
        self._shot(page, "drafts-switched-business-notice-laptop")
        assert self._unexpected_errors(page) == [], page.errors

    # --- badges --------------------------------------------------------------------------------------

    def test_badges_equal_the_list_after_resolve_and_unread(self) -> None:
        from playwright.sync_api import expect

        conversations = []
        for name in ("Elena Greco", "Sofia Russo", "Paolo Conti"):
            conversation = ConversationFactory(contact=ContactFactory(account=self.page_a, name=name), unread_count=1,
                                               last_message_preview=f"Hello from {name}")
            ChatMessageFactory(conversation=conversation, content=f"Hello from {name}", is_read=False)
            conversations.append(conversation)
        page = self._open(self.staff_a, self.business_a)
        total = page.locator("#unread-total")
        open_unread_rows = page.locator("#conversation-list > li.is-unread[data-status='open']")

        def badges_equal_the_list(n: int) -> None:
            if n:
                expect(total).to_have_attribute("data-count", str(n))
                expect(page.locator("#unread-filter-count")).to_have_text(str(n))
                expect(page.locator(f"#unread-account-{self.page_a.pk}")).to_have_text(str(n))
                expect(page).to_have_title(re.compile(rf"^\({n}\) "))
            else:
                expect(total).to_be_hidden()
            expect(open_unread_rows).to_have_count(n)

        badges_equal_the_list(3)
        target = conversations[0]
        page.locator(f"#conversation-{target.pk} a").click()
        badges_equal_the_list(2)
        page.get_by_role("button", name="Mark unread").click()
        badges_equal_the_list(3)
        page.get_by_role("button", name="Resolve").click()
        expect(page.locator(f"#conversation-header-{target.pk}")).to_contain_text("Resolved")
        badges_equal_the_list(2)  # a resolved conversation is not in the Unread list, nor in the badge
        page.get_by_role("button", name="Reopen").click()
        badges_equal_the_list(3)
        page.get_by_role("button", name="Resolve").click()
        badges_equal_the_list(2)
        page.locator(".filter", has_text="Unread").click()
        expect(page.locator("#conversation-list > li[data-live='row']")).to_have_count(2)
        badges_equal_the_list(2)
        self._shot(page, "drafts-badges-equal-the-list")

        # Without any push, the answers alone keep the badges right (opening reads it).
        quiet = self._open_quiet(self.staff_a, self.business_a)
        expect(quiet.locator("#unread-total")).to_have_attribute("data-count", "2")
        quiet.locator(f"#conversation-{conversations[1].pk} a").click()
        expect(quiet.locator(f"#conversation-{conversations[1].pk}")).not_to_have_class(re.compile("is-unread"))
        expect(quiet.locator("#unread-total")).to_have_attribute("data-count", "1")
        expect(quiet.locator("#unread-filter-count")).to_have_text("1")
        expect(quiet).to_have_title(re.compile(r"^\(1\) "))
        assert page.errors == [] and quiet.errors == [], (page.errors, quiet.errors)
