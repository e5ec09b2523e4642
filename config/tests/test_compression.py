"""Pages travel gzipped to browsers that accept it (config/compression.py); attachments never do."""

from __future__ import annotations

import gzip
import re
import runpy
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from inbox.models import Attachment
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


@pytest.fixture
def inbox_page(page):
    for index in range(5):
        conversation = ConversationFactory(contact=ContactFactory(account=page, name=f"Customer {index}"))
        ChatMessageFactory(conversation=conversation, content="Where is my parcel? " * 5)
    return reverse("inbox:conversation_list")


def test_a_page_is_gzipped_for_a_browser_that_accepts_it(client_member, inbox_page):
    plain = client_member.get(inbox_page)
    packed = client_member.get(inbox_page, **GZIP)
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"] and "Accept-Encoding" in plain["Vary"]
    html = gzip.decompress(packed.content).decode()
    assert int(packed["Content-Length"]) == len(packed.content) < len(html) / 3
    # The same page, but for the CSRF token, which is masked afresh in every response (BREACH).
    tokens = re.compile(r'"[A-Za-z0-9]{64}"')  # a masked CSRF token: 64 letters and digits
    assert tokens.sub("", html) == tokens.sub("", plain.content.decode())
    assert tokens.findall(html) and tokens.findall(html) != tokens.findall(plain.content.decode())


def test_htmx_fragments_are_gzipped_too(client_member, inbox_page):
    response = client_member.get(inbox_page, HTTP_HX_REQUEST="true", **GZIP)
    assert response["Content-Encoding"] == "gzip"
    assert b"conversation-list" in gzip.decompress(response.content)


def test_an_attachment_download_is_never_gzipped(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    message = ChatMessageFactory(conversation=conversation)
    attachment = AttachmentFactory(message=message, type="file", state=Attachment.State.STORED,
                                   mime_type="text/plain", name="notes.txt")
    attachment.file.save("notes.txt", ContentFile(b"plain text " * 100), save=True)
    response = client_member.get(reverse("inbox:attachment_download", args=[attachment.pk]), **GZIP)
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert b"".join(response.streaming_content) == b"plain text " * 100


def test_non_text_answers_are_left_alone(rf):
    from django.http import HttpResponse

    from config.compression import PageGZipMiddleware

    body = bytes(range(256)) * 8
    middleware = PageGZipMiddleware(lambda request: HttpResponse(body, content_type="image/png"))
    response = middleware(rf.get("/", **GZIP))
    assert "Content-Encoding" not in response and response.content == body
    middleware = PageGZipMiddleware(lambda request: HttpResponse("{}" * 200, content_type="application/json"))
    assert middleware(rf.get("/", **GZIP))["Content-Encoding"] == "gzip"


def test_the_web_workers_freeze_the_loaded_app_for_the_garbage_collector(monkeypatch):
    import gc

    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append("collect") or 0)
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn_wsgi.conf.py"))
    config["post_worker_init"](worker=None)
    assert calls == ["collect", "freeze"]
    calls.clear()
    monkeypatch.setenv("WEB_GC_FREEZE", "0")
    config["post_worker_init"](worker=None)
    assert calls == []
