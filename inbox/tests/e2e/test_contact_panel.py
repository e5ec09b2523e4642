"""The contact panel in a real browser: what it shows beside the thread, notes saved and shown live on a
colleague's screen, a Messenger and an Instagram contact joined into one person (and taken apart), the
choice to collapse it remembered, and the bottom sheet on a phone.

The harness (server or production stack, sandbox, staff, `_open`) is test_browser.py's, inherited. Run
like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_contact_panel.py
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import ChatMessage, Contact, Conversation, ConversationLabel, Label
from inbox.tests.e2e import test_browser
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
INSTAGRAM_ID = "17841400000077701"  # Bakery Rossi's Instagram account in these tests (no sandbox page)


@pytest.mark.e2e
class ContactPanelInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    """Marco (owner) and Sara (colleague) of Bakery Rossi, whose Page and Instagram account both have Giulia."""

    def setUp(self) -> None:
        super().setUp()
        self.instagram = SocialAccountFactory(
            business=self.business_a,
            platform=Platform.INSTAGRAM,
            account_id=INSTAGRAM_ID,
            account_name="bakery.rossi",
            page=self.page_a,
        )
        now = timezone.now()
        self.giulia = ConversationFactory(
            contact=ContactFactory(account=self.page_a, name="Giulia Bianchi"),
            last_message_preview="Can I order a cake for Saturday?",
            last_message_at=now - timedelta(minutes=2),
            last_inbound_at=now - timedelta(minutes=2),
        )
        ChatMessageFactory(
            conversation=self.giulia,
            kind=ChatMessage.Kind.REFERRAL,
            message_id=f"referral:{self.giulia.pk}",
            content="Opened the conversation from an ad",
            timestamp=now - timedelta(minutes=3),
            is_read=True,
            extra={
                "source": "ADS",
                "type": "OPEN_THREAD",
                "ref": "spring",
                "ad_id": "6045246247433",
                "ads_context_data": {"ad_title": "Spring cakes", "post_id": "1"},
            },
        )
        ChatMessageFactory(
            conversation=self.giulia,
            content="Can I order a cake for Saturday?",
            is_read=True,
            timestamp=now - timedelta(minutes=2),
        )
        self.giulia_ig = ConversationFactory(
            contact=ContactFactory(account=self.instagram, name="Giulia B", username="giulia.b"),
            last_message_preview="Do you deliver on Sundays?",
            last_message_at=now - timedelta(minutes=30),
            last_inbound_at=now - timedelta(minutes=30),
        )
        ChatMessageFactory(
            conversation=self.giulia_ig,
            content="Do you deliver on Sundays?",
            is_read=True,
            timestamp=now - timedelta(minutes=30),
        )
        label = Label.objects.create(business=self.business_a, name="VIP", colour=Label.Colour.PURPLE)
        ConversationLabel.objects.create(business=self.business_a, conversation=self.giulia, label=label)

    # --- helpers -------------------------------------------------------------------------------------

    def _detail(self, user, conversation: Conversation, **kwargs):
        """A conversation page with its panel loaded and its socket open."""
        page = self._open(user, self.business_a, path=f"/inbox/c/{conversation.public_id}/", **kwargs)
        page.wait_for_selector(f"#contact-card-{conversation.pk}", state="attached")
        page.wait_for_load_state("networkidle")
        return page

    def _merge(self) -> None:
        from inbox.services.contact_profile import contacts_merge

        self._off_the_loop(
            contacts_merge,
            business=self.business_a,
            user=self.staff_a,
            contact=self.giulia.contact,
            other=self.giulia_ig.contact,
        )

    def _no_errors(self, *pages) -> None:
        """No script error; a refused save (422) the test made on purpose is logged by the browser and htmx."""
        for page in pages:
            unexpected = [error for error in page.errors if "422" not in error]
            assert unexpected == [], unexpected

    # --- what it shows, and notes live ---------------------------------------------------------------------

    def test_the_panel_shows_the_customer_and_saved_notes_reach_a_colleague_live(self) -> None:
        from playwright.sync_api import expect

        self._merge()
        marco = self._detail(self.staff_a, self.giulia, viewport=LAPTOP)
        sara = self._detail(self.staff_a2, self.giulia, viewport=LAPTOP)
        panel = marco.locator(f"#contact-aside-{self.giulia.pk}")
        card = panel.locator(f"#contact-card-{self.giulia.pk}")
        links = panel.locator(f"#contact-links-{self.giulia.pk}")
        expect(card.locator(".contact-name")).to_have_text("Giulia Bianchi")
        expect(card).to_contain_text("Messenger · Bakery Rossi")
        expect(card).to_contain_text(self.giulia.contact.external_id)
        expect(card).to_contain_text(test_browser.PAGE_A)
        expect(card.locator(".contact-referral")).to_contain_text("An ad: “Spring cakes”")
        expect(links.locator(".label-chip")).to_have_text(re.compile("VIP"))
        expect(links.locator(".contact-conv")).to_have_count(1)
        expect(links.locator(".contact-conv")).to_contain_text("Do you deliver on Sundays?")
        expect(links.locator(".contact-identity-name")).to_have_text("Giulia B")

        card.get_by_role("link", name="Edit notes and details").click()
        notes = panel.get_by_label("Notes", exact=True)
        expect(notes).to_be_focused()
        notes.fill("Allergic to hazelnuts. Orders for her office on Fridays.")
        panel.get_by_label("Detail name").first.fill("Birthday")
        panel.get_by_label("Value").first.fill("12 May")
        panel.get_by_role("button", name="+ Add a detail").click()
        expect(panel.get_by_label("Detail name")).to_have_count(3)
        self._shot(marco, "contact-panel-laptop-editing")
        panel.get_by_role("button", name="Save").click()

        expect(card.locator(".contact-notes-text")).to_have_text(
            "Allergic to hazelnuts. Orders for her office on Fridays."
        )
        expect(card.locator(".contact-attributes")).to_contain_text("Birthday")
        expect(panel.locator(".contact-editor.is-open")).to_have_count(0)
        # Sara's open screen shows it without a reload.
        sara_card = sara.locator(f"#contact-card-{self.giulia.pk}")
        expect(sara_card.locator(".contact-notes-text")).to_contain_text("Allergic to hazelnuts")
        expect(sara_card.locator(".contact-attributes")).to_contain_text("12 May")
        contact = Contact.objects.get(pk=self.giulia.contact_id)
        assert contact.attributes == {"Birthday": "12 May"}
        panel.locator(".contact-panel-body").evaluate("(body) => { body.scrollTop = 0; }")
        self._shot(marco, "contact-panel-laptop")

        # A refused save keeps the form open, with the reason and what was typed.
        card.get_by_role("link", name="Edit notes and details").click()
        # The editor is loaded (focus on its notes, the saved detail in it) before a field is cleared, or
        # the form that arrives afterwards would put the name back.
        expect(panel.get_by_label("Notes", exact=True)).to_be_focused()
        expect(panel.get_by_label("Detail name").first).to_have_value("Birthday")
        panel.get_by_label("Detail name").first.fill("")
        panel.get_by_role("button", name="Save").click()
        expect(panel.locator(".contact-editor .errorlist")).to_contain_text("Give each detail a name")
        expect(panel.get_by_label("Value").first).to_have_value("12 May")
        panel.get_by_role("button", name="Cancel").click()
        expect(panel.locator(".contact-editor.is-open")).to_have_count(0)
        expect(card.get_by_role("link", name="Edit notes and details")).to_be_focused()
        self._no_errors(marco, sara)

    # --- one person -------------------------------------------------------------------------------------

    def test_a_messenger_and_an_instagram_contact_become_one_person_and_can_be_split(self) -> None:
        from playwright.sync_api import expect

        marco = self._detail(self.staff_a, self.giulia, viewport=LAPTOP)
        sara = self._detail(self.staff_a2, self.giulia_ig, viewport=LAPTOP)
        links = marco.locator(f"#contact-links-{self.giulia.pk}")
        expect(links.locator(".contact-conv")).to_have_count(0)
        expect(links).to_contain_text("Known by this profile only")

        marco.get_by_text("Link another profile…").click()
        search = marco.get_by_label("Find their other profile (Messenger, Instagram)")
        expect(search).to_be_focused()
        search.press_sequentially("giulia")
        option = marco.get_by_role("button", name="Join Giulia B on bakery.rossi")
        expect(option).to_be_visible()
        expect(marco.locator(".contact-option")).to_have_count(1)  # not herself
        self._shot(marco, "contact-panel-laptop-same-person")
        option.click()

        expect(links.locator(".contact-identity-name")).to_have_text("Giulia B")
        expect(links.locator(".contact-conv")).to_contain_text("Do you deliver on Sundays?")
        expect(marco.locator(".contact-merge[open]")).to_have_count(0)
        # Sara, on the Instagram conversation, sees the Messenger identity and conversation arrive.
        sara_links = sara.locator(f"#contact-links-{self.giulia_ig.pk}")
        expect(sara_links.locator(".contact-identity-name")).to_have_text("Giulia Bianchi")
        expect(sara_links.locator(".contact-conv")).to_contain_text("Can I order a cake for Saturday?")
        assert (
            Contact.objects.get(pk=self.giulia.contact_id).person_id
            == Contact.objects.get(pk=self.giulia_ig.contact_id).person_id
        )

        # The other conversation opens from the panel.
        links.locator(".contact-conv").click()
        expect(marco).to_have_url(re.compile(rf"/inbox/c/{self.giulia_ig.public_id}/$"))
        ig_links = marco.locator(f"#contact-links-{self.giulia_ig.pk}")
        expect(ig_links.locator(".contact-identity-name")).to_have_text("Giulia Bianchi")

        ig_links.get_by_role("button", name="Unlink Giulia Bianchi: not the same person").click()
        expect(ig_links).to_contain_text("Known by this profile only")
        expect(sara_links).to_contain_text("Known by this profile only")
        assert Contact.objects.get(pk=self.giulia.contact_id).person_id is None
        self._no_errors(marco, sara)

    # --- collapse, and the phone's sheet ----------------------------------------------------------------------

    def test_collapsing_the_panel_is_remembered(self) -> None:
        from playwright.sync_api import expect

        from inbox.services.labels import label_create, labels_add

        page = self._detail(self.staff_a, self.giulia, viewport=LAPTOP)
        aside = page.locator(f"#contact-aside-{self.giulia.pk}")
        toggle = page.locator(f"#conversation-header-{self.giulia.pk} [data-contact-toggle]")
        expect(aside).to_be_visible()
        # A label a colleague adds shows in the panel as in the header (the header's push carries it).
        label = self._off_the_loop(label_create, business=self.business_a, user=self.staff_a, name="Wholesale")
        self._off_the_loop(
            labels_add,
            business=self.business_a,
            user=self.staff_a2,
            conversation_ids=[self.giulia.pk],
            label_ids=[label.pk],
        )
        expect(aside.locator(".contact-labels .label-chip")).to_have_count(2)
        expect(aside.locator(".contact-labels")).to_contain_text("Wholesale")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        toggle.click()
        expect(aside).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        page.reload()
        page.wait_for_selector(f"#contact-card-{self.giulia.pk}", state="attached")
        expect(aside).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(aside).to_be_visible()
        aside.get_by_role("button", name="Close contact details").click()
        expect(aside).to_be_hidden()
        self._no_errors(page)

    def test_on_a_narrow_screen_the_panel_opens_over_the_thread(self) -> None:
        from playwright.sync_api import expect

        page = self._detail(self.staff_a, self.giulia, viewport={"width": 1000, "height": 800})
        aside = page.locator(f"#contact-aside-{self.giulia.pk}")
        toggle = page.locator(f"#conversation-header-{self.giulia.pk} [data-contact-toggle]")
        expect(aside).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(aside).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        assert aside.evaluate("(el) => getComputedStyle(el).position") == "absolute"
        self._shot(page, "contact-panel-narrow")
        aside.get_by_role("button", name="Close contact details").click()
        expect(aside).to_be_hidden()
        self._no_errors(page)

    def test_on_a_phone_the_panel_opens_as_a_sheet_and_closes(self) -> None:
        from playwright.sync_api import expect

        from inbox.services.contact_profile import contact_profile_update

        self._merge()
        self._off_the_loop(
            contact_profile_update,
            business=self.business_a,
            user=self.staff_a,
            contact=self.giulia.contact,
            notes="Allergic to hazelnuts. Orders for her office on Fridays.",
            attributes={"Birthday": "12 May"},
        )
        page = self._detail(self.staff_a, self.giulia, viewport=PHONE, phone=True)
        aside = page.locator(f"#contact-aside-{self.giulia.pk}")
        toggle = page.locator(f"#conversation-header-{self.giulia.pk} [data-contact-toggle]")
        close = aside.get_by_role("button", name="Close contact details")
        expect(aside).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")

        toggle.click()
        expect(aside).to_be_visible()
        expect(aside).to_have_attribute("role", "dialog")
        expect(close).to_be_focused()
        expect(aside.locator(".contact-name")).to_have_text("Giulia Bianchi")
        expect(aside.locator(".contact-notes-text")).to_contain_text("hazelnuts")
        self._shot(page, "contact-panel-phone")

        page.keyboard.press("Escape")
        expect(aside).to_be_hidden()
        expect(toggle).to_be_focused()

        toggle.click()
        expect(aside).to_be_visible()
        close.click()
        expect(aside).to_be_hidden()
        # The thread is all there again: the composer is usable.
        expect(page.locator(f"#reply-text-{self.giulia.pk}")).to_be_visible()
        self._no_errors(page)
