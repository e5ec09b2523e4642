"""examples/api_client.py works against the real API: it lists unread conversations and replies once."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
import responses
from django.conf import settings

from inbox.models import ChatMessage

pytestmark = pytest.mark.django_db

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "api_client.py"


def _load():
    spec = importlib.util.spec_from_file_location("api_client_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _forward(client):
    def callback(request):
        url = urlsplit(request.url)
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Idempotency-Key")}
        body = request.body or b""
        answer = client.generic(
            request.method, f"{url.path}?{url.query}" if url.query else url.path, data=body,
            content_type=request.headers.get("Content-Type", "application/json"), headers=headers,
        )
        return answer.status_code, dict(answer.items()), answer.content

    return callback


def test_example_lists_unread_and_replies_once(client, write_key, conversation, capsys, monkeypatch):
    example = _load()
    monkeypatch.setenv("SOCIAL_INBOX_KEY", write_key.secret)
    argv = ["api_client.py", "--url", "http://inbox.test", "--reply", "On its way!", "--idempotency-key", "k-1"]
    with responses.RequestsMock() as rsps, mock.patch("inbox.tasks.message_send.apply_async"):
        rsps.add_callback(responses.GET, re.compile(r"http://inbox\.test/.*"), callback=_forward(client))
        rsps.add_callback(responses.POST, re.compile(r"http://inbox\.test/.*"), callback=_forward(client))
        monkeypatch.setattr(sys, "argv", argv)
        assert example.main() == 0
        monkeypatch.setattr(sys, "argv", argv)  # run again with the same key: nothing new is sent
        assert example.main() == 0
    out = capsys.readouterr().out
    assert str(conversation.public_id) in out and "Giulia Verdi" in out
    assert ChatMessage.objects.filter(conversation=conversation, direction="outbound", content="On its way!").count() == 1
