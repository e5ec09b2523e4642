"""Meta's compliance callbacks end to end, and unsent messages purged (docs/compliance.md)."""

from __future__ import annotations

import time

import pytest
from allauth.socialaccount.models import SocialAccount as LoginLink
from allauth.socialaccount.models import SocialToken
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import TestCase
from django.urls import reverse

from accounts.models import AuditEvent
from inbox.models import Attachment, ChatMessage, Contact, Conversation, DataDeletionRequest, Person
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import PAGE_ID, PSID, FakeGraph, post_webhook
from sandbox import payloads as p
from social.models import SocialAccount
from social.signed_request import signed_request_build

pytestmark = pytest.mark.django_db

ASID = "10158899001122334"  # the person's app-scoped id: their Facebook login's uid


def signed(user_id: str = ASID, *, secret: str | None = None, issued_at: int | None = None) -> str:
    return signed_request_build(
        {"issued_at": int(time.time()) if issued_at is None else issued_at, "user_id": user_id, "expires": 0},
        secret=settings.FACEBOOK_APP_SECRET if secret is None else secret,
    )


def deletion_post(client, value: str | None):
    data = {} if value is None else {"signed_request": value}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("compliance:data_deletion"), data)


def stored_file(name: str) -> str:
    return default_storage.save(f"attachments/2026/01/{name}", ContentFile(b"\x89PNG customer photo"))


@pytest.fixture
def login(member):
    link = LoginLink.objects.create(
        user=member, provider="facebook", uid=ASID, extra_data={"name": "Maria Rossi", "email": "maria@example.com"}
    )
    SocialToken.objects.create(account=link, token="EAAUserLoginToken0001")
    return link


def customer_thread(account, *, external_id: str = ASID):
    """A customer known by ``external_id`` with a message carrying an edit history and a stored file."""
    contact = ContactFactory(account=account, external_id=external_id, name="Maria Rossi", notes="Allergic to nuts",
                             attributes={"phone": "+39 333"}, picture_url="https://fbcdn.example/p.jpg")
    conversation = ConversationFactory(contact=contact, last_message_preview="my address is Via Roma 1")
    message = ChatMessageFactory(
        conversation=conversation, content="my address is Via Roma 1", sender_name="Maria Rossi",
        extra={"edits": [{"text": "my address is Via Roma 2", "num_edit": 1}]}, edit_count=1,
    )
    name = stored_file(f"{external_id}.png")
    attachment = AttachmentFactory(message=message, file=name, state=Attachment.State.STORED)
    return contact, conversation, message, attachment, name


# --- data deletion -------------------------------------------------------------------------------------------


