"""Comments in a real browser: a comment on the Page's post arrives live as a comment thread, staff
reply publicly and privately (through the sandbox's Graph API), and the commenter's answer to the
private reply appears in their Messenger conversation, linked from the comment thread.

The harness (server or production stack, sandbox, staff, `_open`) is test_browser.py's, inherited. Run:
    DJANGO_ALLOW_ASYNC_UNSAFE=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python -m pytest -m e2e inbox/tests/e2e/test_comments.py
"""

from __future__ import annotations

import re

import pytest
import requests

from accounts.models import AuditEvent
from inbox.models import ChatMessage, Conversation
from inbox.tests.e2e import test_browser

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def open_actions(comment) -> None:
    """Unfold a comment's "Reply or moderate" panel (a click on an open panel would fold it)."""
    details = comment.locator("details.comment-actions")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


@pytest.mark.e2e
class CommentsInTheBrowserTests(test_browser.InboxInTheBrowserTests):
    def _sandbox(self, path: str, **body) -> dict:
        answer = requests.post(f"{self.sandbox_url}/sandbox/control/{path}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def test_comment_arrives_live_and_is_answered_publicly_and_privately(self) -> None:
        from playwright.sync_api import expect

        page = self._open(self.staff_a, self.business_a, viewport=LAPTOP)
        phone = self._open(self.staff_a2, self.business_a, viewport=PHONE, phone=True)

        made = self._sandbox("comment", page_id=test_browser.PAGE_A, text="Do you bake gluten-free bread?",
                             post_text="Fresh cornetti every morning", **{"from": {"id": test_browser.PSID}})
        self._wait_until(lambda: ChatMessage.objects.filter(message_id=made["comment_id"]).exists(),
                         "the feed webhook was never applied")
        thread = Conversation.objects.get(kind="comments", account__account_id=test_browser.PAGE_A)
        row = page.locator(f"#conversation-{thread.pk}")
        expect(row).to_contain_text("Comment on: Fresh cornetti every morning")  # live, without a reload
        expect(row.locator(".conv-comment")).to_be_visible()
        expect(phone.locator(f"#conversation-{thread.pk}")).to_contain_text("Do you bake gluten-free bread?")
        self._shot(page, "comments-row-laptop")

        row.locator(".conv-link").click()
        header = page.locator(f"#conversation-header-{thread.pk}")
        expect(header.locator(".comment-post")).to_contain_text("Comment on: Fresh cornetti every morning")
        comment = page.locator(f"[data-comment='{made['comment_id']}']")
        expect(comment).to_contain_text("Do you bake gluten-free bread?")
        expect(row).not_to_have_class(re.compile(r"\bis-unread\b"))  # opened and read: no push redraws it now

        # A public reply, posted under the comment.
        open_actions(comment)
        comment.get_by_placeholder("Reply publicly").fill("Yes, every Friday!")
        comment.get_by_role("button", name="Reply publicly").click()
        reply = page.locator(".msg-comment.msg-outbound").filter(has_text="Yes, every Friday!")
        expect(reply).to_contain_text("Posted")
        self._wait_until(lambda: ChatMessage.objects.filter(kind="comment", direction="outbound",
                                                            status="sent").exists(), "the public reply was not sent")

        # A private reply in Messenger: sent once, its echo links the thread to the Messenger conversation.
        comment = page.locator(f"[data-comment='{made['comment_id']}']")
        expect(comment.locator("details.comment-actions")).not_to_have_attribute("open", "")  # folded once sent
        open_actions(comment)
        comment.get_by_placeholder("Reply privately in Messenger").fill("Send us your order here")
        comment.get_by_role("button", name="Send private reply").click()
        expect(header.locator(".comment-post-link")).to_contain_text("Private reply sent")
        expect(comment.locator(".comment-private")).to_contain_text("open the conversation")
        self._shot(page, "comments-private-reply-laptop")

        # The commenter answers in Messenger: a normal messaging webhook from their PSID.
        self._sandbox("comment-answer", comment_id=made["comment_id"], text="Two loaves for Friday please")
        messenger = Conversation.objects.get(kind="messages", account__account_id=test_browser.PAGE_A,
                                             contact__external_id=test_browser.PSID)
        self._wait_until(lambda: messenger.messages.filter(content="Two loaves for Friday please").exists(),
                         "the answer to the private reply never arrived")
        header.locator(".comment-post-link a").click()
        expect(page.locator(f"#conversation-header-{messenger.pk}")).to_be_visible()
        expect(page.locator(".msg-inbound").last).to_contain_text("Two loaves for Friday please")
        expect(page.locator(".msg-outbound").filter(has_text="Send us your order here")).to_be_visible()
        self._shot(page, "comments-messenger-laptop")

        assert AuditEvent.objects.filter(action="comment.reply_queued", actor=self.staff_a).exists()
        assert AuditEvent.objects.filter(action="comment.private_reply_queued", actor=self.staff_a).exists()
        assert page.errors == [] and phone.errors == [], (page.errors, phone.errors)
