from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership
from inbox.models import Attachment, ChatMessage, Conversation, SavedReply
from social.models import SocialAccount

pytestmark = pytest.mark.django_db(transaction=True)


def counts() -> tuple[int, ...]:
    return (
        Membership.objects.count(), SocialAccount.objects.count(), Conversation.objects.count(),
        ChatMessage.objects.count(), Attachment.objects.count(), SavedReply.objects.count(),
    )


def test_seed_demo_connects_the_page_and_delivers_conversations_once(settings):
    settings.FACEBOOK_GRAPH_URL = "http://127.0.0.1:8000/sandbox/graph/v25.0"
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "demo@example.com" in out.getvalue()

    membership = Membership.objects.select_related("user", "business").get(user__email="demo@example.com")
    assert membership.role == "owner" and membership.user.check_password("demo-password")
    accounts = SocialAccount.objects.for_business(membership.business)
    assert {(a.platform, a.account_id, a.status) for a in accounts} == {
        ("FACEBOOK", "104857600123456", "active"), ("INSTAGRAM", "17841400000000000", "active"),
    }
    page = accounts.get(platform="FACEBOOK")
    assert page.access_token and page.subscribed_at is not None  # connected through the sandbox Graph API
    conversations = Conversation.objects.for_business(membership.business)
    assert conversations.count() == 4
    assert ChatMessage.objects.filter(source="meta", direction="outbound").exists()  # replies typed in Meta's apps
    assert Attachment.objects.get().state == "stored"
    # The team features have something to show: a colleague in a team, an assigned, labelled and
    # noted conversation, saved replies.
    giulia = conversations.get(contact__external_id="7012345678901234")
    assert giulia.assignee.email == "marco@example.com" and giulia.team.name == "Orders"
    assert [label.name for label in giulia.labels.all()] == ["VIP"]
    note = ChatMessage.objects.get(kind="note")
    assert note.conversation == giulia and [m.user.email for m in note.mentions.all()] == ["marco@example.com"]
    assert SavedReply.objects.filter(business=membership.business).count() == 2

    before = counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == before


def test_seed_demo_refuses_without_the_sandbox(settings):
    settings.SANDBOX = False
    with pytest.raises(CommandError, match="sandbox"):
        call_command("seed_demo", stdout=io.StringIO())
