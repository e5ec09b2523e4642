"""What a new user meets first, in a real browser: connecting a Page by clicking and its customer's
name, the phone's Menu, the Priority filter's own empty state, feedback on a role change, sign-up
errors under their own field, the Pages picker ticking what was allowed, and the business switcher.

The harness (server or production stack, sandbox, staff, `_open`) is test_browser.py's, inherited.
Run like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_new_user_fixes.py
"""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.tests.factories import BusinessFactory, MembershipFactory
from inbox.models import Contact
from inbox.tests.e2e import stack, test_browser
from inbox.tests.factories import ContactFactory, ConversationFactory
from sandbox import payloads
from sandbox.customers import default_psid
from social.models import SocialAccount

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CATERING = "104857600234567"  # Rossi Catering: Marco Rossi's second sandbox page


@pytest.mark.e2e
class NewUserFixesInTheBrowserTests(test_browser.ConnectingInTheBrowserTests):
    def setUp(self) -> None:
        if stack.EXTERNAL:  # before the harness creates this test's rows (it deletes every test's leftovers)
            stack.delete_leftovers(page_ids=(CATERING,))
        super().setUp()
        self.tag = stack.run_tag() if stack.EXTERNAL else ""
        self.extra_businesses = []

    def tearDown(self) -> None:
        super().tearDown()
        if stack.EXTERNAL:
            stack.delete_created(businesses=self.extra_businesses, users=[], page_ids=(CATERING,))

    def _shot_named(self, page, name: str) -> None:
        self._shot(page, f"newuser-{name}")

    # --- 1 and 9: connect a Page by clicking; its customer has a name ---------------------------------

    def test_a_page_connected_by_clicking_shows_its_customer_by_name(self) -> None:
        page = self._open(self.staff_a, self.business_a, path="/social/", live=False, viewport=LAPTOP)
        page.get_by_role("button", name="Connect Facebook").first.click()
        page.get_by_label("Marco Rossi").check()
        page.get_by_role("button", name="Continue").click()
        # Allow only Rossi Catering in Facebook's dialog, as the README says.
        page.locator(f"input[name=pages][value='{test_browser.PAGE_A}']").uncheck()
        page.get_by_role("button", name=re.compile("^Continue as")).click()
        # Back in the product: the picker ticks what was just allowed.
        expect(page).to_have_url(re.compile(r"/social/connect/pages/$"))
        catering = page.locator(f"input[name=pages][value='{CATERING}']")
        expect(catering).to_be_checked()
        self._shot_named(page, "picker-laptop")
        page.get_by_role("button", name="Connect selected").click()
        expect(page.locator(".flash-success")).to_contain_text("Connected: Rossi Catering")
        self.assertTrue(SocialAccount.objects.filter(business=self.business_a, account_id=CATERING).exists())

        # A customer writes to it from the sandbox, as `simulate_customer --page ... --text Hi` does
        # (after the README's first message to the demo page, whose default customer is another).
        psid = default_psid(CATERING, instagram=False)
        self.assertNotEqual(psid, default_psid(test_browser.PAGE_A, instagram=False))
        self._sandbox_customer_writes(page_id=CATERING, psid=psid, text="Hi")
        self._wait_until(
            lambda: Contact.objects.filter(account__account_id=CATERING, external_id=psid).exclude(name="").exists()
        )
        contact = Contact.objects.get(account__account_id=CATERING, external_id=psid)
        self.assertNotIn(psid, contact.display_name)
        self.assertFalse(contact.display_name.startswith("Customer "))
        page.goto(self.live_server_url + "/inbox/")
        expect(page.locator(".conv-name", has_text=contact.display_name)).to_be_visible()
        expect(page.locator(".conv-name", has_text=psid)).to_have_count(0)
        self._shot_named(page, "customer-name-laptop")

    def _sandbox_customer_writes(self, *, page_id: str, psid: str, text: str) -> None:
        if stack.EXTERNAL:
            stack.sandbox_customer_wrote(page_id=page_id, psid=psid)
        else:
            from sandbox.graph import customer_message_received

            customer_message_received(psid=psid, page_id=page_id)
        item = payloads.text_message(page_id=page_id, psid=psid, text=text)
        body = payloads.encode(
            payloads.envelope(object_type="page", entries=[payloads.entry(account_id=page_id, events=[item])])
        )
        url = f"{self.live_server_url}/webhooks/facebook/"
        self.assertEqual(payloads.post_webhook(url, body, settings.FACEBOOK_APP_SECRET), 200)

    def _wait_until(self, condition, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.assertLess(time.monotonic(), deadline, "timed out")
            time.sleep(0.1)

    # --- 4: every destination reachable on a phone -----------------------------------------------------

    def test_on_a_phone_the_menu_button_lists_every_destination(self) -> None:
        page = self._open(self.staff_a, self.business_a, viewport=PHONE, phone=True)
        nav = page.locator("#main-nav")
        expect(nav).to_be_hidden()
        toggle = page.get_by_role("button", name="Menu")
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        for name in ("Inbox", "Dashboard", "Pages", "Team", "Settings"):
            link = nav.get_by_role("link", name=re.compile(f"^{name}"))
            expect(link).to_be_visible()
            box = link.bounding_box()
            self.assertTrue(box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name)
        self._shot_named(page, "menu-phone")
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        expect(toggle).to_be_focused()
        toggle.click()
        nav.get_by_role("link", name="Team").click()
        expect(page).to_have_url(re.compile(r"/team/$"))
        # The nav is the whole row on a laptop: no Menu button there.
        laptop = self._open(self.staff_a, self.business_a, path="/team/", viewport=LAPTOP, live=False)
        expect(laptop.get_by_role("button", name="Menu")).to_be_hidden()
        expect(laptop.locator("#main-nav").get_by_role("link", name="Pages")).to_be_visible()

    # --- 5: the Priority filter's own empty state ----------------------------------------------------

    def test_the_priority_filter_says_what_it_lists_when_empty(self) -> None:
        page = self._open(self.staff_a, self.business_a, path="/inbox/?priority=any", viewport=LAPTOP)
        empty = page.locator("#conversation-results .empty")
        expect(empty).to_contain_text("No prioritised conversations")
        expect(empty).not_to_contain_text("New conversations appear here")
        self._shot_named(page, "priority-empty-laptop")

    # --- 6: a role change says so ----------------------------------------------------------------------

    def test_changing_a_role_is_confirmed_and_a_refusal_is_visible(self) -> None:
        sara = Membership.objects.get(business=self.business_a, user=self.staff_a2)
        page = self._open(self.staff_a, self.business_a, path="/team/", live=False, viewport=LAPTOP)
        row = page.locator(f"#member-{sara.pk}")
        row.locator("select[name=role]").select_option("admin")
        row.get_by_role("button", name="Save").click()
        expect(page.locator(".flash-success")).to_contain_text("The role of Sara is now Admin.")
        self._shot_named(page, "role-changed-laptop")
        self.assertEqual(Membership.objects.get(pk=sara.pk).role, "admin")
        # Sara, an admin now, may not make herself owner: she is told, in red, at the top.
        Membership.objects.filter(business=self.business_a, user=self.staff_a).update(role=Membership.Role.OWNER)
        as_sara = self._open(self.staff_a2, self.business_a, path="/team/", live=False, viewport=LAPTOP)
        as_sara.evaluate(
            "(pk) => { const f = document.querySelector('#member-' + pk + ' form');"
            " const s = f.querySelector('select'); const o = document.createElement('option');"
            " o.value = 'owner'; s.appendChild(o); s.value = 'owner'; }",
            sara.pk,
        )
        as_sara.locator(f"#member-{sara.pk}").get_by_role("button", name="Save").click()
        error = as_sara.locator(".flash-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("was not changed")
        self._shot_named(as_sara, "role-refused-laptop")
        self.assertEqual(Membership.objects.get(pk=sara.pk).role, "admin")

    # --- 8: sign-up errors under their own field ---------------------------------------------------------

    def test_a_weak_password_is_reported_under_the_password(self) -> None:
        context = self.browser.new_context(viewport=LAPTOP, ignore_https_errors=stack.EXTERNAL)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(self.live_server_url + "/accounts/signup/")
        email = self._email("newcomer@bakery.example", self.tag)
        page.fill("input[name=email]", email)
        page.fill("input[name=password1]", "password")
        page.fill("input[name=password2]", "password")
        page.get_by_role("button", name="Create account").click()
        password_field = page.locator(".auth-field", has=page.locator("input[name=password1]"))
        expect(password_field.locator(".field-error")).to_contain_text("too common")
        email_field = page.locator(".auth-field", has=page.locator("input[name=email]"))
        expect(email_field.locator(".field-error")).to_have_count(0)
        # Under the input, not above it.
        error_box = password_field.locator(".field-error").bounding_box()
        input_box = page.locator("input[name=password1]").bounding_box()
        self.assertGreater(error_box["y"], input_box["y"] + input_box["height"] - 1)
        self._shot_named(page, "signup-error-laptop")
        page.set_viewport_size(PHONE)
        self._shot_named(page, "signup-error-phone")
        # The password reset pages are in the product's layout too.
        page.get_by_role("link", name="Sign in").click()
        page.get_by_role("link", name="Forgot your password?").click()
        expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
        expect(page.locator(".topbar")).to_be_visible()
        page.fill("input[name=email]", email)
        page.get_by_role("button", name="Email me a reset link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        self._shot_named(page, "reset-done-phone")

    # --- 11: the business switcher ---------------------------------------------------------------------

    def _second_business(self, *, unread: int):
        second = BusinessFactory(name="Verdi Flowers", slug=f"{stack.SLUG_PREFIX}{self.tag}verdi-flowers")
        self.extra_businesses.append(second)
        MembershipFactory(business=second, user=self.staff_a, role=Membership.Role.OWNER)
        account = test_browser.SocialAccountFactory(business=second, account_id=f"9{int(time.time() * 1000) % 10**14}")
        for i in range(unread):
            ConversationFactory(
                contact=ContactFactory(account=account, name=f"Flower customer {i}"),
                unread_count=1,
                last_message_at=timezone.now(),
            )
        return second

    def _check_switcher(self, page, second, *, name: str) -> None:
        switcher = page.locator(".biz-switch")
        expect(switcher.locator("summary")).to_contain_text("Bakery Rossi")
        expect(switcher.locator(".biz-elsewhere")).to_contain_text("3")
        switcher.locator("summary").click()
        menu = switcher.locator(".biz-menu")
        expect(menu).to_be_visible()
        expect(menu.locator(".biz-item.is-current")).to_contain_text("Bakery Rossi")
        item = menu.locator(f"button.biz-item[data-business='{second.pk}']")
        expect(item).to_contain_text("Verdi Flowers")
        expect(item.locator(".count")).to_contain_text("3")
        # Other Shop (another business, not the member's) is never listed.
        expect(menu).not_to_contain_text("Other Shop")
        box = menu.bounding_box()
        self.assertTrue(box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"])
        self._shot_named(page, f"switcher-{name}")
        item.click()
        expect(page.locator(".biz-switch summary")).to_contain_text("Verdi Flowers")
        expect(page.locator(".conv-name", has_text="Flower customer 0")).to_be_visible()

    def test_the_business_switcher_lists_the_members_businesses_with_unread_and_switches(self) -> None:
        second = self._second_business(unread=3)
        page = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        self._check_switcher(page, second, name="laptop")

    def test_the_business_switcher_works_on_a_phone(self) -> None:
        second = self._second_business(unread=3)
        page = self._open(self.staff_a, self.business_a, viewport=PHONE, phone=True)
        self._check_switcher(page, second, name="phone")

    def test_the_switcher_of_a_member_of_one_business_shows_only_it(self) -> None:
        self._second_business(unread=2)  # Marco's, not Olga's
        page = self._open(self.staff_b, self.business_b, viewport=LAPTOP)
        switcher = page.locator(".biz-switch")
        expect(switcher.locator(".biz-elsewhere")).to_have_count(0)
        switcher.locator("summary").click()
        expect(switcher.locator(".biz-item")).to_have_count(1)
        expect(switcher.locator(".biz-menu")).not_to_contain_text("Verdi Flowers")
        expect(switcher.locator(".biz-menu")).not_to_contain_text("Bakery Rossi")
