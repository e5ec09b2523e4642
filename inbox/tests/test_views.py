from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from inbox.models import Attachment, ChatMessage, Conversation
from inbox.services.replies import attachment_public_url
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.views.conversations import MESSAGE_PAGE_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _ids(response, prefix: str) -> list[int]:
    return [int(pk) for pk in re.findall(rf'id="{prefix}-(\d+)"', response.content.decode())]


def _queries(client, url: str, **extra) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(ctx)


def _conversations(page, n: int, **kwargs) -> list[Conversation]:
    now = timezone.now()
    return [
        ConversationFactory(
            contact=ContactFactory(account=page), last_message_at=now - timedelta(minutes=i),
            last_message_preview=f"preview {i}", **kwargs,
        )
        for i in range(n)
    ]


def _messages(conversation, n: int, **kwargs) -> list[ChatMessage]:
    now = timezone.now()
    return [ChatMessageFactory(conversation=conversation, timestamp=now - timedelta(seconds=n - i), **kwargs)
            for i in range(n)]


# --- conversation list -------------------------------------------------------------------------------


def test_list_shows_the_business_conversations_only(client_member, page, other_page):
    mine = ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))
    ConversationFactory(contact=ContactFactory(account=other_page, name="Somebody Else"))
    response = client_member.get(reverse("inbox:conversation_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="conversation-{mine.pk}"' in html
    assert "Giulia Bianchi" in html
    assert "Somebody Else" not in html
    assert 'ws-connect="/ws/inbox/"' in html


def test_the_list_and_a_conversation_never_decrypt_the_page_tokens(client_member, page):
    """They show the page's name; its tokens stay encrypted (and cost nothing to load)."""
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))
    ChatMessageFactory(conversation=conversation, content="Hello")
    with mock.patch("social.crypto.decrypt", side_effect=AssertionError("a token was decrypted")):
        assert client_member.get(reverse("inbox:conversation_list")).status_code == 200
        assert client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).status_code == 200


def test_list_query_count_does_not_grow_with_the_data(client_member, page, django_assert_max_num_queries):
    url = reverse("inbox:conversation_list")
    _conversations(page, 5, unread_count=2)
    few = _queries(client_member, url)
    _conversations(page, 45, unread_count=1)
    with django_assert_max_num_queries(few):
        response = client_member.get(url)
    assert response.content.decode().count('data-live="row"') == 50


def test_list_is_keyset_paginated_without_overlap(client_member, page, settings):
    settings.INBOX_PAGE_SIZE = 3
    rows = _conversations(page, 7)
    # Two conversations at the very same instant: the id settles their order.
    Conversation.objects.filter(pk=rows[3].pk).update(last_message_at=rows[2].last_message_at)
    url = reverse("inbox:conversation_list")
    seen: list[int] = []
    response = client_member.get(url)
    for _ in range(5):
        seen += _ids(response, "conversation")
        cursor = re.search(r"cursor=([0-9.]+)", response.content.decode())
        if not cursor:
            break
        response = client_member.get(url, {"cursor": cursor.group(1)}, **HTMX)
        assert b"<html" not in response.content
    assert sorted(seen) == sorted(c.pk for c in rows)
    assert len(seen) == len(set(seen)) == 7


def test_list_sql_uses_no_offset_and_no_count(client_member, page):
    _conversations(page, 3)
    with CaptureQueriesContext(connection) as ctx:
        client_member.get(reverse("inbox:conversation_list"))
    sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
    assert "OFFSET" not in sql
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    # The only counts are of unread conversations per page and of open conversations per assignee /
    # team (the Assigned views), and each stops at a cap (a LIMIT inside).
    assert counts and all("LIMIT" in q.upper() for q in counts)
    assert all("unread_count > 0" in q or "assignee_id" in q for q in counts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"open-read", "open-unread", "open-urgent"}),
        ({"status": "resolved"}, {"resolved"}),
        ({"status": "pending"}, {"pending"}),
        ({"status": "snoozed"}, {"snoozed"}),
        ({"status": "archived"}, {"open-read", "open-unread", "open-urgent"}),  # no longer a status: Open
        ({"unread": "1"}, {"open-unread"}),
        ({"priority": "any"}, {"open-urgent"}),
        ({"priority": "urgent"}, {"open-urgent"}),
    ],
)
def test_list_filters(client_member, page, query, expected):
    names = {
        "open-read": {}, "open-unread": {"unread_count": 3}, "open-urgent": {"priority": "urgent"},
        "resolved": {"status": "resolved"}, "pending": {"status": "pending"},
        "snoozed": {"status": "snoozed", "snoozed_until": timezone.now() + timedelta(hours=1)},
    }
    for name, fields in names.items():
        ConversationFactory(contact=ContactFactory(account=page, name=name), **fields)
    response = client_member.get(reverse("inbox:conversation_list"), query)
    shown = {c.contact.name for c in response.context["page"].conversations}
    assert shown == expected


