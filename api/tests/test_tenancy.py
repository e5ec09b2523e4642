"""Another business's key gets a 404 for every object of this business, on every endpoint."""

from __future__ import annotations

from unittest import mock

import pytest

from api.api import api as ninja_api
from inbox.models import ChatMessage, Label

pytestmark = pytest.mark.django_db


def _endpoints(page, conversation, label):
    c = conversation.public_id
    return [
        ("get", f"/accounts/{page.public_id}", None),
        ("get", f"/conversations/{c}", None),
        ("get", f"/conversations/{c}/messages", None),
        ("post", f"/conversations/{c}/messages", {"text": "Hello from elsewhere"}),
        ("post", f"/conversations/{c}/assign", {"assignee": None}),
        ("post", f"/conversations/{c}/status", {"status": "resolved"}),
        ("post", f"/conversations/{c}/labels", {"label": label.name}),
        ("delete", f"/conversations/{c}/labels/{label.name}", None),
        ("post", f"/conversations/{c}/read", None),
    ]


def test_every_object_endpoint_is_in_the_sweep(page, conversation, business):
    """A new endpoint taking an id must join the sweep below."""
    label = Label.objects.create(business=business, name="VIP")
    swept = {(method, path.replace(str(conversation.public_id), "{conversation_id}")
              .replace(str(page.public_id), "{account_id}").replace(label.name, "{label}"))
             for method, path, _ in _endpoints(page, conversation, label)}
    schema = ninja_api.get_openapi_schema()
    with_ids = {
        (method, path.removeprefix("/api/v1"))
        for path, operations in schema["paths"].items() if "{" in path
        for method in operations
    }
    assert with_ids == swept


def test_another_business_key_gets_404_everywhere(other_api, page, conversation, business, other_page):
    label = Label.objects.create(business=business, name="VIP")
    before = (conversation.status, conversation.unread_count, conversation.assignee_id)
    with mock.patch("inbox.tasks.message_send.apply_async") as send:
        for method, path, body in _endpoints(page, conversation, label):
            answer = other_api.delete(path) if method == "delete" else (
                other_api.get(path) if method == "get" else other_api.post(path, body)
            )
            assert answer.status_code == 404, (method, path, answer.content)
            assert answer.json()["error"]["code"] == "not_found"
    assert send.call_count == 0
    conversation.refresh_from_db()
    assert (conversation.status, conversation.unread_count, conversation.assignee_id) == before
    assert not ChatMessage.objects.filter(conversation=conversation, direction="outbound").exists()
    assert not conversation.label_links.exists()


def test_lists_show_only_the_keys_business(other_api, page, conversation, other_page):
    accounts = other_api.get("/accounts").json()["data"]
    assert [a["id"] for a in accounts] == [str(other_page.public_id)]
    assert other_api.get("/conversations").json()["data"] == []
    # Filtering by another business's account finds nothing either.
    assert other_api.get("/conversations", {"account": str(page.public_id)}).json()["data"] == []
