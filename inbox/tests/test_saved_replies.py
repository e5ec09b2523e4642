from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from inbox.models import SavedReply
from inbox.services import saved_replies as saved_reply_services
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example", user__name="Marta Verdi"
    ).user


@pytest.fixture
def client_agent(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def greeting(business):
    return SavedReply.objects.create(business=business, code="hello", text="Hi {{first_name}}, {{ agent_name }} here.")


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))


# --- the settings page --------------------------------------------------------------------------------------


def test_an_owner_creates_edits_and_deletes_a_saved_reply(client_member, business, member):
    url = reverse("inbox:saved_reply_list")
    assert client_member.get(url).status_code == 200
    response = client_member.post(url, {"code": "/Refund Policy", "text": "  Refunds take 5 days.  "})
    assert response.status_code == 302
    reply = SavedReply.objects.get(business=business)
    assert (reply.code, reply.text, reply.created_by) == ("refund-policy", "Refunds take 5 days.", member)

    prefix = f"reply-{reply.pk}"
    response = client_member.post(
        reverse("inbox:saved_reply_update", args=[reply.pk]),
        {f"{prefix}-code": "refund", f"{prefix}-text": "Refunds take 3 days."},
    )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert (reply.code, reply.text) == ("refund", "Refunds take 3 days.")
    assert "/refund" in client_member.get(url).content.decode()

    assert client_member.post(reverse("inbox:saved_reply_delete", args=[reply.pk])).status_code == 302
    assert not SavedReply.objects.exists()
    actions = set(AuditEvent.objects.filter(business=business, actor=member).values_list("action", flat=True))
    assert {"saved_reply.created", "saved_reply.updated", "saved_reply.deleted"} <= actions


def test_a_code_is_unique_per_business(client_member, business, greeting):
    response = client_member.post(reverse("inbox:saved_reply_list"), {"code": "HELLO", "text": "Another"})
    assert response.status_code == 400
    assert "The code /hello is already used" in response.content.decode()
    assert SavedReply.objects.filter(business=business).count() == 1


def test_changing_a_code_onto_another_is_a_form_error(client_member, business, greeting):
    other = SavedReply.objects.create(business=business, code="bye", text="Bye!")
    prefix = f"reply-{other.pk}"
    response = client_member.post(
        reverse("inbox:saved_reply_update", args=[other.pk]), {f"{prefix}-code": "hello", f"{prefix}-text": "Bye!"}
    )
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    other.refresh_from_db()
    assert other.code == "bye"


def test_the_same_code_is_free_in_another_business(greeting, other_business, other_member):
    reply = saved_reply_services.saved_reply_create(business=other_business, user=other_member, code="hello", text="x")
    assert reply.business == other_business


@pytest.mark.parametrize(
    "data",
    [
        {"code": "", "text": "x"},
        {"code": "!!!", "text": "x"},
        {"code": "ok", "text": ""},
        {"code": "ok", "text": "x" * 2001},
    ],
)
def test_bad_input_is_a_form_error(client_member, data):
    response = client_member.post(reverse("inbox:saved_reply_list"), data)
    assert response.status_code == 400
    assert 'class="form-error"' in response.content.decode()
    assert not SavedReply.objects.exists()


def test_an_agent_cannot_manage_saved_replies(client_agent, agent, business, greeting):
    assert client_agent.get(reverse("inbox:saved_reply_list")).status_code == 403
    assert client_agent.post(reverse("inbox:saved_reply_list"), {"code": "x", "text": "y"}).status_code == 403
    prefix = f"reply-{greeting.pk}"
    update = {f"{prefix}-code": "changed", f"{prefix}-text": "Changed"}
    assert client_agent.post(reverse("inbox:saved_reply_update", args=[greeting.pk]), update).status_code == 403
    assert client_agent.post(reverse("inbox:saved_reply_delete", args=[greeting.pk])).status_code == 403
    greeting.refresh_from_db()
    assert greeting.code == "hello"
    with pytest.raises(saved_reply_services.SavedReplyPermissionError):
        saved_reply_services.saved_reply_create(business=business, user=agent, code="x", text="y")