def test_list_filters_by_page(client_member, business, page):
    from social.tests.factories import SocialAccountFactory

    second = SocialAccountFactory(business=business, account_name="Second page")
    ConversationFactory(contact=ContactFactory(account=page, name="On first"))
    ConversationFactory(contact=ContactFactory(account=second, name="On second"))
    response = client_member.get(reverse("inbox:conversation_list"), {"page": str(second.public_id)})
    assert [c.contact.name for c in response.context["page"].conversations] == ["On second"]


def test_list_search_finds_names_and_message_text(client_member, page, other_page):
    by_name = ConversationFactory(contact=ContactFactory(account=page, name="Marco Polo"))
    by_text = ConversationFactory(contact=ContactFactory(account=page, name="Anna"), last_message_preview="ok")
    ChatMessageFactory(conversation=by_text, content="Do you deliver to Venezia?")
    ConversationFactory(contact=ContactFactory(account=page, name="Nobody"))
    foreign = ConversationFactory(contact=ContactFactory(account=other_page, name="Marco Foreign"))
    ChatMessageFactory(conversation=foreign, content="venezia too")

    by_marco = client_member.get(reverse("inbox:conversation_list"), {"q": "marco"},
                                 HTTP_HX_TARGET="conversation-results", **HTMX)
    assert _ids(by_marco, "conversation") == [by_name.pk]
    # Opened by its address, the search page carries the list's chrome and fetches these same results.
    page_html = client_member.get(reverse("inbox:conversation_list"), {"q": "marco"}).content.decode()
    assert f'id="conversation-{by_name.pk}"' not in page_html
    assert re.search(r'<div id="conversation-results"[^>]*hx-get="[^"]*q=marco[^"]*"[^>]*hx-trigger="load"', page_html)
    found = client_member.get(reverse("inbox:conversation_list"), {"q": "venezia"}, HTTP_HX_TARGET="conversation-results",
                              **HTMX)
    assert _ids(found, "conversation") == [by_text.pk]
    assert b'id="conversation-results"' in found.content
    assert b"<html" not in found.content
    assert by_name.pk


def test_list_shows_unread_totals_per_page(client_member, page):
    _conversations(page, 2, unread_count=4)
    _conversations(page, 1)
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert f'id="unread-account-{page.pk}"' in html
    assert 'id="unread-total"' in html
    counters = client_member.get(reverse("inbox:conversation_list")).context["counters"]
    assert counters.unread_conversations == 2


def test_list_needs_login(client):
    response = client.get(reverse("inbox:conversation_list"))
    assert response.status_code == 302


# --- conversation detail -------------------------------------------------------------------------------


def test_detail_shows_history_and_marks_read(client_member, member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), unread_count=2)
    inbound = _messages(conversation, 2, is_read=False)
    outbound = ChatMessageFactory(
        conversation=conversation, direction="outbound", source="inbox", status="delivered", content="We open at 9"
    )
    response = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]))
    assert response.status_code == 200
    html = response.content.decode()
    for message in [*inbound, outbound]:
        assert f'id="message-{message.pk}"' in html
    assert "msg-inbound" in html and "msg-outbound" in html
    assert "tick-delivered" in html
    assert f'id="messages-{conversation.pk}"' in html
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    assert ChatMessage.objects.filter(conversation=conversation, direction="inbound", is_read=True,
                                      read_by=member).count() == 2


