"""The team inbox in a real browser: assignment, private notes with @mentions, saved replies,
snooze, labels and bulk actions, as two or three members of one business see them at once.

The harness (server or production stack, sandbox, staff, `_open`, `_customer_writes`) is
test_browser.py's, inherited. Each test asserts what a member sees, with
Playwright's auto-waiting `expect()`; what reaches Meta is read from the sandbox's Send API log.
Run like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_team_inbox.py

Waking a snoozed conversation at its time is the periodic task's job (every minute, Celery beat);
the test runs the same service with the clock a moment past the snooze (`now=`), from the test
process, whose database and channel layer are the server's (forked) or the stack's (E2E_STACK_URL).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import ChatMessage, Contact, Conversation, Label, SavedReply
from inbox.tests.e2e import stack, test_browser
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ROWS = "#conversation-list > li[data-live='row']"
BULK_COUNT = 50


@pytest.mark.e2e
class TeamInboxInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    """Sara and Paola are agents of Bakery Rossi; Marco (from the harness) is its owner."""

    def setUp(self) -> None:
        super().setUp()
        tag = stack.run_tag() if stack.EXTERNAL else ""
        Membership.objects.filter(business=self.business_a, user=self.staff_a2).update(role=Membership.Role.AGENT)
        self.sara = self.staff_a2
        self.paola = MembershipFactory(
            business=self.business_a,
            role=Membership.Role.AGENT,
            user__email=self._email("paola@bakery.example", tag),
            user__name="Paola Verdi",
        ).user

    def tearDown(self) -> None:
        super().tearDown()
        if stack.EXTERNAL:
            stack.delete_created(businesses=[], users=[self.paola])

    # --- helpers -------------------------------------------------------------------------------------

    def _conversation(self, name: str, text: str, *, minutes_ago: int = 1) -> Conversation:
        """A conversation made in the database (no webhook): enough where nothing is sent to Meta."""
        at = timezone.now() - timedelta(minutes=minutes_ago)
        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, name=name),
            last_message_preview=text,
            last_message_at=at,
            last_inbound_at=at,
        )
        ChatMessageFactory(conversation=conversation, content=text, is_read=True, timestamp=at)
        return conversation

    def _customer_conversation(self, text: str) -> Conversation:
        """Giulia writes through the signed webhook (the reply window opens); her profile is looked up."""
        self._customer_writes(text)
        conversation = Conversation.objects.get(business=self.business_a, contact__external_id=test_browser.PSID)
        self._wait_until(
            lambda: Contact.objects.filter(pk=conversation.contact_id, name="Giulia Bianchi").exists(),
            "the sandbox customer's profile was never stored",
        )
        return conversation

    def _sent_calls(self, after_id: int = 0) -> list[dict]:
        """The Send API calls the sandbox accepted for Bakery Rossi's page after the call `after_id` (its
        log answers a page at a time). On the stack that log outlives the tests: compare from a mark."""
        calls: list[dict] = []
        while True:
            data = requests.get(
                f"{self.sandbox_url}/sandbox/control/sent.json",
                timeout=5,
                params={"page_id": test_browser.PAGE_A, "after_id": calls[-1]["id"] if calls else after_id},
            ).json()["data"]
            if not data:
                return calls
            calls += data

    def _sent_mark(self) -> int:
        calls = self._sent_calls()
        return calls[-1]["id"] if calls else 0

    def _sent_texts(self, *, after_id: int) -> list[str]:
        """The texts of the messages sent (sender actions such as mark_seen carry none)."""
        return [c["body"]["message"].get("text", "") for c in self._sent_calls(after_id) if c["body"].get("message")]

    def _wait_sent(self, text: str, *, after_id: int) -> dict:
        found: list[dict] = []

        def arrived() -> bool:
            found[:] = [c for c in self._sent_calls(after_id) if (c["body"].get("message") or {}).get("text") == text]
            return bool(found)

        self._wait_until(arrived, f"The sandbox never received {text!r}")
        return found[0]

    def _detail(self, user, conversation: Conversation, **kwargs):
        """A conversation page, once it has settled. A live update of the conversation replaces its header,
        closing a menu opened meanwhile; and when the socket opens the page fetches what it may have
        missed (static/js/inbox.js, catchUpMessages), whose header always differs from the page's (it has
        no CSRF inputs), so it replaces the header once, a moment after the page has loaded."""
        page = self._open(user, self.business_a, path=f"/inbox/c/{conversation.public_id}/", live=False, **kwargs)
        # Opening it marks it read, and that change is pushed to every screen: let it land before the reload.
        page.wait_for_load_state("networkidle")
        with page.expect_response(lambda response: "/messages/?after=" in response.url) as caught:
            page.reload()
        caught.value.finished()
        page.wait_for_selector("body[data-ws='open']", state="attached")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))")
        return page

    def _no_errors(self, *pages) -> None:
        for page in pages:
            assert page.errors == [], page.errors

    # --- 1. assignment -------------------------------------------------------------------------------

    def test_assigning_shows_live_in_the_assignees_mine_view_with_a_notification(self) -> None:
        from playwright.sync_api import expect

        conversation = self._conversation("Luca Neri", "Can I order a cake for Sunday?")
        self._conversation("Anna Blu", "Are you open today?", minutes_ago=5)
        paola = self._open(self.paola, self.business_a, path="/inbox/?assignee=me")
        expect(paola.locator(".filter", has_text="Mine")).to_have_class(re.compile("is-active"))
        expect(paola.locator(ROWS)).to_have_count(0)
        expect(paola.locator("#assigned-mine-count")).to_be_hidden()
        expect(paola.locator("#notification-bell .bell-count")).to_be_hidden()
        sara = self._detail(self.sara, conversation)
        header = sara.locator(f"#conversation-header-{conversation.pk}")
        expect(header.locator(".assign-current")).to_contain_text("Unassigned")

        # Sara picks Paola in the header's assignment form, from the keyboard.
        header.locator(".assign-picker > summary").press("Enter")
        who = sara.get_by_label("Assign to")
        who.fill("Paola Verdi")
        who.press("Enter")

        expect(header.locator(".assign-name")).to_have_text("Paola Verdi")
        row = paola.locator(f"#conversation-{conversation.pk}")
        expect(row).to_be_visible()
        expect(row).to_contain_text("Luca Neri")
        expect(paola.locator(ROWS)).to_have_count(1)  # Anna's unassigned conversation stays out of Mine
        expect(paola.locator("#assigned-mine-count")).to_have_text("1")
        expect(paola.locator("#notification-bell .bell-count")).to_have_text("1")
        expect(paola.locator("#notification-bell")).to_have_attribute("aria-label", re.compile("1 unread"))
        self._shot(paola, "team-assigned-mine-live")
        conversation.refresh_from_db()
        assert conversation.assignee_id == self.paola.pk
        # "Assign to me" is offered to Sara, for whom it would change something, and not to Paola.
        expect(header.locator(".assign-me button")).to_be_visible()
        paola_header = self._detail(self.paola, conversation).locator(f"#conversation-header-{conversation.pk}")
        expect(paola_header.locator(".assign-name")).to_have_text("Paola Verdi")
        expect(paola_header.locator(".assign-me")).to_be_hidden()
        self._no_errors(paola, sara)

    # --- 2. private note with a mention ------------------------------------------------------------

    def test_a_note_mentions_a_teammate_and_never_reaches_the_customer(self) -> None:
        from playwright.sync_api import expect

        conversation = self._customer_conversation("Is the shop open on Sunday morning?")
        sara = self._detail(self.sara, conversation)
        paola = self._detail(self.paola, conversation)

        mark = self._sent_mark()
        sara.get_by_role("tab", name="Private note").click()
        note = sara.locator(f"#note-text-{conversation.pk}")
        expect(note).to_be_focused()
        note.press_sequentially("@pao")
        option = sara.locator(f"#mention-list-{conversation.pk} [role='option']", has_text="Paola Verdi")
        expect(option).to_have_attribute("aria-selected", "true")
        expect(note).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
        note.press("Enter")  # picks the highlighted teammate, does not send
        expect(note).to_have_value("@Paola Verdi ")
        note.press_sequentially("can you check the Sunday opening hours?")
        note.press("Enter")

        text = "@Paola Verdi can you check the Sunday opening hours?"
        for page in (sara, paola):
            card = page.locator(f"#messages-{conversation.pk} article.msg-note")
            expect(card).to_contain_text("Private note")
            expect(card).to_contain_text("can you check the Sunday opening hours?")
            expect(card.locator(".mention")).to_have_text("@Paola Verdi")
        expect(note).to_have_value("")
        expect(paola.locator("#notification-bell .bell-count")).to_have_text("1")
        self._shot(paola, "team-note-mention")
        stored = ChatMessage.objects.get(conversation=conversation, kind="note")
        assert (stored.direction, stored.content, stored.sent_by_id) == ("internal", text, self.sara.pk)

        # A reply sent after the note reaches Meta; the note did not (nor anything else).
        reply = sara.locator(f"#reply-text-{conversation.pk}")
        sara.get_by_role("tab", name="Reply").click()
        reply.fill("Yes, from 8 to 12.")
        reply.press("Enter")
        self._wait_sent("Yes, from 8 to 12.", after_id=mark)
        assert self._sent_texts(after_id=mark) == ["Yes, from 8 to 12."]

        paola.goto(f"{self.live_server_url}/inbox/mentions/")
        mention = paola.locator(f"#mention-conversation-{conversation.pk}")
        expect(mention).to_contain_text("Giulia Bianchi")
        expect(mention).to_contain_text("can you check the Sunday opening hours?")
        self._no_errors(sara, paola)

    # --- 3. saved replies ----------------------------------------------------------------------------

    def test_a_saved_reply_goes_out_with_the_customers_first_name(self) -> None:
        from playwright.sync_api import expect

        settings_page = self._open(self.staff_a, self.business_a, path="/inbox/settings/saved-replies/", live=False)
        settings_page.get_by_label("Code").fill("ready")
        settings_page.get_by_label("Text").fill("Ciao {{first_name}}, your cake is ready to pick up!")
        settings_page.get_by_role("button", name="Add saved reply").click()
        expect(settings_page.locator(".settings-list")).to_contain_text("/ready")
        assert SavedReply.objects.filter(business=self.business_a, code="ready").exists()

        conversation = self._customer_conversation("Is my cake ready?")
        mark = self._sent_mark()
        sara = self._detail(self.sara, conversation)
        composer = sara.locator(f"#reply-text-{conversation.pk}")
        composer.press_sequentially("/rea")
        option = sara.locator(f"#saved-replies-{conversation.pk} [role='option']", has_text="/ready")
        expect(option).to_have_attribute("aria-selected", "true")
        composer.press("Enter")  # inserts the highlighted reply, does not send
        expect(composer).to_have_value("Ciao Giulia, your cake is ready to pick up!")
        composer.press("Enter")

        expect(sara.locator("article.msg-outbound", has_text="Ciao Giulia, your cake is ready")).to_be_visible()
        sent = self._wait_sent("Ciao Giulia, your cake is ready to pick up!", after_id=mark)
        assert sent["recipient_id"] == test_browser.PSID
        self._no_errors(settings_page, sara)

    # --- 4. snooze -----------------------------------------------------------------------------------

    def test_a_snoozed_conversation_wakes_up_and_reopens_when_the_customer_writes(self) -> None:
        from playwright.sync_api import expect

        from inbox.services.conversations import conversations_wake_snoozed

        conversation = self._customer_conversation("Can I come by tomorrow?")
        paola = self._open(self.paola, self.business_a)
        row = paola.locator(f"#conversation-{conversation.pk}")
        expect(row).to_be_visible()
        sara = self._detail(self.sara, conversation)
        header = sara.locator(f"#conversation-header-{conversation.pk}")

        # Snoozed until a time typed in the custom field (a few minutes ahead, in the browser's zone).
        header.locator(".snooze-menu > summary").click()
        ahead = sara.evaluate("""() => {
            const d = new Date(Date.now() + 3 * 60 * 1000), p = (n) => String(n).padStart(2, '0');
            return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
        }""")
        sara.get_by_label("Or pick a date and time").fill(ahead)
        header.locator(".snooze-custom").get_by_role("button", name="Snooze").click()
        expect(header.locator(".chip-status")).to_contain_text("Snoozed until")
        expect(header.get_by_role("button", name="Unsnooze")).to_be_visible()
        expect(row).to_have_count(0)  # Paola's Open view
        conversation.refresh_from_db()
        assert conversation.status == "snoozed"
        assert timedelta(minutes=1) < conversation.snoozed_until - timezone.now() <= timedelta(minutes=3)

        # Its time comes: the periodic wake task opens it, and every screen follows.
        assert (
            self._off_the_loop(conversations_wake_snoozed, now=conversation.snoozed_until + timedelta(seconds=1)) >= 1
        )
        expect(row).to_be_visible()
        expect(header.locator(".chip-status")).to_have_count(0)
        expect(header.get_by_role("button", name="Unsnooze")).to_have_count(0)

        # Snoozed again (a preset), and the customer writes before its time: it is open again at once.
        header.locator(".snooze-menu > summary").click()
        header.get_by_role("button", name="In 1 hour").click()
        expect(header.locator(".chip-status")).to_contain_text("Snoozed until")
        expect(row).to_have_count(0)
        self._customer_writes("Actually, could it be this afternoon?")
        expect(row).to_be_visible()
        expect(row.locator(".conv-preview")).to_contain_text("this afternoon")
        expect(header.locator(".chip-status")).to_have_count(0)
        expect(sara.locator(f"#messages-{conversation.pk}")).to_contain_text("this afternoon")
        conversation.refresh_from_db()
        assert (conversation.status, conversation.snoozed_until) == ("open", None)
        self._no_errors(paola, sara)

    # --- 5. labels -----------------------------------------------------------------------------------

    def test_a_label_added_from_the_header_shows_live_and_filters_the_list(self) -> None:
        from playwright.sync_api import expect

        labels = self._open(self.staff_a, self.business_a, path="/inbox/settings/labels/", live=False)
        labels.get_by_label("Name").fill("VIP")
        labels.get_by_role("radio", name="Purple").check()
        labels.get_by_role("button", name="Add label").click()
        expect(labels.locator(".settings-item > .label-chip")).to_have_text("VIP")
        label = Label.objects.get(business=self.business_a, name="VIP")

        conversation = self._conversation("Elena Greco", "Twelve cupcakes for Friday, please")
        other = self._conversation("Tom Baker", "Thanks, see you then!", minutes_ago=4)
        paola = self._open(self.paola, self.business_a)
        row = paola.locator(f"#conversation-{conversation.pk}")
        expect(row).to_be_visible()
        expect(row.locator(".label-chip")).to_have_count(0)
        sara = self._detail(self.sara, conversation)
        header = sara.locator(f"#conversation-header-{conversation.pk}")

        header.locator(".label-picker > summary").click()
        header.get_by_role("checkbox", name="VIP").check()
        header.get_by_role("button", name="Save labels").click()
        expect(header.locator(".label-chips .label-chip")).to_have_text(re.compile("VIP"))
        expect(row.locator(".label-chip")).to_have_text(re.compile("VIP"))
        expect(paola.locator(f"#conversation-{other.pk} .label-chip")).to_have_count(0)
        self._shot(paola, "team-label-live")

        paola.locator(".filter-labels .filter", has_text="VIP").click()
        expect(paola).to_have_url(re.compile(rf"[?&]label={label.pk}\b"))
        expect(paola.locator(ROWS)).to_have_count(1)
        expect(row).to_be_visible()
        assert list(conversation.labels.values_list("name", flat=True)) == ["VIP"]
        self._no_errors(labels, paola, sara)

    # --- 6. bulk actions -----------------------------------------------------------------------------

    def test_bulk_resolve_updates_every_open_screen_once(self) -> None:
        from playwright.sync_api import expect

        from inbox.services.conversations import conversations_set_status

        conversations = [
            self._conversation(f"Customer {i:02d}", f"Order number {i}", minutes_ago=i + 1) for i in range(BULK_COUNT)
        ]
        paola = self._open(self.paola, self.business_a)
        sara = self._open(self.sara, self.business_a)
        for page in (paola, sara):
            expect(page.locator(ROWS)).to_have_count(BULK_COUNT)
        frames_before = len(paola.frames_in)

        sara.get_by_role("button", name="Select", exact=True).click()
        bar = sara.locator("#bulk-bar")
        bar.get_by_role("button", name="Select all in view").click()
        expect(bar.locator("[data-bulk-count]")).to_have_text(str(BULK_COUNT))
        expect(sara.locator(f"{ROWS} .conv-select:checked")).to_have_count(BULK_COUNT)
        self._shot(sara, "team-bulk-selected")
        bar.get_by_role("button", name="Resolve").click()

        expect(paola.locator(ROWS)).to_have_count(0)  # the Open view
        expect(sara.locator(ROWS)).to_have_count(0)
        expect(bar.locator("[data-bulk-count]")).to_have_text("0")
        assert Conversation.objects.filter(business=self.business_a, status="resolved").count() == BULK_COUNT

        # One push carried all 50 rows: once a later change has reached Paola's screen, her socket has
        # received exactly two messages since the click (the bulk action's and that change's).
        back = conversations[0]
        self._off_the_loop(
            conversations_set_status,
            business=self.business_a,
            user=self.staff_a,
            conversation_ids=[back.pk],
            status="open",
        )
        expect(paola.locator(f"#conversation-{back.pk}")).to_be_visible()
        # Presence frames (who is on which screen, sent as colleagues come and go) are not pushes of changes.
        frames = [f for f in paola.frames_in[frames_before:] if not f.startswith('{"type": "presence"')]
        assert len(frames) == 2, [f[:120] for f in frames]
        assert all(f"conversation-{c.pk}" in frames[0] for c in conversations)
        self._no_errors(paola, sara)

    # --- screens ---------------------------------------------------------------------------------------

    def test_team_screens_on_a_laptop_and_a_phone(self) -> None:
        from playwright.sync_api import expect

        main = self._off_the_loop(self._team_design_data)
        for name, viewport, phone in (("laptop", LAPTOP, False), ("phone", PHONE, True)):
            page = self._open(self.sara, self.business_a, viewport=viewport, phone=phone)
            expect(page.locator(ROWS)).to_have_count(4)
            self._shot(page, f"team-{name}-list")
            self._no_errors(page)
            page = self._detail(self.sara, main, viewport=viewport, phone=phone)
            header = page.locator(f"#conversation-header-{main.pk}")
            expect(page.locator(f"#messages-{main.pk} article.msg-note")).to_contain_text("voucher code")
            expect(header.locator(".assign-name")).to_have_text("Sara")
            self._shot(page, f"team-{name}-conversation")
            header.locator(".label-picker > summary").click()
            expect(header.get_by_role("checkbox", name="Refund")).to_be_checked()
            self._shot(page, f"team-{name}-labels-open")
            page.keyboard.press("Escape")
            expect(header.get_by_role("checkbox", name="Refund")).to_be_hidden()
            header.locator(".assign-picker > summary").click()
            expect(page.get_by_label("Assign to")).to_be_visible()
            self._shot(page, f"team-{name}-assign-open")
            header.locator(".assign-picker > summary").click()
            page.get_by_role("tab", name="Private note").click()
            page.locator(f"#note-text-{main.pk}").press_sequentially("@")
            expect(page.locator(f"#mention-list-{main.pk}")).to_be_visible()
            self._shot(page, f"team-{name}-mention-list")
            self._no_errors(page)

    def _team_design_data(self) -> Conversation:
        """Four conversations with assignees, labels and a note, made through the services."""
        from inbox.services import assignment, labels, notes

        vip = labels.label_create(business=self.business_a, user=self.staff_a, name="VIP", colour="purple")
        refund = labels.label_create(business=self.business_a, user=self.staff_a, name="Refund", colour="red")
        people = [
            ("Elena Greco", "Can I change my order to 12 cupcakes?", self.paola, [vip]),
            ("Tom Baker", "Thanks, see you then!", None, []),
            ("Sofia Russo", "The cake arrived broken, can I get my money back?", self.sara, [refund, vip]),
            ("Marta Bakes", "Loved the cannoli", self.staff_a, []),
        ]
        made = {}
        for i, (name, text, assignee, chips) in enumerate(people):
            conversation = made[name] = self._conversation(name, text, minutes_ago=3 * i + 1)
            if assignee is not None:
                assignment.conversation_assign(conversation=conversation, actor=self.staff_a, assignee=assignee)
            if chips:
                labels.conversation_labels_change(
                    conversation=conversation, user=self.staff_a, add_ids=[c.pk for c in chips]
                )
        main = made["Sofia Russo"]
        notes.note_create(
            conversation=main, user=self.staff_a, text="@Sara Refund approved, please send the voucher code."
        )
        return main