def test_deletion_removes_the_persons_data_across_businesses_and_reports_done(
    client, login, member, page, other_page
):
    page.connected_by = member
    page.settings = {"link": "https://facebook.com/bakery", "profile": {"name": "Maria Rossi", "email": "m@x.it"}}
    page.save()
    contact, conversation, message, attachment, name = customer_thread(page)
    person = Person.objects.create(business=page.business)
    contact.person = person
    contact.save()
    instagram_twin = ContactFactory(account=page, external_id="17841455", name="@maria", person=person)
    other_contact, _, other_message, _, other_name = customer_thread(other_page)
    bystander, _, bystander_message, _, bystander_name = customer_thread(page, external_id="7000000000000001")

    response = deletion_post(client, signed())

    assert response.status_code == 200
    answer = response.json()
    deletion = DataDeletionRequest.objects.get()
    assert answer["confirmation_code"] == deletion.confirmation_code and len(deletion.confirmation_code) >= 24
    assert answer["url"] == settings.SITE_URL + f"/meta/data-deletion/{deletion.confirmation_code}/"
    assert deletion.status == DataDeletionRequest.Status.DONE
    assert deletion.user_id == "" and ASID not in deletion.user_hash  # the id itself is forgotten

    # The login link and its token, and the profile kept on the page they connected; the page stays.
    assert not LoginLink.objects.filter(uid=ASID).exists()
    assert not SocialToken.objects.exists()
    page.refresh_from_db()
    assert page.settings == {"link": "https://facebook.com/bakery"} and page.status == SocialAccount.Status.ACTIVE
    # The customer, in both businesses, and the identity staff joined to them: anonymised, threads purged.
    for row, msg, file_name in ((contact, message, name), (other_contact, other_message, other_name)):
        row.refresh_from_db()
        assert (row.name, row.notes, row.attributes, row.picture_url) == ("Deleted customer", "", {}, "")
        assert row.external_id != ASID
        msg.refresh_from_db()
        assert msg.is_deleted and msg.content == "" and msg.sender_name == "" and msg.sender_id == ""
        assert "edits" not in msg.extra and not msg.attachments.exists()
        assert not default_storage.exists(file_name)
    instagram_twin.refresh_from_db()
    assert instagram_twin.name == "Deleted customer" and not Person.objects.filter(pk=person.pk).exists()
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "" and "Maria Rossi" not in conversation.participant_names
    # Someone else's thread is untouched.
    bystander_message.refresh_from_db()
    assert bystander_message.content == "my address is Via Roma 1" and default_storage.exists(bystander_name)
    assert Contact.objects.get(pk=bystander.pk).name == "Maria Rossi"

    assert deletion.counts["contacts"] == 3 and deletion.counts["messages"] == 2
    assert deletion.counts["files"] == 2 and deletion.counts["login_links"] == 1
    audits = AuditEvent.objects.filter(action="compliance.data_deleted")
    assert {a.business_id for a in audits} == {page.business_id, other_page.business_id}
    for audit in audits:  # counts only: nothing that names the person
        assert ASID not in str(audit.metadata) and "Maria" not in str(audit.metadata)
        assert all(isinstance(v, int) for v in audit.metadata.values())


