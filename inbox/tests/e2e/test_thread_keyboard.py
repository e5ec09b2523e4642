"""Keyboard shortcuts and a readable thread, in a real browser.

The list and the conversation by keyboard (j/k, Enter, r, e, i, l, /, ?, Esc: static/js/shortcuts.js),
days separated and one side's turns grouped (thread.js), times in the member's own zone and clock
(profile → <body data-time-zone data-clock> → inbox.js), photos in a lightbox (lightbox.js), and a
search result opened at its match with the words marked (conversation_detail's `q`).

The harness (server or production stack, sandbox, staff, `_open`, `_customer_writes`) is
test_browser.py's, inherited. Run like the rest of the tier:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_thread_keyboard.py
"""

from __future__ import annotations

import re
import struct
import time
import zlib
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from inbox.models import Attachment, ChatMessage, Conversation
from inbox.tests.e2e import test_browser
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ROWS = "#conversation-list > li[data-live='row']"
# Zones whose clocks differ by many hours, so a changed setting shows in every time.
ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "Europe/Rome")


def _png(width: int, height: int, tint: int = 0) -> bytes:
    """A plain PNG of the given size: warm for the photos, so the screenshots look like a thread."""
    rows = b"".join(
        b"\x00"
        + b"".join(bytes(((230 - y // 3 + tint) % 256, 170 + x % 60 // 8, 120 + tint // 2)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _midday_zone(now: datetime) -> str:
    """A zone where it is neither close to midnight nor just after it: "Today" is certain for the
    last few minutes and "Yesterday" for a day ago, whenever the test runs."""
    for name in ZONES:
        if 3 <= now.astimezone(zoneinfo.ZoneInfo(name)).hour <= 21:
            return name
    return "UTC"


def _clock(when: datetime, zone: str) -> str:
    local = when.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local.hour}:{local:%M}"


@pytest.mark.e2e
class ThreadAndKeyboardInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    # --- helpers -------------------------------------------------------------------------------------

    def _conversation(
        self, name: str, texts: list[str], *, minutes_ago: int = 1, every: timedelta = timedelta(seconds=30), **kwargs
    ) -> tuple[Conversation, list[ChatMessage]]:
        """A conversation made in the database: the customer said `texts`, `every` apart, the last
        `minutes_ago` minutes ago (its reply window open)."""
        last = timezone.now() - timedelta(minutes=minutes_ago)
        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, name=name),
            last_message_preview=texts[-1],
            last_message_at=last,
            last_inbound_at=last,
            **kwargs,
        )
        messages = [
            ChatMessageFactory(
                conversation=conversation, content=text, is_read=True, timestamp=last - every * (len(texts) - 1 - i)
            )
            for i, text in enumerate(texts)
        ]
        return conversation, messages

    def _set_clock(self, user, *, zone: str, clock: str) -> None:
        get_user_model().objects.filter(pk=user.pk).update(time_zone=zone, clock=clock)

    @staticmethod
    def _wait_until(condition, message: str, *, seconds: float = test_browser.TIMEOUT / 1000) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, message
            time.sleep(0.05)

    # --- the keyboard ----------------------------------------------------------------------------------

    def test_the_list_and_the_conversation_by_keyboard(self) -> None:
        from playwright.sync_api import expect

        newest, _ = self._conversation("Elena Greco", ["Can I change my order?"], minutes_ago=1)
        middle, _ = self._conversation("Tom Baker", ["Thanks, see you then!"], minutes_ago=5)
        oldest, _ = self._conversation("Sofia Russo", ["Do you deliver to Trastevere?"], minutes_ago=9)
        page = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        rows = page.locator(ROWS)
        expect(rows).to_have_count(3)

        # j / k move a visible current row; the keys never leave the list's ends.
        page.keyboard.press("j")
        expect(page.locator(f"#conversation-{newest.pk}")).to_have_class(re.compile(r"\bis-current\b"))
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("j")
        current = page.locator(f"{ROWS}.is-current")
        expect(current).to_have_count(1)
        expect(current).to_have_id(f"conversation-{oldest.pk}")
        expect(current).to_have_attribute("aria-current", "true")
        page.keyboard.press("k")
        expect(page.locator(f"{ROWS}.is-current")).to_have_id(f"conversation-{middle.pk}")

        # Enter opens it (the row's own htmx link).
        page.keyboard.press("Enter")
        expect(page.locator("#conversation-pane")).to_have_attribute("data-conversation", str(middle.pk))
        expect(page.locator(f"#messages-{middle.pk}")).to_contain_text("see you then")

        # r: the reply box has the focus, and letters typed there are text, not shortcuts.
        page.keyboard.press("r")
        reply = page.locator(f"#reply-text-{middle.pk}")
        expect(reply).to_be_focused()
        page.keyboard.type("jke")
        expect(reply).to_have_value("jke")
        expect(page.locator(f"{ROWS}.is-current")).to_have_id(f"conversation-{middle.pk}")
        assert Conversation.objects.get(pk=middle.pk).status == Conversation.Status.OPEN
        reply.fill("")
        page.locator("#conversation-pane h1").click()  # the focus leaves the box

        # Ctrl/Cmd with a letter stays the browser's.
        page.keyboard.press("Control+j")
        expect(page.locator(f"{ROWS}.is-current")).to_have_id(f"conversation-{middle.pk}")

        # i: assigned to me, as the button would.
        page.keyboard.press("i")
        self._wait_until(
            lambda: Conversation.objects.get(pk=middle.pk).assignee_id == self.staff_a.pk,
            "i did not assign the conversation",
        )
        expect(page.locator("#conversation-pane .assign-current")).to_contain_text("Marco Rossi")

        # l: the labels menu opens.
        page.locator("#conversation-pane h1").click()
        page.keyboard.press("l")
        expect(page.locator("#conversation-pane details.label-picker")).to_have_attribute("open", "")

        page.keyboard.press("Escape")
        page.locator("#conversation-pane h1").click()

        # ?: the list of shortcuts; Esc closes it and the focus returns.
        page.keyboard.press("?")
        dialog = page.locator("#shortcuts-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Assign it to yourself")
        self._shot(page, "thread-shortcuts")
        page.keyboard.press("j")  # no shortcut behind an open dialog
        expect(page.locator(f"{ROWS}.is-current")).to_have_id(f"conversation-{middle.pk}")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()

        # The quiet hint at the foot of the filters opens it too.
        page.locator(".inbox-filters .shortcut-hint").click()
        expect(dialog).to_be_visible()
        page.locator("#shortcuts-dialog form[method='dialog'] button").click()
        expect(dialog).to_be_hidden()
        expect(page.locator(".inbox-filters .shortcut-hint")).to_be_focused()

        # /: the search box; Esc leaves it.
        page.locator("#conversation-pane h1").click()
        page.keyboard.press("/")
        search = page.locator(".search input[name='q']")
        expect(search).to_be_focused()
        expect(search).to_have_value("")
        page.keyboard.press("Escape")
        expect(search).not_to_be_focused()

        # e: resolved, as the header's button would.
        page.locator("#conversation-pane h1").click()
        page.keyboard.press("e")
        self._wait_until(
            lambda: Conversation.objects.get(pk=middle.pk).status == Conversation.Status.RESOLVED,
            "e did not resolve the conversation",
        )
        expect(page.locator("#conversation-pane .pane-header")).to_contain_text("Resolved")
        assert page.errors == [], page.errors

    # --- days, turns and times -------------------------------------------------------------------------

    def test_days_are_separated_and_one_side_s_turns_grouped_also_live(self) -> None:
        from playwright.sync_api import expect

        now = timezone.now()
        zone = _midday_zone(now)
        self._set_clock(self.staff_a, zone=zone, clock="24")
        self._customer_writes("Ciao! Are you open today?")
        conversation = Conversation.objects.get(business=self.business_a)
        first = ChatMessage.objects.get(conversation=conversation)
        ChatMessage.objects.filter(pk=first.pk).update(timestamp=now - timedelta(minutes=3))
        old = now - timedelta(days=4)
        for i, text in enumerate(["Do you make birthday cakes?", "For 12 people"]):
            ChatMessageFactory(
                conversation=conversation, content=text, is_read=True, timestamp=old + timedelta(minutes=i)
            )
        ChatMessageFactory(
            conversation=conversation,
            content="We do! Chocolate or lemon?",
            is_read=True,
            direction="outbound",
            source="inbox",
            status="read",
            sent_by=self.staff_a,
            timestamp=old + timedelta(minutes=2),
        )
        ChatMessageFactory(
            conversation=conversation,
            content="Your cake is ready",
            is_read=True,
            direction="outbound",
            source="inbox",
            status="read",
            sent_by=self.staff_a,
            timestamp=now - timedelta(days=1),
        )
        ChatMessageFactory(
            conversation=conversation, content="Great, thank you!", is_read=True, timestamp=now - timedelta(minutes=2)
        )

        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=LAPTOP)
        container = page.locator(f"#messages-{conversation.pk}")
        separators = container.locator("> [data-day-separator]")
        expect(separators).to_have_count(3)
        labels = separators.all_inner_texts()
        assert labels[1:] == ["Yesterday", "Today"], labels
        assert labels[0] not in ("Today", "Yesterday") and labels[0].strip(), labels

        def classes(text: str) -> str:
            return container.locator("> [data-live='message']", has_text=text).get_attribute("class") or ""

        assert "is-grouped-next" in classes("birthday cakes") and "is-grouped-prev" not in classes("birthday cakes")
        assert "is-grouped-prev" in classes("For 12 people") and "is-grouped-next" not in classes("For 12 people")
        # Another side is another turn; a message alone on its day is alone.
        assert "is-grouped" not in classes("Chocolate or lemon")
        assert "is-grouped" not in classes("Your cake is ready")
        assert "is-grouped-next" in classes("Are you open today")
        # The meta of a grouped message's earlier part steps aside: one time per turn.
        expect(
            container.locator("> [data-live='message']", has_text="birthday cakes").locator(".msg-meta")
        ).to_be_hidden()

        # A live message joins the turn it continues, and the day's separator stays single.
        self._customer_writes("And do you have candles?")
        live = container.locator("> [data-live='message']", has_text="candles")
        expect(live).to_have_class(re.compile(r"\bis-grouped-prev\b"))
        expect(container.locator("> [data-live='message']", has_text="Great, thank you")).to_have_class(
            re.compile(r"\bis-grouped-next\b")
        )
        expect(separators).to_have_count(3)
        # Times: the member's zone, a 24-hour clock, no leading zero.
        greeting = ChatMessage.objects.get(conversation=conversation, content="Great, thank you!")
        expect(container.locator("> [data-live='message']", has_text="Great, thank you").locator("time")).to_have_text(
            _clock(greeting.timestamp, zone)
        )
        self._shot(page, "thread-laptop")
        phone = self._open(
            self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=PHONE, phone=True
        )
        expect(phone.locator(f"#messages-{conversation.pk} > [data-day-separator]")).to_have_count(3)
        self._shot(phone, "thread-phone")
        assert page.errors == [] and phone.errors == [], (page.errors, phone.errors)

    def test_the_time_zone_setting_changes_the_times_shown(self) -> None:
        from playwright.sync_api import expect

        conversation, (message,) = self._conversation("Elena Greco", ["Is the shop open?"], minutes_ago=2)
        when = message.timestamp
        self._set_clock(self.staff_a, zone="Asia/Tokyo", clock="24")
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/")
        stamp = page.locator(f"#message-{message.pk} time")
        tokyo = _clock(when, "Asia/Tokyo")
        expect(stamp).to_have_text(tokyo)
        assert not stamp.inner_text().startswith("0") or tokyo.startswith("0:")

        self._set_clock(self.staff_a, zone="America/New_York", clock="12")
        page.reload()
        local = when.astimezone(zoneinfo.ZoneInfo("America/New_York"))
        twelve = f"{local.hour % 12 or 12}:{local:%M}"
        expect(stamp).to_contain_text(twelve)
        expect(stamp).to_contain_text("AM" if local.hour < 12 else "PM")
        assert stamp.inner_text() != tokyo
        assert page.errors == [], page.errors

    # --- photos ----------------------------------------------------------------------------------------

    def test_photos_open_in_a_lightbox_and_small_ones_keep_their_size(self) -> None:
        from playwright.sync_api import expect

        conversation, messages = self._conversation(
            "Giulia Bianchi", ["", "", "This one, please", "", ""], every=timedelta(minutes=1)
        )
        sizes = {0: (480, 320), 1: (300, 420), 3: (40, 30)}
        for index, (w, h) in sizes.items():
            attachment = AttachmentFactory(
                message=messages[index],
                type="image",
                state=Attachment.State.STORED,
                mime_type="image/png",
                name=f"cake-{index}.png",
                position=0,
            )
            attachment.file.save(f"cake-{index}.png", ContentFile(_png(w, h, tint=index * 40)), save=True)
        sticker = AttachmentFactory(
            message=messages[4],
            type="sticker",
            state=Attachment.State.STORED,
            mime_type="image/png",
            name="sticker.png",
            position=0,
        )
        sticker.file.save("sticker.png", ContentFile(_png(240, 240, tint=90)), save=True)
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=LAPTOP)
        photos = page.locator(f"#messages-{conversation.pk} .att-image img")
        expect(photos).to_have_count(3)
        for i in range(3):
            expect(photos.nth(i)).to_have_js_property("complete", True)
        small = photos.nth(2)
        expect(small).to_have_class(re.compile(r"\bis-small\b"))
        box = small.bounding_box()
        assert box and box["width"] <= 41 and box["height"] <= 31, box  # not blown up
        big = photos.nth(0).bounding_box()
        assert big and min(big["width"], big["height"]) >= 120, big
        shown = page.locator(f"#messages-{conversation.pk} .att-sticker img").bounding_box()
        assert shown and 64 <= shown["width"] <= 120 and 64 <= shown["height"] <= 120, shown

        photos.nth(0).click()
        lightbox = page.locator("dialog.lightbox")
        expect(lightbox).to_be_visible()
        expect(lightbox.locator(".lightbox-img")).to_have_attribute("src", re.compile(r"/attachments?/"))
        first_src = lightbox.locator(".lightbox-img").get_attribute("src")
        expect(lightbox.locator(".lightbox-caption")).to_have_text("Photo 1 of 3")
        expect(lightbox.locator(".lightbox-prev")).to_be_hidden()
        self._shot(page, "thread-lightbox")
        page.keyboard.press("ArrowRight")
        expect(lightbox.locator(".lightbox-caption")).to_have_text("Photo 2 of 3")
        assert lightbox.locator(".lightbox-img").get_attribute("src") != first_src
        page.keyboard.press("ArrowLeft")
        expect(lightbox.locator(".lightbox-caption")).to_have_text("Photo 1 of 3")
        page.keyboard.press("Escape")
        expect(lightbox).to_be_hidden()
        # The focus is back on the photo's link: Enter opens it again.
        expect(page.locator(f"#message-{messages[0].pk} .att-image a")).to_be_focused()
        page.keyboard.press("Enter")
        expect(lightbox).to_be_visible()
        # A click beside the photo closes it.
        page.mouse.click(10, 450)
        expect(lightbox).to_be_hidden()
        # The page did not navigate to the photo.
        assert f"/inbox/c/{conversation.public_id}/" in page.url
        assert page.errors == [], page.errors

    # --- search -----------------------------------------------------------------------------------------

    def test_a_search_result_opens_at_the_matching_message_marked(self) -> None:
        from playwright.sync_api import expect

        texts = [f"Line {i}: nothing special here" for i in range(70)]
        texts[12] = "Could you add a TIRAMISU for Sunday?"
        texts[20] = "The tiramisu was perfect, grazie!"
        conversation, messages = self._conversation("Giulia Bianchi", texts, every=timedelta(minutes=2))
        self._conversation("Tom Baker", ["Thanks, see you then!"], minutes_ago=3)
        page = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        page.locator(".search input[name='q']").fill("tiramisu")
        expect(page.locator(ROWS)).to_have_count(1)
        page.locator(f"#conversation-{conversation.pk} .conv-link").click()

        match = page.locator(f"#message-{messages[20].pk}")
        expect(match).to_have_attribute("data-match", "tiramisu")
        mark = match.locator("mark.search-hit")
        expect(mark).to_have_text("tiramisu")
        expect(mark).to_be_in_viewport()
        # Only this message is marked, and the text around the mark is the message's own.
        expect(page.locator("#conversation-pane mark")).to_have_count(1)
        expect(match.locator(".msg-text")).to_have_text("The tiramisu was perfect, grazie!")
        # The newest message is not loaded yet; scrolling down brings it, in order.
        newest = page.locator(f"#message-{messages[-1].pk}")
        expect(newest).to_have_count(0)
        self._shot(page, "thread-search")
        for _ in range(10):
            if newest.count():
                break
            page.locator(f"#messages-{conversation.pk} > [data-live='message']").last.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
        expect(newest).to_have_count(1)
        ids = [
            int(el.split("-")[1])
            for el in page.locator(f"#messages-{conversation.pk} > [data-live='message']").evaluate_all(
                "els => els.map(e => e.id)"
            )
        ]
        # In order, without gaps or repeats, from what led up to the match to the newest.
        assert ids == [m.pk for m in messages if m.pk in ids]
        assert ids[-1] == messages[-1].pk and len(ids) == len(set(ids))
        assert ids == [m.pk for m in messages[messages.index(next(m for m in messages if m.pk == ids[0])) :]]
        assert page.errors == [], page.errors

        # On a phone the same.
        phone = self._open(
            self.staff_a, self.business_a, viewport=PHONE, phone=True, path=f"/inbox/c/{conversation.public_id}/?q=tiramisu"
        )
        expect(phone.locator(f"#message-{messages[20].pk} mark.search-hit")).to_be_in_viewport()
        phone.wait_for_timeout(500)  # a reconnect's catch-up would reload the pane at the newest
        expect(phone.locator(f"#message-{messages[20].pk} mark.search-hit")).to_be_in_viewport()
        self._shot(phone, "thread-search-phone")
        # A reply from there: the thread's end is shown, with the reply in it.
        phone.locator(f"#reply-text-{conversation.pk}").fill("Tiramisu for Sunday it is!")
        phone.locator(f"#reply-text-{conversation.pk}").press("Enter")
        thread = phone.locator(f"#messages-{conversation.pk}")
        expect(thread.locator("> [data-live='message']").last).to_contain_text("Tiramisu for Sunday it is!")
        expect(thread.locator(f"#message-{messages[-1].pk}")).to_have_count(1)
        expect(thread.locator("> [data-newer]")).to_have_count(0)
        assert phone.errors == [], phone.errors
