"""The customer simulator posts signed webhooks to a real running server, and they are stored."""

from __future__ import annotations

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from inbox.models import Attachment, ChatMessage, WebhookEvent
from inbox.tests.helpers import IG_ACCOUNT_ID, FakeGraph
from sandbox.customers import default_psid
from social.models import Platform, SocialAccount
from social.tests.factories import SocialAccountFactory


@pytest.fixture(autouse=True)
def graph():
    # The live server runs in this process: profile lookups and media downloads are stubbed for it too.
    with FakeGraph() as fake:
        yield fake


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate_customer", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def hook_url(live_server) -> str:
    return f"{live_server.url}/webhooks/facebook/"


@pytest.mark.django_db
def test_refuses_to_run_outside_the_sandbox(settings, page):
    settings.SANDBOX = False
    with pytest.raises(CommandError, match="sandbox"):
        simulate("--url", "http://127.0.0.1:9/webhooks/facebook/")


@pytest.mark.django_db
def test_needs_a_connected_page(db):
    with pytest.raises(CommandError, match="No active Facebook account"):
        simulate("--url", "http://127.0.0.1:9/webhooks/facebook/")


@pytest.mark.django_db
@pytest.mark.parametrize("args", [("--count", "0"), ("--batch", "0"), ("--duplicates", "0"), ("--rate", "-1")])
def test_refuses_bad_numbers(page, args):
    with pytest.raises(CommandError):
        simulate("--url", "http://127.0.0.1:9/webhooks/facebook/", *args)


@pytest.mark.django_db
def test_reports_an_unreachable_server(page):
    with pytest.raises(CommandError, match="not answered 200"):
        simulate("--url", "http://127.0.0.1:9/webhooks/facebook/", "--timeout", "2")


@pytest.mark.django_db(transaction=True)
def test_text_messages_reach_the_live_server_and_are_stored(hook_url):
    page = SocialAccountFactory(account_id="104857600123456")
    output = simulate("--url", hook_url, "--count", "3", "--text", "Bonjour \u00e0 tous @shop")
    assert "-> 200" in output
    assert "HTTP statuses: 200: 3." in output
    messages = ChatMessage.objects.filter(account=page).order_by("timestamp")
    assert [m.content for m in messages] == ["Bonjour \u00e0 tous @shop"] * 3
    # The default customer is the page's own (Meta's ids are page-scoped).
    assert messages[0].conversation.contact.external_id == default_psid("104857600123456", instagram=False)
    assert messages[0].conversation.unread_count == 3


@pytest.mark.django_db(transaction=True)
def test_default_page_and_settings_url(live_server, settings):
    settings.SANDBOX_WEBHOOK_URL = f"{live_server.url}/webhooks/facebook/"
    SocialAccountFactory(account_id="104857600000001", status=SocialAccount.Status.DISCONNECTED)
    page = SocialAccountFactory(account_id="104857600000002")
    simulate("--psid", "7000000000000099")
    message = ChatMessage.objects.get()
    assert message.account == page
    assert message.sender_id == "7000000000000099"


@pytest.mark.django_db(transaction=True)
def test_duplicates_and_batches_store_each_message_once(hook_url):
    page = SocialAccountFactory(account_id="104857600123456")
    output = simulate("--url", hook_url, "--count", "5", "--batch", "2", "--duplicates", "3", "--rate", "500")
    assert "Sent 5 event(s) in 9 POST(s)" in output
    assert WebhookEvent.objects.count() == 9
    assert ChatMessage.objects.filter(account=page).count() == 5
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}


@pytest.mark.django_db(transaction=True)
def test_every_kind_is_sent_and_applied(hook_url):
    page = SocialAccountFactory(account_id="104857600123456")
    output = simulate("--url", hook_url, "--kind", "all")
    assert "HTTP statuses: 200:" in output
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.PROCESSED}
    messages = ChatMessage.objects.filter(account=page)
    kinds = set(messages.values_list("kind", flat=True))
    assert kinds == {ChatMessage.Kind.MESSAGE, ChatMessage.Kind.POSTBACK, ChatMessage.Kind.REFERRAL}
    types = set(Attachment.objects.values_list("type", flat=True))
    assert {"image", "video", "audio", "file", "sticker", "location", "fallback"} <= types
    assert messages.exclude(reaction="").count() == 1
    assert messages.filter(edit_count=1, content__endswith="(edited)").count() == 1
    assert messages.filter(is_deleted=True).count() == 1
    assert messages.filter(direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.META).count() == 1
    assert Attachment.objects.filter(state=Attachment.State.STORED).count() == 4


@pytest.mark.django_db(transaction=True)
def test_instagram_webhooks(hook_url):
    page = SocialAccountFactory(account_id="104857600123456")
    ig = SocialAccountFactory(business=page.business, platform=Platform.INSTAGRAM, account_id=IG_ACCOUNT_ID, page=page)
    simulate("--url", hook_url, "--instagram", "--kind", "text")
    message = ChatMessage.objects.get()
    assert message.account == ig
    assert message.platform == Platform.INSTAGRAM
    assert WebhookEvent.objects.get().object_type == "instagram"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_secret_is_refused_by_the_server(hook_url, settings):
    SocialAccountFactory(account_id="104857600123456")
    # A wrongly signed body: the server refuses it, and the simulator reports the failure.
    with mock.patch("sandbox.payloads.sign", return_value="sha256=" + "0" * 64), pytest.raises(CommandError):
        simulate("--url", hook_url)
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_customer_is_known_to_the_sandbox_so_replies_are_allowed(hook_url):
    from sandbox.models import Customer, Page

    Page.objects.create(page_id="104857600123456", name="Bakery Rossi")
    SocialAccountFactory(account_id="104857600123456")
    simulate("--url", hook_url, "--psid", "7000000000000042")
    customer = Customer.objects.get(psid="7000000000000042")
    assert customer.page.page_id == "104857600123456"
    assert customer.last_message_at is not None
    # Receipts alone are not the customer writing.
    Customer.objects.update(last_message_at=None)
    simulate("--url", hook_url, "--psid", "7000000000000042", "--kind", "read")
    assert Customer.objects.get().last_message_at is None