def test_detail_of_another_business_is_404(client_other, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), unread_count=1)
    message = ChatMessageFactory(conversation=conversation, is_read=False)
    assert client_other.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).status_code == 404
    assert client_other.get(reverse("inbox:message_list", args=[conversation.public_id])).status_code == 404
    message.refresh_from_db()
    assert message.is_read is False


def test_detail_query_count_does_not_grow_with_the_data(client_member, page, django_assert_max_num_queries):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    url = reverse("inbox:conversation_detail", args=[conversation.public_id])
    _messages(conversation, 5, is_read=True)
    AttachmentFactory(message=ChatMessage.objects.filter(conversation=conversation).first())
    _conversations(page, 5)
    few = _queries(client_member, url)
    msgs = _messages(conversation, 45, is_read=True)
    for message in msgs[:20]:
        AttachmentFactory(message=message)
        ChatMessageFactory(conversation=conversation, reply_to=message, is_read=True)
    _conversations(page, 45)
    with django_assert_max_num_queries(few):
        response = client_member.get(url)
    assert response.content.decode().count('data-live="message"') == MESSAGE_PAGE_SIZE


def test_detail_by_its_address_carries_the_thread_and_loads_the_lists_rows_after(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    others = _conversations(page, 3)
    url = reverse("inbox:conversation_detail", args=[conversation.public_id])

    html = client_member.get(url, {"unread": "1", "page": str(page.public_id)}).content.decode()

    assert 'id="conversation-pane"' in html and f'data-conversation="{conversation.pk}"' in html
    assert not any(f'id="conversation-{c.pk}"' in html for c in others)
    # The results column asks for the same filtered list as soon as the page is in (`#results`).
    results = re.search(r'<div id="conversation-results"[^>]*>', html).group(0)
    assert 'hx-trigger="load"' in results and 'hx-target="this"' in results
    assert 'data-unread="1"' in results and f'data-account="{page.public_id}"' in results
    list_url = re.search(r'hx-get="([^"]+)"', results).group(1).replace("&amp;", "&")
    assert "unread=1" in list_url and f"page={page.public_id}" in list_url

    Conversation.objects.filter(pk=others[0].pk).update(unread_count=1)
    rows = client_member.get(list_url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-results")
    rows_html = rows.content.decode()
    assert rows_html.lstrip().startswith('<div id="conversation-results"')
    assert f'id="conversation-{others[0].pk}"' in rows_html
    assert f'id="conversation-{others[1].pk}"' not in rows_html  # read: not in the Unread view


def test_detail_for_htmx_is_the_pane_only(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="conversation-pane"')
    assert "<html" not in html


# What a page's chrome queries: the access banner (its own query on pages without the sidebar), the
# sidebar's unread counts and its assignment counts.
BANNER_SQL = "'needs_reconnect'"
CHROME_SQL = (BANNER_SQL, "unread_capped", "SELECT 'member'")


def _chrome_queries(client, url: str, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **headers).status_code == 200
    return [q["sql"] for q in captured.captured_queries if any(part in q["sql"] for part in CHROME_SQL)]


def test_the_fragments_staff_load_all_day_skip_the_pages_chrome(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name="Marco Polo"))
    list_url = reverse("inbox:conversation_list")
    results = {"HTTP_HX_TARGET": "conversation-results", **HTMX}

    page_sql = " ".join(_chrome_queries(client_member, list_url))
    # The page shows them all; its banner is read from the sidebar's accounts (test_token_expiry.py).
    assert all(part in page_sql for part in CHROME_SQL if part != BANNER_SQL)
    assert BANNER_SQL in " ".join(_chrome_queries(client_member, reverse("accounts:team")))
    assert _chrome_queries(client_member, f"{list_url}?q=marco", **results) == []
    assert _chrome_queries(client_member, reverse("inbox:conversation_detail", args=[conversation.public_id]),
                           **HTMX) == []


def test_results_with_no_rows_still_tell_why(client_member, business, page):
    list_url = reverse("inbox:conversation_list")
    results = {"HTTP_HX_TARGET": "conversation-results", **HTMX}

    assert b"Nothing here yet" in client_member.get(list_url, **results).content
    page.delete()
    assert b"No pages connected yet" in client_member.get(list_url, **results).content


def test_older_messages_are_keyset_paged(client_member, page, monkeypatch):
    monkeypatch.setattr("inbox.views.conversations.MESSAGE_PAGE_SIZE", 4)
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    messages = _messages(conversation, 10, is_read=True)
    first = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]))
    shown = [m.pk for m in first.context["message_page"].messages]
    assert shown == [m.pk for m in messages[-4:]]
    cursor = first.context["message_page"].older_cursor
    older = client_member.get(reverse("inbox:message_list", args=[conversation.public_id]), {"before": cursor}, **HTMX)
    assert _ids(older, "message") == [m.pk for m in messages[2:6]]
    assert b'hx-trigger="revealed, intersect once"' in older.content