def test_the_status_page_says_done_with_counts_and_nothing_personal(client, login, page):
    customer_thread(page)
    code = deletion_post(client, signed()).json()["confirmation_code"]

    response = client.get(reverse("compliance:data_deletion_status", args=[code]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Done" in html and code in html
    assert "Messages emptied: 1" in html and "Stored files deleted: 1" in html
    assert ASID not in html and "Maria" not in html


def test_the_status_page_while_in_progress(client):
    deletion = DataDeletionRequest.objects.create(confirmation_code="c" * 24, user_hash="h" * 64, user_id=ASID)
    html = client.get(reverse("compliance:data_deletion_status", args=[deletion.confirmation_code])).content.decode()
    assert "Received" in html and "being processed" in html and ASID not in html


def test_an_unknown_code_is_404(client):
    assert client.get(reverse("compliance:data_deletion_status", args=["not-a-code"])).status_code == 404


def test_a_second_request_for_the_same_person_is_idempotent(client, login, page):
    customer_thread(page)
    first = deletion_post(client, signed()).json()
    counts = DataDeletionRequest.objects.get().counts

    second = deletion_post(client, signed())

    assert second.status_code == 200 and second.json() == first
    deletion = DataDeletionRequest.objects.get()
    assert deletion.status == DataDeletionRequest.Status.DONE and deletion.counts == counts
    assert deletion.user_id == ""


def test_data_arriving_after_the_deletion_is_deleted_by_a_new_request(client, page):
    deletion_post(client, signed())
    assert DataDeletionRequest.objects.get().counts.get("messages", 0) == 0
    _, _, message, _, _ = customer_thread(page)

    deletion_post(client, signed())

    message.refresh_from_db()
    assert message.content == "" and DataDeletionRequest.objects.get().counts["messages"] == 1


@pytest.mark.parametrize(
    "value",
    [None, "", "garbage", "only.two", "x"],
)
def test_a_bad_deletion_request_is_400_and_changes_nothing(client, login, page, value):
    _, _, message, _, _ = customer_thread(page)
    response = deletion_post(client, value)
    assert response.status_code == 400 and response.json()["error"]
    assert not DataDeletionRequest.objects.exists() and LoginLink.objects.filter(uid=ASID).exists()
    message.refresh_from_db()
    assert message.content == "my address is Via Roma 1"


def test_a_request_signed_with_another_secret_or_expired_is_400(client, login):
    for value in (signed(secret="not-our-app-secret"), signed(issued_at=int(time.time()) - 3 * 24 * 3600)):
        response = deletion_post(client, value)
        assert response.status_code == 400
        assert "signature" in response.json()["error"] or "expired" in response.json()["error"]
    assert not DataDeletionRequest.objects.exists() and LoginLink.objects.filter(uid=ASID).exists()


def test_the_callbacks_take_posts_only(client):
    assert client.get(reverse("compliance:data_deletion")).status_code == 405
    assert client.get(reverse("compliance:deauthorize")).status_code == 405


# --- deauthorize ------------------------------------------------------------------------------------------------


def test_deauthorize_ends_the_login_and_the_pages_connected_with_it_need_reconnecting(client, login, member, page):
    from social.tests.factories import SocialAccountFactory

    page.connected_by = member
    page.save()
    instagram = SocialAccountFactory(business=page.business, platform="instagram", page=page, connected_by=member)
    someone_elses = SocialAccountFactory(business=page.business)

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("compliance:deauthorize"), {"signed_request": signed()})

    assert response.status_code == 200 and response.json()["pages_to_reconnect"] == 1
    assert not SocialToken.objects.filter(account=login).exists()
    login.refresh_from_db()
    assert "deauthorized_at" in login.extra_data
    for account in (page, instagram):
        account.refresh_from_db()
        assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert "removed Social Inbox" in page.status_reason
    someone_elses.refresh_from_db()
    assert someone_elses.status == SocialAccount.Status.ACTIVE
    assert AuditEvent.objects.filter(action="compliance.deauthorized", business=page.business).exists()


def test_a_bad_deauthorize_is_400_and_changes_nothing(client, login, member, page):
    page.connected_by = member
    page.save()
    response = client.post(reverse("compliance:deauthorize"), {"signed_request": signed(secret="wrong")})
    assert response.status_code == 400 and "signature" in response.json()["error"]
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.ACTIVE and SocialToken.objects.filter(account=login).exists()


# --- a message the customer unsent ----------------------------------------------------------------------------


def send(client, *items):
    body = p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=PAGE_ID, events=list(items))]))
    with FakeGraph():
        assert post_webhook(client, body).status_code == 200


def test_unsend_purges_text_file_and_edit_history_and_keeps_a_tombstone(client, client_member, page):
    mid = "m_unsent_with_photo"
    send(client, p.text_message(page_id=PAGE_ID, psid=PSID, text="Blue", mid=mid, timestamp_ms=1767225600000))
    send(client, p.edit(page_id=PAGE_ID, psid=PSID, mid=mid, text="my card is 4111", num_edit=1,
                        timestamp_ms=1767225601000))
    message = ChatMessage.objects.get(message_id=mid)
    assert message.extra["edits"][0]["text"] == "Blue"
    name = stored_file("unsent.png")
    AttachmentFactory(message=message, file=name, state=Attachment.State.STORED)

    send(client, p.deleted(page_id=PAGE_ID, psid=PSID, mid=mid, timestamp_ms=1767225602000))

    message.refresh_from_db()
    assert message.is_deleted and message.content == ""
    assert "edits" not in message.extra and message.media_urls == []
    assert not Attachment.objects.filter(message=message).exists() and not default_storage.exists(name)
    assert Conversation.objects.get().last_message_preview == "Message unsent"
    # A late edit does not bring text back.
    send(client, p.edit(page_id=PAGE_ID, psid=PSID, mid=mid, text="again", num_edit=2, timestamp_ms=1767225603000))
    message.refresh_from_db()
    assert message.content == ""
    html = client_member.get(reverse("inbox:conversation_detail", args=[message.conversation.public_id])).content.decode()
    # The edited text as a whole: its digits alone may occur in a random id on the page.
    assert "Message unsent" in html and "my card is 4111" not in html and "Blue" not in html


