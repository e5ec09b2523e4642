"""Richer replies in a real browser: three images attached at once go out as three uploads through the
sandbox's Attachment Upload API and show in the thread; a reply quotes the customer's message; staff
react to it as the page and take the reaction back.

The harness (server or production stack, sandbox, staff, `_open`) is test_browser.py's, inherited. Run:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_richer_replies.py
"""

from __future__ import annotations

import struct
import time
import zlib

import pytest
import requests

from accounts.models import AuditEvent
from inbox.models import ChatMessage, Conversation
from inbox.tests.e2e import test_browser

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def png(red: int, green: int, blue: int) -> bytes:
    """A real 1×1 PNG of one colour (the thread shows it as an image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(b"\x00" + bytes([red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


@pytest.mark.e2e
class RicherRepliesInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def setUp(self) -> None:
        super().setUp()
        # The stack's sandbox keeps every send and upload of the run: this test counts its own, from here.
        self._sent_after = 0
        while batch := self._sent():
            self._sent_after = batch[-1]["id"]
        self._uploads_before = len(self._uploads(mine=False))

    def _sent(self) -> list[dict]:
        return requests.get(f"{self.sandbox_url}/sandbox/control/sent.json",
                            params={"page_id": test_browser.PAGE_A, "after_id": self._sent_after},
                            timeout=5).json()["data"]

    def _uploads(self, *, mine: bool = True) -> list[dict]:
        calls = requests.get(f"{self.sandbox_url}/sandbox/control/calls.json",
                             params={"path": f"/{test_browser.PAGE_A}/message_attachments", "method": "POST"},
                             timeout=5).json()["data"]
        done = [c for c in calls if c["status"] == 200]
        return done[self._uploads_before:] if mine else done

    def _sandbox_gets(self, condition, message: str) -> list[dict]:
        deadline = time.monotonic() + test_browser.TIMEOUT / 1000
        while time.monotonic() < deadline:
            sent = self._sent()
            if condition(sent):
                return sent
            time.sleep(0.2)
        raise AssertionError(message)

    def test_three_images_a_quote_and_a_reaction(self) -> None:
        from playwright.sync_api import expect

        self._customer_writes("Can I see the cakes you have today?")
        conversation = Conversation.objects.get(business=self.business_a, account__account_id=test_browser.PAGE_A)
        asked = ChatMessage.objects.get(conversation=conversation, content="Can I see the cakes you have today?")
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=LAPTOP)
        composer = page.locator(f"#composer-{conversation.pk}")

        # Images picked, pasted and dropped: each a chip, one removed again.
        files = [{"name": f"cake-{i}.png", "mimeType": "image/png", "buffer": png(40 * i, 120, 200)} for i in range(2)]
        composer.locator("input[data-files]").set_input_files(files)
        chips = composer.locator("[data-chip]")
        expect(chips).to_have_count(2)
        page.locator(f"#reply-text-{conversation.pk}").evaluate(
            """(area, [names, bytes]) => names.forEach((name, i) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
                const event = i === 0
                    ? new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true })
                    : new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true });
                area.dispatchEvent(event);
            })""",
            [["cake-pasted.png", "cake-dropped.png"], list(png(250, 180, 60))],
        )
        expect(chips).to_have_count(4)
        composer.get_by_role("button", name="Remove cake-dropped.png").click()
        expect(chips).to_have_count(3)
        expect(composer.locator("[data-chips]")).to_contain_text("cake-pasted.png")

        # Quote the customer's question: "Reply" on their bubble.
        bubble = page.locator(f"#message-{asked.pk}")
        bubble.hover()
        bubble.get_by_role("button", name="Reply to this message").click()
        expect(composer.locator("[data-quote]")).to_contain_text("Can I see the cakes you have today?")
        page.locator(f"#reply-text-{conversation.pk}").fill("Here are today's cakes")
        self._shot(page, "richer-replies-composer-laptop")
        composer.get_by_role("button", name="Send").click()

        thread = page.locator(f"#messages-{conversation.pk}")
        expect(thread.locator(".msg-outbound .att-image img")).to_have_count(3)
        expect(thread.locator(".msg-outbound").filter(has_text="Here are today's cakes")).to_contain_text(
            "Replying to")
        expect(composer.locator("[data-chip]")).to_have_count(0)
        sent = self._sandbox_gets(
            lambda s: sum("attachment" in (x["body"].get("message") or {}) for x in s) == 3
            and any((x["body"].get("message") or {}).get("text") == "Here are today's cakes" for x in s),
            "the sandbox never got three images and the text",
        )
        attachments = [x["body"]["message"]["attachment"] for x in sent if "attachment" in (x["body"].get("message") or {})]
        assert all(set(a["payload"]) == {"attachment_id"} for a in attachments), attachments
        assert len(self._uploads()) == 3
        text = next(x for x in sent if (x["body"].get("message") or {}).get("text") == "Here are today's cakes")
        assert text["body"]["reply_to"] == {"mid": asked.message_id}
        assert [x["body"].get("sender_action") for x in sent].count("typing_on") == 1  # while writing, throttled

        # React as the page, then take it back.
        bubble.hover()
        bubble.get_by_title("React as the page").click()
        bubble.get_by_role("button", name="React ❤️").click()
        reaction = bubble.locator("[data-page-reaction]")
        expect(reaction).to_have_text("❤️")
        self._sandbox_gets(lambda s: any(x["body"].get("sender_action") == "react" for x in s),
                           "the sandbox never got the reaction")
        self._shot(page, "richer-replies-thread-laptop")
        reaction.click()
        expect(bubble.locator("[data-page-reaction]")).to_have_count(0)
        self._sandbox_gets(lambda s: any(x["body"].get("sender_action") == "unreact" for x in s),
                           "the sandbox never got the unreact")
        assert AuditEvent.objects.filter(action="message.reacted", actor=self.staff_a).exists()

        phone = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=PHONE,
                           phone=True)
        expect(phone.locator(f"#messages-{conversation.pk} .msg-outbound .att-image img")).to_have_count(3)
        self._shot(phone, "richer-replies-thread-phone")
        assert page.errors == [] and phone.errors == [], (page.errors, phone.errors)

    def test_a_voice_note_recorded_in_the_browser_goes_out_as_audio(self) -> None:
        from playwright.sync_api import expect

        self._customer_writes("Can you tell me the opening hours?")
        conversation = Conversation.objects.get(business=self.business_a, account__account_id=test_browser.PAGE_A)
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", viewport=LAPTOP)
        page.context.grant_permissions(["microphone"])
        composer = page.locator(f"#composer-{conversation.pk}")

        record = composer.locator("[data-record]")
        expect(record).to_be_visible()  # shown only where the browser can record
        record.click()
        expect(record).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(1500)  # a second and a half of the fake microphone's tone
        record.click()
        chip = composer.locator("[data-chip]")
        expect(chip).to_have_count(1)
        expect(chip).to_contain_text("voice-note-")
        composer.get_by_role("button", name="Send").click()

        expect(page.locator(f"#messages-{conversation.pk} .msg-outbound .att-audio")).to_have_count(1)
        sent = self._sandbox_gets(
            lambda s: any(((x["body"].get("message") or {}).get("attachment") or {}).get("type") == "audio" for x in s),
            "the sandbox never got the voice note",
        )
        audio = next(x["body"]["message"]["attachment"] for x in sent
                     if ((x["body"].get("message") or {}).get("attachment") or {}).get("type") == "audio")
        assert set(audio["payload"]) == {"attachment_id"}
        assert len(self._uploads()) == 1
        assert page.errors == [], page.errors