def test_older_messages_query_count_is_flat(client_member, page, django_assert_max_num_queries):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    url = reverse("inbox:message_list", args=[conversation.public_id])
    _messages(conversation, 5)
    few = _queries(client_member, url, **HTMX)
    _messages(conversation, 45)
    with django_assert_max_num_queries(few):
        client_member.get(url, **HTMX)


def test_catch_up_returns_messages_after_the_last_seen(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    seen = _messages(conversation, 3, is_read=True)
    missed = ChatMessageFactory(conversation=conversation, content="while you were away", is_read=True)
    other = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)))
    html = client_member.get(
        reverse("inbox:message_list", args=[conversation.public_id]), {"after": seen[-1].pk}
    ).content.decode()
    assert f'id="message-{missed.pk}"' in html
    assert f'id="message-{other.pk}"' not in html
    assert f'id="conversation-{conversation.pk}"' in html


# --- actions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["conversation_unread", "conversation_resolve", "conversation_reopen",
                                  "conversation_pending", "conversation_snooze", "conversation_unsnooze",
                                  "conversation_read", "conversation_priority", "reply"])
def test_actions_of_another_business_are_404(client_other, page, name):
    conversation = ConversationFactory(contact=ContactFactory(account=page), status="snoozed")
    response = client_other.post(
        reverse(f"inbox:{name}", args=[conversation.public_id]), {"priority": "high", "text": "x", "preset": "1h"}
    )
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.priority == "none" and conversation.status == "snoozed"
    assert not ChatMessage.objects.filter(conversation=conversation).exists()


