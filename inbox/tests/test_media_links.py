"""Remote media reaches a staff page only from an allowed media origin.

Until our copy is stored, a customer's picture and attachments are shown from Meta's link. A link
on any other origin (a payload naming a tracker, or the sandbox's plain-http address under production
settings, which the page's CSP would block) is not put in the page: initials or a label show instead.
"""

from __future__ import annotations

import pytest

from inbox.templatetags.inbox_tags import avatar, media_url
from inbox.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

META = "https://scontent.xx.fbcdn.net/v/t1/avatar.jpg?oe=1"


@pytest.fixture(autouse=True)
def _origins(settings):
    settings.MEDIA_FETCH_ALLOWED_ORIGINS = ["https://*.fbcdn.net"]
    settings.MEDIA_FETCH_LOCAL_ORIGINS = []


@pytest.mark.parametrize("url", [
    "https://tracker.example/pixel.gif",
    "http://scontent.xx.fbcdn.net/v/t1/avatar.jpg",  # not https
    "https://fbcdn.net.evil.example/a.jpg",
    "http://127.0.0.1:8003/sandbox/cdn/avatar.png",
    "javascript:alert(1)",
    "",
])
def test_links_outside_the_allowed_origins_are_dropped(url):
    assert media_url(url) == ""


def test_a_link_on_an_allowed_origin_is_kept():
    assert media_url(META) == META


def test_the_avatar_shows_metas_picture_only_from_an_allowed_origin(page):
    shown = ContactFactory(account=page, picture_url=META, name="Giulia Bianchi")
    assert f'src="{META.replace("&", "&amp;")}"' in avatar(shown)
    hidden = ContactFactory(account=page, picture_url="https://tracker.example/p.gif", name="Giulia Bianchi")
    html = avatar(hidden)
    assert "<img" not in html and "GB" in html


def test_the_development_sandbox_origin_is_allowed_when_listed_as_local(settings):
    settings.MEDIA_FETCH_LOCAL_ORIGINS = ["http://127.0.0.1:8003"]
    assert media_url("http://127.0.0.1:8003/sandbox/cdn/avatar.png") != ""
