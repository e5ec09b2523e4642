"""The Pages picker after Facebook's dialog: what the person allowed is ticked, what can't be connected is not."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sandbox.testing import sandbox_http_fixture  # noqa: F401 - fixture
from social.tests.factories import SocialAccountFactory
from social.tests.test_views import BAKERY, BAKERY_IG, CATERING, GALLERY, OLGA, start_connect

pytestmark = pytest.mark.django_db


def _ticked(html: str) -> set[str]:
    return set(re.findall(r'<input type="checkbox" name="(?:pages|instagram)" value="(\d+)" checked>', html))


def _disabled(html: str) -> set[str]:
    return set(re.findall(r'<input type="checkbox" name="(?:pages|instagram)" value="(\d+)" disabled>', html))


def test_the_pages_allowed_in_the_dialog_are_ticked(sandbox_http, client_member):
    client_member.get(start_connect(client_member, pages=[CATERING]))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert _ticked(html) == {CATERING}


def test_a_page_and_its_instagram_account_are_both_ticked(sandbox_http, client_member):
    client_member.get(start_connect(client_member, pages=[BAKERY, CATERING]))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert _ticked(html) == {BAKERY, BAKERY_IG, CATERING}


def test_a_page_that_cannot_be_connected_is_not_ticked(sandbox_http, client_member, other_business):
    # Olga manages Bakery Rossi too, but another business has it.
    SocialAccountFactory(business=other_business, account_id=BAKERY, account_name="Bakery Rossi")
    client_member.get(start_connect(client_member, fb_id=OLGA))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert BAKERY in _disabled(html) and BAKERY not in _ticked(html)
    assert "104857600654321" in _ticked(html)  # her own Other Shop


def test_a_page_without_the_messaging_task_is_not_ticked(sandbox_http, client_member):
    client_member.get(start_connect(client_member, fb_id="10215241773839999"))  # Anna
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert GALLERY in _disabled(html) and GALLERY not in _ticked(html)


def test_a_refused_choice_comes_back_as_it_was_made(sandbox_http, client_member):
    client_member.get(start_connect(client_member, pages=[BAKERY, CATERING]))
    html = client_member.post(reverse("social:connect_pages"), {}).content.decode()
    assert "Choose at least one" in html
    assert _ticked(html) == set()  # nothing was ticked: nothing is ticked again behind the person's back