def test_actions_are_post_only(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    assert client_member.get(reverse("inbox:conversation_resolve", args=[conversation.public_id])).status_code == 405


def test_resolve_answers_htmx_with_the_live_fragments(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.post(reverse("inbox:conversation_resolve", args=[conversation.public_id]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="conversation-{conversation.pk}"' in html
    assert 'data-status="resolved"' in html
    assert f'id="conversation-header-{conversation.pk}"' in html
    assert AuditEvent.objects.filter(action="conversation.resolved", target_id=str(conversation.pk)).exists()


def test_resolve_without_htmx_redirects_to_the_list(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.post(reverse("inbox:conversation_resolve", args=[conversation.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation_list")


def test_priority_rejects_unknown_values(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.post(reverse("inbox:conversation_priority", args=[conversation.public_id]), {"priority": "max"})
    assert response.status_code == 400
    conversation.refresh_from_db()
    assert conversation.priority == "none"


def test_reply_inside_the_window_is_queued_and_sent_after_commit(
    client_member, member, page, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_inbound_at=timezone.now())
    with mock.patch("inbox.tasks.message_send.apply_async") as delay, django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hello!"}, **HTMX)
    assert response.status_code == 200
    message = ChatMessage.objects.get(conversation=conversation)
    assert (message.direction, message.status, message.source, message.sent_by) == ("outbound", "queued", "inbox", member)
    assert f'id="message-{message.pk}"' in response.content.decode()
    assert delay.call_args.args[0] == (message.pk,)


def test_reply_outside_the_window_is_refused_with_the_reason(client_member, page):
    conversation = ConversationFactory(
        contact=ContactFactory(account=page), last_inbound_at=timezone.now() - timedelta(days=2)
    )
    detail = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "Replies are paused" in detail
    assert "within 24 hours" in detail
    with mock.patch("inbox.tasks.message_send.apply_async") as delay:
        response = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hello?"}, **HTMX)
    assert response.status_code == 422
    assert "within 24 hours" in response.content.decode()
    assert not ChatMessage.objects.filter(conversation=conversation).exists()
    delay.assert_not_called()


def test_reply_empty_is_refused(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "  "}, **HTMX)
    assert response.status_code == 422
    assert "Write a reply" in response.content.decode()


def test_retry_of_another_business_is_404(client_other, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    failed = ChatMessageFactory(conversation=conversation, direction="outbound", source="inbox", status="failed",
                                message_id=None)
    assert client_other.post(reverse("inbox:message_retry", args=[failed.public_id])).status_code == 404
    failed.refresh_from_db()
    assert failed.status == "failed"


# --- attachments -------------------------------------------------------------------------------------


def _stored(page, *, name="photo.png", mime="image/png", content=b"\x89PNG fake", type_="image", **kwargs):
    message = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)), **kwargs)
    attachment = AttachmentFactory(message=message, type=type_, state=Attachment.State.STORED, mime_type=mime, name=name)
    attachment.file.save(name, ContentFile(content), save=True)
    return attachment


def test_attachment_download_serves_our_copy(client_member, page):
    attachment = _stored(page)
    response = client_member.get(reverse("inbox:attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]


def test_attachment_download_of_another_business_is_404(client_other, page):
    attachment = _stored(page)
    assert client_other.get(reverse("inbox:attachment_download", args=[attachment.pk])).status_code == 404


def test_attachment_not_stored_is_404_and_labelled(client_member, page):
    message = ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=page)))
    attachment = AttachmentFactory(message=message, type="file", state=Attachment.State.FAILED)
    assert client_member.get(reverse("inbox:attachment_download", args=[attachment.pk])).status_code == 404
    html = client_member.get(reverse("inbox:conversation_detail", args=[message.conversation.public_id])).content.decode()
    assert "File not stored" in html


def test_attachment_html_is_never_served_inline(client_member, page):
    attachment = _stored(page, name="page.html", mime="text/html", content=b"<script>alert(1)</script>", type_="file")
    response = client_member.get(reverse("inbox:attachment_download", args=[attachment.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_attachment_kinds_render_as_what_they_are(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    message = ChatMessageFactory(conversation=conversation, content="")
    AttachmentFactory(message=message, type="location", state="skipped", url="",
                      payload={"coordinates": {"lat": 45.4408, "long": 12.3155}})
    AttachmentFactory(message=message, type="sticker", state="skipped",
                      url="https://scontent.xx.fbcdn.net/sticker.png", payload={"sticker_id": 369239263222822})
    AttachmentFactory(message=message, type="image", state="skipped",
                      url="https://scontent.xx.fbcdn.net/sticker.png", payload={"sticker_id": 369239263222822})
    AttachmentFactory(message=message, type="fallback", state="skipped", url="",
                      payload={"url": "https://example.com/menu", "title": "Our menu"})
    AttachmentFactory(message=message, type="audio", state="pending", url="https://cdn.fbsbx.com/a.mp4")
    AttachmentFactory(message=message, type="video", state="failed", url="https://cdn.fbsbx.com/v.mp4")
    AttachmentFactory(message=message, type="image", state="stored", url="https://cdn/x.jpg")
    postback = ChatMessageFactory(conversation=conversation, kind="postback", content="Talk to a human")
    meta = ChatMessageFactory(conversation=conversation, direction="outbound", source="meta", status="sent")
    edited = ChatMessageFactory(conversation=conversation, edit_count=1, reaction="\u2764\ufe0f")
    deleted = ChatMessageFactory(conversation=conversation, is_deleted=True, content="secret")
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "https://www.openstreetmap.org/?mlat=45.440800&amp;mlon=12.315500" in html
    assert html.count("fbcdn.net/sticker.png") == 1  # the legacy image twin of the sticker is hidden
    assert 'href="https://example.com/menu"' in html and "Our menu" in html
    assert '<audio controls preload="none" src="https://cdn.fbsbx.com/a.mp4">' in html
    assert "Video not stored" in html
    assert "tapped <strong>Talk to a human</strong>" in html
    assert f'id="message-{postback.pk}" class="msg-system"' in html
    assert "Sent from Meta's apps" in html and f'id="message-{meta.pk}"' in html
    assert "edited" in html and "\u2764\ufe0f" in html and f'id="message-{edited.pk}"' in html
    assert "Message unsent" in html and "secret" not in html and f'id="message-{deleted.pk}"' in html


def test_failed_reply_shows_the_reason_and_a_retry_button(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    failed = ChatMessageFactory(conversation=conversation, direction="outbound", source="inbox", status="failed",
                                message_id=None, error="This person isn't available right now.", error_code=551)
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "available right now" in html and "Meta error 551" in html
    assert reverse("inbox:message_retry", args=[failed.public_id]) in html


def test_public_attachment_url_is_signed_and_only_for_replies(client, page, settings):
    settings.SITE_URL = "https://inbox.example.com"
    outbound = _stored(page, direction="outbound", source="inbox", status="queued", message_id=None)
    url = attachment_public_url(attachment=outbound)
    assert url.startswith("https://inbox.example.com/inbox/attachments/s/")
    path = url.removeprefix("https://inbox.example.com")
    assert client.get(path).status_code == 200
    assert client.get(path[:-3] + "xyz/").status_code == 404
    inbound = _stored(page)
    assert client.get(attachment_public_url(attachment=inbound).removeprefix("https://inbox.example.com")).status_code == 404


def test_reply_with_a_file_stores_it_and_sends_two_messages(client_member, page, django_capture_on_commit_callbacks):
    conversation = ConversationFactory(contact=ContactFactory(account=page), last_inbound_at=timezone.now())
    upload = SimpleUploadedFile("menu.pdf", b"%PDF-1.4 menu", content_type="application/pdf")
    with mock.patch("inbox.tasks.message_send.apply_async") as delay, django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(
            reverse("inbox:reply", args=[conversation.public_id]), {"text": "Here it is", "file": upload}, **HTMX
        )
    assert response.status_code == 200
    file_message, text_message = ChatMessage.objects.filter(conversation=conversation).order_by("timestamp", "pk")
    assert file_message.content == "" and file_message.attachments.get().type == "file"
    assert text_message.content == "Here it is"
    assert delay.call_count == 2


def test_contact_picture_of_another_business_is_404(client_other, page):
    contact = ContactFactory(account=page)
    contact.picture.save("p.jpg", ContentFile(b"jpg"), save=True)
    assert client_other.get(reverse("inbox:contact_picture", args=[contact.pk])).status_code == 404


# --- dashboard -----------------------------------------------------------------------------------------


def test_dashboard_counts_per_page(client_member, business, page, other_page):
    _conversations(page, 3, unread_count=2)
    resolved = _conversations(page, 1, status="resolved")
    _messages(resolved[0], 4)
    _conversations(other_page, 2, unread_count=5)
    response = client_member.get(reverse("inbox:dashboard"))
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert (row.unread_conversations, row.unread_messages, row.open_conversations, row.messages_today) == (3, 6, 3, 4)


def test_dashboard_query_count_is_flat(client_member, business, page, django_assert_max_num_queries):
    from social.tests.factories import SocialAccountFactory

    url = reverse("inbox:dashboard")
    _conversations(page, 5, unread_count=1)
    few = _queries(client_member, url)
    for _ in range(5):
        _conversations(SocialAccountFactory(business=business), 9, unread_count=1)
    with django_assert_max_num_queries(few):
        response = client_member.get(url)
    assert len(response.context["rows"]) == 6


def test_dashboard_of_another_business_shows_nothing_of_ours(client_other, page):
    _conversations(page, 2, unread_count=2)
    response = client_other.get(reverse("inbox:dashboard"))
    assert page.account_name not in response.content.decode()
    assert all(row.account.business_id != page.business_id for row in response.context["rows"])