# --- retention settings: owners of the business only ------------------------------------------------------------


def retention_post(client, **values):
    data = {"webhook_body_retention_days": 7, "media_retention_days": 90, **values}
    return client.post(reverse("compliance:data_retention"), data)


def test_an_owner_sets_retention_and_it_is_audited(client_member, business):
    response = retention_post(client_member)
    assert response.status_code == 302
    business.refresh_from_db()
    assert (business.webhook_body_retention_days, business.media_retention_days) == (7, 90)
    assert AuditEvent.objects.get(action="business.data_retention_changed").metadata["media_days"] == 90
    page = client_member.get(reverse("accounts:business_settings")).content.decode()
    assert 'name="media_retention_days"' in page and 'value="90"' in page


def test_bad_retention_values_are_400_and_change_nothing(client_member, business):
    for values in ({"media_retention_days": -1}, {"webhook_body_retention_days": "soon"},
                   {"media_retention_days": 99999}):
        response = retention_post(client_member, **values)
        assert response.status_code == 400 and "Not saved" in response.content.decode()
    business.refresh_from_db()
    assert (business.webhook_body_retention_days, business.media_retention_days) == (30, 365)


def test_an_agent_or_admin_cannot_change_retention(business):
    from accounts.models import Membership
    from accounts.tests.factories import MembershipFactory
    from inbox.tests.helpers import logged_in_client

    for role in (Membership.Role.AGENT, Membership.Role.ADMIN):
        user = MembershipFactory(business=business, role=role).user
        assert retention_post(logged_in_client(user, business.pk)).status_code == 403
    business.refresh_from_db()
    assert business.media_retention_days == 365


def test_another_business_owner_cannot_change_this_business(member, business, other_business, other_member):
    from inbox.tests.helpers import logged_in_client

    # The form names no business: it is the session's, and choosing one they don't belong to falls back
    # to their own. Whatever they send, this business's settings stay as they were.
    response = retention_post(logged_in_client(other_member, business.pk))
    business.refresh_from_db()
    assert business.media_retention_days == 365
    other_business.refresh_from_db()
    assert response.status_code == 302 and other_business.media_retention_days == 90


def test_an_owner_removed_from_the_business_can_no_longer_change_it(member, business):
    from accounts.models import Membership
    from inbox.tests.helpers import logged_in_client

    client = logged_in_client(member, business.pk)
    assert retention_post(client).status_code == 302
    Membership.objects.filter(user=member, business=business).delete()
    retention_post(client, media_retention_days=5)
    business.refresh_from_db()
    assert business.media_retention_days == 90


def test_a_commenters_threads_are_deleted_with_their_comments(client, page):
    """Comment threads stand on contacts of their own (one per post): the deletion finds them by the
    commenter id the threads keep."""
    thread = ConversationFactory(
        contact=ContactFactory(account=page, external_id="comment:4f1c9e", name="Giulia Commenter"),
        kind=Conversation.Kind.COMMENTS, post_id=f"{PAGE_ID}_1001", commenter_id=ASID,
    )
    comment = ChatMessageFactory(conversation=thread, kind=ChatMessage.Kind.COMMENT, content="My address is Via Roma 1")
    other = ConversationFactory(contact=ContactFactory(account=page, external_id="comment:77aa"),
                                kind=Conversation.Kind.COMMENTS, commenter_id="someone-else")
    kept = ChatMessageFactory(conversation=other, kind=ChatMessage.Kind.COMMENT, content="Nice cake")

    deletion_post(client, signed())

    comment.refresh_from_db()
    thread.refresh_from_db()
    assert comment.content == "" and comment.is_deleted
    assert thread.commenter_id == "" and thread.contact.name != "Giulia Commenter"
    kept.refresh_from_db()
    assert kept.content == "Nice cake"
