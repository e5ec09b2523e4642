"""bench/pages.py compares a page's query count with the small business's only when both found rows or
both found nothing: it recognises the conversation list's empty state by EMPTY_LIST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bench.pages import EMPTY_LIST
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["", "?reply=expiring", "?status=resolved"])
def test_an_empty_list_carries_the_marker(client_member, page, query):
    response = client_member.get(reverse("inbox:conversation_list") + query)

    assert response.status_code == 200
    assert EMPTY_LIST in response.content


def test_a_search_that_finds_nothing_carries_it(client_member, page):
    # What the search box requests as staff type (the page by its address fetches these right after).
    response = client_member.get(reverse("inbox:conversation_list") + "?q=zeppelin",
                                 HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-results")

    assert response.status_code == 200
    assert EMPTY_LIST in response.content


def test_a_list_with_rows_does_not(client_member, page):
    ConversationFactory(contact=ContactFactory(account=page, name="Ada Rossi"))

    response = client_member.get(reverse("inbox:conversation_list"))

    assert b"Ada Rossi" in response.content
    assert EMPTY_LIST not in response.content
