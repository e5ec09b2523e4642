"""A Page's Messenger profile: the settings screen, its checks against Meta's limits, the push and the
read-back through the sandbox's Graph API, Meta's refusal shown, and who may see the screen."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from sandbox.models import Fault, GraphCall
from sandbox.models import MessengerProfile as SandboxProfile
from sandbox.testing import page_on_sandbox, sandbox_http_fixture  # noqa: F401 - fixture
from social.messenger_profile import profile_parse, profile_properties
from social.models import MessengerProfile, Platform, SocialAccount
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

PAGE_ID = "104857600123456"


@pytest.fixture
def on_sandbox(sandbox_http, page):
    return page_on_sandbox(page)


def url(page) -> str:
    return reverse("social:messenger_profile", args=[page.public_id])


FULL = {
    "greeting": "Hi {{user_first_name}}, welcome to Bakery Rossi!",
    "ice_1_question": "Are you open today?", "ice_1_payload": "HOURS",
    "ice_2_question": "Do you deliver?", "ice_2_payload": "DELIVERY",
    "menu_1_type": "postback", "menu_1_title": "Talk to us", "menu_1_value": "TALK",
    "menu_2_type": "web_url", "menu_2_title": "Our menu", "menu_2_value": "https://bakery.example/menu",
}


def test_the_page_card_links_to_the_profile_screen(client_member, page):
    html = client_member.get(reverse("social:account_list")).content.decode()
    assert url(page) in html


def test_push_and_read_back_in_metas_shapes(client_member, member, page, on_sandbox):
    response = client_member.post(url(page), FULL)

    assert response.status_code == 302
    kept = SandboxProfile.objects.get(page=on_sandbox).properties
    assert kept["greeting"] == [{"locale": "default", "text": FULL["greeting"]}]
    assert kept["ice_breakers"] == [{"call_to_actions": [
        {"question": "Are you open today?", "payload": "HOURS"}, {"question": "Do you deliver?", "payload": "DELIVERY"},
    ], "locale": "default"}]
    assert kept["persistent_menu"] == [{"locale": "default", "composer_input_disabled": False, "call_to_actions": [
        {"type": "postback", "title": "Talk to us", "payload": "TALK"},
        {"type": "web_url", "title": "Our menu", "url": "https://bakery.example/menu"},
    ]}]
    assert kept["get_started"] == {"payload": "GET_STARTED"}
    profile = MessengerProfile.objects.get(account=page)
    assert profile.pushed_by == member and profile.pushed_at is not None and profile.error == ""
    assert profile.meta_profile["greeting"] == kept["greeting"]  # read back from Meta
    assert AuditEvent.objects.filter(action="messenger_profile.pushed", actor=member).exists()
    html = client_member.get(url(page)).content.decode()
    assert "Saved on Meta" in html and "Are you open today?" in html and "https://bakery.example/menu" in html


def test_clearing_a_field_deletes_it_on_meta(client_member, page, on_sandbox):
    client_member.post(url(page), FULL)
    client_member.post(url(page), {**FULL, "greeting": ""})

    kept = SandboxProfile.objects.get(page=on_sandbox).properties
    assert "greeting" not in kept and "ice_breakers" in kept
    assert GraphCall.objects.filter(method="DELETE", path=f"/{PAGE_ID}/messenger_profile", status=200).exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"greeting": "x" * 161}, "The greeting can be at most 160 characters (161 now)."),
    ({f"ice_{n}_{part}": f"{part} {n}" for n in range(1, 6) for part in ("question", "payload")},
     "Meta allows at most 4 ice breakers."),
    ({"menu_1_type": "web_url", "menu_1_title": "Shop", "menu_1_value": "javascript:alert(1)"},
     "A link must be a full https:// or http:// address."),
    ({"menu_1_type": "web_url", "menu_1_title": "Shop", "menu_1_value": "not a url"},
     "A link must be a full https:// or http:// address."),
    ({"ice_1_question": "Only a question"}, "An ice breaker needs a question and a payload."),
    ({"menu_1_title": "x" * 31, "menu_1_value": "P"}, "A menu title can be at most 30 characters."),
    ({f"menu_{n}_{part}": f"{part}{n}" for n in range(1, 7) for part in ("title", "value")},
     "The menu can have at most 5 items."),
])
def test_bad_input_is_refused_and_nothing_is_sent(client_member, page, on_sandbox, data, message):
    response = client_member.post(url(page), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not GraphCall.objects.filter(path=f"/{PAGE_ID}/messenger_profile").exists()
    assert not MessengerProfile.objects.filter(account=page).exists()
    assert data.get("greeting", "")[:20] in response.content.decode()  # what was typed is kept


def test_metas_refusal_is_stored_and_shown(client_member, page, on_sandbox):
    Fault.objects.create(path=f"/{PAGE_ID}/messenger_profile", method="POST", remaining=1, code=100,
                         http_status=400, message="(#100) param greeting[0][text] must be valid")

    response = client_member.post(url(page), FULL)

    assert response.status_code == 302
    profile = MessengerProfile.objects.get(account=page)
    assert profile.error == "Meta refused the profile: (#100) param greeting[0][text] must be valid (error 100)"
    assert profile.pushed_at is None
    html = client_member.get(url(page)).content.decode()
    assert "The last save failed" in html and "param greeting[0][text] must be valid" in html
    assert AuditEvent.objects.filter(action="messenger_profile.push_failed").exists()


def test_the_sandbox_refuses_a_too_long_greeting_like_meta(on_sandbox, page, member):
    from social.graph import InvalidParameterError
    from social.services import account_graph_client

    with pytest.raises(InvalidParameterError) as caught:
        account_graph_client(page).messenger_profile_set(properties={"greeting": [{"locale": "default", "text": "x" * 161}]})
    assert caught.value.code == 100 and "at most 160 characters" in caught.value.message


def test_read_from_meta(client_member, page, on_sandbox):
    SandboxProfile.objects.create(page=on_sandbox, properties={"greeting": [{"locale": "default", "text": "Set in Meta"}]})

    response = client_member.post(reverse("social:messenger_profile_read", args=[page.public_id]))

    assert response.status_code == 302
    assert MessengerProfile.objects.get(account=page).meta_profile == {"greeting": [{"locale": "default", "text": "Set in Meta"}]}
    assert "Set in Meta" in client_member.get(url(page)).content.decode()


def test_another_business_gets_404(client_other, page):
    assert client_other.get(url(page)).status_code == 404
    assert client_other.post(url(page), FULL).status_code == 404
    assert client_other.post(reverse("social:messenger_profile_read", args=[page.public_id])).status_code == 404


def test_an_agent_cannot_see_or_change_the_profile(client, business, page):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)

    assert client.get(url(page)).status_code == 403
    assert client.post(url(page), FULL).status_code == 403
    assert url(page) not in client.get(reverse("social:account_list")).content.decode()
    assert not MessengerProfile.objects.exists()


def test_access_ends_when_the_admin_is_demoted(client, business, page):
    membership = MembershipFactory(business=business, role=Membership.Role.ADMIN)
    client.force_login(membership.user)
    assert client.get(url(page)).status_code == 200

    Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.AGENT)
    assert client.get(url(page)).status_code == 403


def test_an_instagram_account_has_no_messenger_profile_screen(client_member, business, page):
    instagram = SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, page=page)
    assert client_member.get(url(instagram)).status_code == 404


def test_a_disconnected_page_is_not_pushed(client_member, page, on_sandbox):
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.DISCONNECTED)

    response = client_member.post(url(page), FULL)

    assert response.status_code == 400
    assert "reconnect it before changing its Messenger profile" in response.content.decode()
    assert not GraphCall.objects.filter(path=f"/{PAGE_ID}/messenger_profile").exists()


def test_profile_properties_leave_empty_fields_to_delete():
    properties, empty = profile_properties(profile_parse({"greeting": "Hello"}))
    assert properties == {"greeting": [{"locale": "default", "text": "Hello"}]}
    assert empty == ["ice_breakers", "persistent_menu"]