def test_another_business_gets_404_for_our_saved_replies(client_other, greeting, conversation):
    prefix = f"reply-{greeting.pk}"
    update = {f"{prefix}-code": "hacked", f"{prefix}-text": "Hacked"}
    assert client_other.post(reverse("inbox:saved_reply_update", args=[greeting.pk]), update).status_code == 404
    assert client_other.post(reverse("inbox:saved_reply_delete", args=[greeting.pk])).status_code == 404
    assert client_other.get(reverse("inbox:saved_reply_picker", args=[conversation.public_id]), **HTMX).status_code == 404
    fill = reverse("inbox:saved_reply_fill", args=[conversation.public_id, greeting.pk])
    assert client_other.get(fill, **HTMX).status_code == 404
    assert SavedReply.objects.filter(pk=greeting.pk, code="hello").exists()


def test_our_conversation_cannot_use_another_business_saved_reply(client_member, conversation, other_business):
    theirs = SavedReply.objects.create(business=other_business, code="secret", text="Their secret text")
    response = client_member.get(reverse("inbox:saved_reply_fill", args=[conversation.public_id, theirs.pk]), **HTMX)
    assert response.status_code == 404
    assert b"Their secret text" not in response.content


# --- using them in the composer ---------------------------------------------------------------------------------


def test_an_agent_lists_and_searches_saved_replies(client_agent, business, conversation, greeting):
    SavedReply.objects.create(business=business, code="refund", text="Your refund is on its way.")
    SavedReply.objects.create(business=business, code="hours", text="We open at 9.")
    url = reverse("inbox:saved_reply_picker", args=[conversation.public_id])
    html = client_agent.get(url, **HTMX).content.decode()
    assert [code for code in ("/hello", "/hours", "/refund") if code in html] == ["/hello", "/hours", "/refund"]
    assert html.index("/hello") < html.index("/hours") < html.index("/refund")
    assert reverse("inbox:saved_reply_fill", args=[conversation.public_id, greeting.pk]) in html

    by_text = client_agent.get(url, {"q": "ON ITS WAY"}, **HTMX).content.decode()
    assert "/refund" in by_text
    assert "/hello" not in by_text
    by_code = client_agent.get(url, {"q": "/hou"}, **HTMX).content.decode()
    assert "/hours" in by_code
    assert "/refund" not in by_code
    nothing = client_agent.get(url, {"q": "zzz"}, **HTMX).content.decode()
    assert "No saved replies match" in nothing


def test_the_picker_says_so_when_there_are_none(client_member, conversation):
    html = client_member.get(reverse("inbox:saved_reply_picker", args=[conversation.public_id]), **HTMX).content.decode()
    assert "No saved replies yet" in html
    assert reverse("inbox:saved_reply_list") in html  # an owner may add some


def test_fill_uses_the_first_name_and_the_agent_name(client_agent, conversation, greeting):
    response = client_agent.get(reverse("inbox:saved_reply_fill", args=[conversation.public_id, greeting.pk]), **HTMX)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Hi Giulia, Marta Verdi here."


@pytest.mark.parametrize(
    ("name", "username", "expected"),
    [
        ("", "", "there"),
        ("", "giulia_b", "there"),
        ("   ", "", "there"),
        ("Cher", "", "Cher"),
        ("Jean-Luc Picard", "", "Jean-Luc"),
    ],
)
def test_first_name_falls_back_to_there(page, agent, name, username, expected):
    conversation = ConversationFactory(contact=ContactFactory(account=page, name=name, username=username))
    reply = SavedReply(business=page.business, code="x", text="Hi {{first_name}}!")
    assert saved_reply_services.saved_reply_fill(saved_reply=reply, conversation=conversation, user=agent) == (
        f"Hi {expected}!"
    )


def test_agent_name_is_the_members_display_name(page, business, conversation):
    nameless = MembershipFactory(business=business, user__email="sam.rossi@bakery.example", user__name="").user
    reply = SavedReply(business=business, code="x", text="{{agent_name}} / {{first_name}} / {{unknown}}")
    filled = saved_reply_services.saved_reply_fill(saved_reply=reply, conversation=conversation, user=nameless)
    # An unknown placeholder stays as written: staff see it and fix the saved reply.
    assert filled == "sam.rossi / Giulia / {{unknown}}"


def test_the_composer_has_the_saved_replies_picker(client_member, conversation):
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX).content.decode()
    assert "data-saved-replies-open" in html
    assert f'data-saved-replies="{reverse("inbox:saved_reply_picker", args=[conversation.public_id])}"' in html
