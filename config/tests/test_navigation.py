"""The top bar marks the section a page belongs to, by the page's URL name (config/navigation.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _active(html: str) -> list[str]:
    return re.findall(r'class="nav-link is-active">([A-Za-z]+)', html)


@pytest.mark.parametrize(
    ("name", "args", "section"),
    [
        ("inbox:conversation_list", [], "Inbox"),
        ("inbox:dashboard", [], "Dashboard"),
        ("inbox:reports", [], "Reports"),
        ("social:account_list", [], "Pages"),
        ("inbox:channel_health", ["page"], "Pages"),
        ("accounts:team", [], "Team"),
        ("accounts:business_settings", [], "Settings"),
        ("accounts:activity_log", [], "Settings"),
        ("inbox:label_list", [], "Settings"),
        ("accounts:profile", [], None),
    ],
)
def test_each_page_marks_its_section(client_member, page, name, args, section):
    url = reverse(name, args=[page.public_id if arg == "page" else arg for arg in args])
    html = client_member.get(url).content.decode()
    assert _active(html) == ([section] if section else [])


def test_agents_see_no_reports_or_settings(client, business):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation_list")).content.decode()
    assert reverse("inbox:reports") not in html and reverse("accounts:business_settings") not in html
    assert _active(html) == ["Inbox"]
