"""The contact panel: notes and details, one person across identities (merge, split), what the panel shows
and its fixed number of queries, the views (another business's member gets a 404), and the live push."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from inbox import selectors
from inbox.models import ChatMessage, Contact, ConversationLabel, Label, Person
from inbox.services import contact_profile
from inbox.services.contact_profile import ContactProfileError
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.tests.helpers import layer_listen, layer_nothing
from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def instagram(business, page):
    return SocialAccountFactory(
        business=business,
        platform=Platform.INSTAGRAM,
        account_id="17841400000000001",
        account_name="bakery.rossi",
        page=page,
    )


@pytest.fixture
def giulia(page):
    """Giulia on Messenger, with her conversation."""
    return ConversationFactory(
        contact=ContactFactory(account=page, name="Giulia Bianchi", external_id="7012345678901234")
    )


@pytest.fixture
def giulia_ig(instagram):
    """Giulia again, on Instagram: another contact, another conversation."""
    return ConversationFactory(
        contact=ContactFactory(account=instagram, name="", username="giulia.b", external_id="17841455555555555"),
        last_message_preview="Do you deliver on Sundays?",
    )


def _pair(business, member, a, b):
    return contact_profile.contacts_merge(business=business, user=member, contact=a.contact, other=b.contact)


# --- notes and details -------------------------------------------------------------------------------------


def test_notes_and_details_are_saved_cleaned_and_audited_without_their_words(business, member, giulia):
    contact_profile.contact_profile_update(
        business=business,
        user=member,
        contact=giulia.contact,
        notes="  Allergic to nuts.\r\nPrefers mornings. ",
        attributes=[("  Birthday ", " 12 May "), ("", ""), ("Loyalty  card", "LC-2231")],
    )
    contact = Contact.objects.get(pk=giulia.contact_id)
    assert contact.notes == "Allergic to nuts.\nPrefers mornings."
    assert contact.attributes == {"Birthday": "12 May", "Loyalty card": "LC-2231"}
    audit = AuditEvent.objects.get(action="contact.profile_updated")
    assert audit.business == business and audit.actor == member
    assert audit.metadata == {"notes": True, "attributes": ["Birthday", "Loyalty card"]}
    assert "nuts" not in str(audit.metadata)


def test_saving_the_same_notes_again_records_nothing(business, member, giulia):
    for _ in range(2):
        contact_profile.contact_profile_update(
            business=business, user=member, contact=giulia.contact, notes="VIP", attributes={"Tier": "Gold"}
        )
    assert AuditEvent.objects.filter(action="contact.profile_updated").count() == 1


@pytest.mark.parametrize(
    ("notes", "attributes", "message"),
    [
        ("nul \x00 byte", [], "NUL"),
        ("x" * (contact_profile.NOTES_MAX_CHARS + 1), [], "5,000 characters"),
        ("", [("", "a value without a name")], "Give each detail a name"),
        ("", [("k" * 41, "v")], "40 characters"),
        ("", [("Key", "v" * 201)], "200 characters"),
        ("", [("Key", "one"), ("key", "two")], "twice"),
        ("", [("Key\x00", "v")], "NUL"),
        ("", [(f"Key {i}", "v") for i in range(31)], "30 details"),
    ],
)
def test_notes_and_details_are_refused_with_a_clear_reason(business, member, giulia, notes, attributes, message):
    with pytest.raises(ContactProfileError, match=message):
        contact_profile.contact_profile_update(
            business=business, user=member, contact=giulia.contact, notes=notes, attributes=attributes
        )
    assert Contact.objects.get(pk=giulia.contact_id).notes == ""


def test_thirty_details_are_fine(business, member, giulia):
    rows = [(f"Key {i}", "v" * 200) for i in range(30)]
    contact_profile.contact_profile_update(
        business=business, user=member, contact=giulia.contact, notes="", attributes=rows
    )
    assert len(Contact.objects.get(pk=giulia.contact_id).attributes) == 30


def test_another_business_contact_is_refused(business, member, other_page):
    stranger = ContactFactory(account=other_page)
    with pytest.raises(ContactProfileError):
        contact_profile.contact_profile_update(
            business=business, user=member, contact=stranger, notes="x", attributes={}
        )
    assert Contact.objects.get(pk=stranger.pk).notes == ""


# --- one person across identities ---------------------------------------------------------------------------


def test_merging_makes_one_person_of_two_contacts_and_splitting_undoes_it(business, member, giulia, giulia_ig):
    person = _pair(business, member, giulia, giulia_ig)
    assert set(person.contacts.values_list("pk", flat=True)) == {giulia.contact_id, giulia_ig.contact_id}
    assert person.business == business
    assert AuditEvent.objects.filter(action="contact.merged", metadata__person=person.pk).exists()

    contact_profile.contact_split(business=business, user=member, contact=Contact.objects.get(pk=giulia_ig.contact_id))
    # A person of one identity is no person: both are on their own again.
    assert not Person.objects.exists()
    assert set(
        Contact.objects.filter(pk__in=[giulia.contact_id, giulia_ig.contact_id]).values_list("person", flat=True)
    ) == {None}
    assert AuditEvent.objects.filter(action="contact.split").count() == 1


def test_merging_into_a_person_keeps_it_and_splitting_one_of_three_keeps_the_others(
    business, member, page, giulia, giulia_ig
):
    third = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
    first = _pair(business, member, giulia, giulia_ig)
    again = _pair(business, member, third, giulia)  # the third joins from its side: the same person
    assert again.pk == first.pk
    assert Person.objects.count() == 1
    contact_profile.contact_split(business=business, user=member, contact=Contact.objects.get(pk=third.contact_id))
    assert set(Person.objects.get().contacts.values_list("pk", flat=True)) == {giulia.contact_id, giulia_ig.contact_id}


def test_merging_two_people_moves_everyone_and_drops_the_empty_one(business, member, page, giulia, giulia_ig):
    c3 = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
    c4 = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
    _pair(business, member, giulia, giulia_ig)
    _pair(business, member, c3, c4)
    assert Person.objects.count() == 2
    kept = _pair(business, member, giulia, c3)
    assert Person.objects.count() == 1
    assert kept.contacts.count() == 4


def test_a_person_never_spans_businesses(business, member, giulia, other_page):
    stranger = ContactFactory(account=other_page)
    with pytest.raises(ContactProfileError):
        contact_profile.contacts_merge(business=business, user=member, contact=giulia.contact, other=stranger)
    with pytest.raises(ContactProfileError):
        contact_profile.contacts_merge(business=business, user=member, contact=stranger, other=giulia.contact)
    assert not Person.objects.exists()
    assert Contact.objects.get(pk=stranger.pk).person_id is None


def test_merging_a_contact_with_itself_or_twice_is_refused(business, member, giulia, giulia_ig):
    with pytest.raises(ContactProfileError, match="same one"):
        contact_profile.contacts_merge(business=business, user=member, contact=giulia.contact, other=giulia.contact)
    _pair(business, member, giulia, giulia_ig)
    with pytest.raises(ContactProfileError, match="already"):
        _pair(business, member, giulia_ig, giulia)
    with pytest.raises(ContactProfileError, match="not joined"):
        contact_profile.contact_split(business=business, user=member, contact=ContactFactory(account=giulia.account))


def test_person_tenancy_goes_through_for_business(business, other_business, member, giulia, giulia_ig):
    person = _pair(business, member, giulia, giulia_ig)
    assert list(Person.objects.for_business(business)) == [person]
    assert not Person.objects.for_business(other_business).exists()


# --- what the panel shows -----------------------------------------------------------------------------------


def test_the_panel_shows_the_other_identity_its_conversations_the_ad_and_the_labels(
    business, member, giulia, giulia_ig
):
    _pair(business, member, giulia, giulia_ig)
    ChatMessageFactory(
        conversation=giulia,
        kind=ChatMessage.Kind.REFERRAL,
        message_id="referral:1",
        timestamp=timezone.now() - timedelta(hours=2),
        extra={
            "ref": "spring",
            "source": "ADS",
            "type": "OPEN_THREAD",
            "ad_id": "6045246247433",
            "ads_context_data": {"ad_title": "Spring cakes", "post_id": "1"},
        },
    )
    ChatMessageFactory(conversation=giulia, content="Later message", timestamp=timezone.now())
    label = Label.objects.create(business=business, name="VIP", colour="purple")
    ConversationLabel.objects.create(business=business, conversation=giulia, label=label)
    conversation = selectors.conversation_get(business=business, public_id=giulia.public_id)

    panel = selectors.contact_panel(business=business, conversation=conversation)

    assert panel.contact.pk == giulia.contact_id
    assert [c.pk for c in panel.person_contacts] == [giulia_ig.contact_id]
    assert [c.pk for c in panel.other_conversations] == [giulia_ig.pk]
    assert panel.referral is not None
    assert (panel.referral.source, panel.referral.ad_title, panel.referral.ref) == ("ADS", "Spring cakes", "spring")
    assert panel.labels == [label]
    assert panel.first_seen == min(giulia.contact.created_at, giulia_ig.contact.created_at)


def test_a_referral_carried_by_a_message_counts_and_the_latest_wins(business, giulia):
    now = timezone.now()
    ChatMessageFactory(
        conversation=giulia,
        kind="referral",
        message_id="r:old",
        timestamp=now - timedelta(days=3),
        extra={"source": "SHORTLINK", "ref": "old"},
    )
    ChatMessageFactory(
        conversation=giulia,
        timestamp=now - timedelta(hours=1),
        content="Hi, about the ad",
        extra={"referral": {"source": "ADS", "ad_id": "42", "ref": "new"}},
    )
    panel = selectors.contact_panel(business=business, conversation=giulia)
    assert (panel.referral.source, panel.referral.source_label, panel.referral.ref) == ("ADS", "an ad", "new")


def test_a_customer_of_one_identity_has_no_other_conversations(business, giulia):
    panel = selectors.contact_panel(business=business, conversation=giulia)
    assert panel.person_contacts == [] and panel.other_conversations == [] and panel.referral is None


def _many_identities(business, member, giulia, count: int) -> None:
    for _ in range(count):
        other = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
        ChatMessageFactory(conversation=other)
        _pair(business, member, giulia, other)
    for i in range(count):
        label = Label.objects.create(business=business, name=f"Label {giulia.pk}-{i}")
        ConversationLabel.objects.create(business=business, conversation=giulia, label=label)


@pytest.mark.parametrize("identities", [1, 12])
def test_the_panel_costs_four_queries_whatever_the_data(
    business, member, giulia, identities, django_assert_num_queries
):
    _many_identities(business, member, giulia, identities)
    conversation = selectors.conversation_get(business=business, public_id=giulia.public_id)
    with django_assert_num_queries(4):
        panel = selectors.contact_panel(business=business, conversation=conversation)
        # Rendering reads nothing more than the panel holds.
        html = render_to_string("inbox/_contact_panel.html#live", {"panel": panel})
    assert len(panel.other_conversations) == min(identities, selectors.PANEL_OTHER_CONVERSATIONS)
    assert html.count('class="contact-conv"') == len(panel.other_conversations)


def test_a_customer_of_one_identity_costs_two_queries(business, giulia, django_assert_num_queries):
    conversation = selectors.conversation_get(business=business, public_id=giulia.public_id)
    with django_assert_num_queries(2):
        selectors.contact_panel(business=business, conversation=conversation)


def test_the_search_finds_this_business_contacts_only_and_not_those_already_joined(
    business, member, giulia, giulia_ig, other_page
):
    ContactFactory(account=other_page, name="Giulia Stranger")
    found = selectors.contact_search(business=business, q="giulia", conversation=giulia)
    assert [c.pk for c in found] == [giulia_ig.contact_id]  # by @username; herself excluded
    assert selectors.contact_search(business=business, q="17841455555555555", conversation=giulia) == found
    _pair(business, member, giulia, giulia_ig)
    giulia.contact.refresh_from_db()
    assert selectors.contact_search(business=business, q="giulia", conversation=giulia) == []
    assert selectors.contact_search(business=business, q="   ", conversation=giulia) == []


# --- views ----------------------------------------------------------------------------------------------------


def test_the_panel_view_shows_name_page_ids_and_the_other_conversation(
    client_member, business, member, giulia, giulia_ig
):
    _pair(business, member, giulia, giulia_ig)
    response = client_member.get(reverse("inbox:contact_panel", args=[giulia.public_id]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Giulia Bianchi" in html
    assert "7012345678901234" in html and "104857600123456" in html
    assert "Do you deliver on Sundays?" in html and "@giulia.b" in html
    assert f'id="contact-card-{giulia.pk}"' in html and f'id="contact-editor-{giulia.pk}"' in html


def test_the_form_saves_notes_and_details_and_answers_the_panel(client_member, business, giulia):
    url = reverse("inbox:contact_profile_edit", args=[giulia.public_id])
    assert client_member.get(url, **HTMX).status_code == 200
    response = client_member.post(
        url, {"notes": "Prefers pickup", "key": ["Birthday", ""], "value": ["12 May", ""]}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Prefers pickup" in html and "12 May" in html
    # The answer closes the form: its slot comes back empty.
    assert f'<div id="contact-editor-{giulia.pk}" class="contact-editor" data-contact-editor></div>' in html
    contact = Contact.objects.get(pk=giulia.contact_id)
    assert (contact.notes, contact.attributes) == ("Prefers pickup", {"Birthday": "12 May"})


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"notes": "a\x00b", "key": [""], "value": [""]}, "Null characters are not allowed"),
        ({"notes": "x" * 5001, "key": [""], "value": [""]}, "at most 5000 characters"),
        ({"notes": "", "key": ["k" * 41], "value": ["v"]}, "40 characters"),
        ({"notes": "", "key": ["Key"], "value": ["v" * 201]}, "200 characters"),
        ({"notes": "", "key": ["A", "B"], "value": ["1"]}, "30 details"),  # rows out of step: not a form
        ({"notes": "", "key": ["K"] * 40, "value": ["v"] * 40}, "30 details"),
    ],
)
def test_the_form_refuses_with_a_clear_error_and_keeps_what_was_typed(client_member, giulia, data, error):
    response = client_member.post(reverse("inbox:contact_profile_edit", args=[giulia.public_id]), data, **HTMX)
    assert response.status_code == 422
    assert error in response.content.decode()
    assert Contact.objects.get(pk=giulia.contact_id).notes == ""


def test_merging_from_the_search_and_splitting_from_the_panel(client_member, business, giulia, giulia_ig):
    options = client_member.get(reverse("inbox:contact_search", args=[giulia.public_id]), {"q": "giulia"}, **HTMX)
    assert f'name="contact" value="{giulia_ig.contact_id}"' in options.content.decode()
    response = client_member.post(
        reverse("inbox:contact_merge", args=[giulia.public_id]), {"contact": giulia_ig.contact_id}, **HTMX
    )
    assert response.status_code == 200
    assert "Do you deliver on Sundays?" in response.content.decode()
    assert Contact.objects.get(pk=giulia.contact_id).person_id == Contact.objects.get(pk=giulia_ig.contact_id).person_id

    again = client_member.post(
        reverse("inbox:contact_merge", args=[giulia.public_id]), {"contact": giulia_ig.contact_id}, **HTMX
    )
    assert again.status_code == 409 and b"already" in again.content

    response = client_member.post(
        reverse("inbox:contact_split", args=[giulia.public_id]), {"contact": giulia_ig.contact_id}, **HTMX
    )
    assert response.status_code == 200
    assert not Person.objects.exists()


def test_views_without_htmx_go_back_to_the_conversation(client_member, giulia, giulia_ig):
    response = client_member.post(reverse("inbox:contact_merge", args=[giulia.public_id]), {"contact": giulia_ig.contact_id})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation_detail", args=[giulia.public_id])


def test_merging_with_another_business_contact_is_a_404(client_member, giulia, other_page):
    stranger = ContactFactory(account=other_page, name="Bea Beta")
    for contact, status in ((stranger.pk, 404), (10**9, 404), ("nonsense", 400), ("", 400)):
        response = client_member.post(reverse("inbox:contact_merge", args=[giulia.public_id]), {"contact": contact}, **HTMX)
        assert response.status_code == status
    assert not Person.objects.exists()


def test_splitting_a_contact_not_joined_to_this_customer_is_a_404(
    client_member, business, member, giulia, giulia_ig, page
):
    _pair(business, member, giulia, giulia_ig)
    unrelated = ConversationFactory(contact=ContactFactory(account=SocialAccountFactory(business=business)))
    response = client_member.post(
        reverse("inbox:contact_split", args=[unrelated.public_id]), {"contact": giulia_ig.contact_id}, **HTMX
    )
    assert response.status_code == 404
    assert Person.objects.get().contacts.count() == 2


ROUTES = ["contact_panel", "contact_profile_edit", "contact_search", "contact_merge", "contact_split"]


@pytest.mark.parametrize("name", ROUTES)
def test_another_business_member_gets_a_404_everywhere(client_other, business, member, giulia, giulia_ig, name):
    _pair(business, member, giulia, giulia_ig)
    url = reverse(f"inbox:{name}", args=[giulia.public_id])
    for method in ("get", "post"):
        response = getattr(client_other, method)(
            url, {"contact": giulia_ig.contact_id, "notes": "intrusion", "q": "g"}, **HTMX
        )
        assert response.status_code in (404, 405)
        assert b"Giulia" not in response.content
    assert Contact.objects.get(pk=giulia.contact_id).notes == ""
    assert Person.objects.get().contacts.count() == 2


def test_the_search_shows_no_other_business_contact(client_member, giulia, other_page):
    ContactFactory(account=other_page, name="Giulia Stranger")
    html = client_member.get(
        reverse("inbox:contact_search", args=[giulia.public_id]), {"q": "Giulia"}, **HTMX
    ).content.decode()
    assert "Stranger" not in html
    assert "No other profile matches" in html


# --- the live push ------------------------------------------------------------------------------------------




def test_saved_notes_are_pushed_to_the_business_only_after_commit(
    layer, business, other_business, member, giulia, giulia_ig, django_capture_on_commit_callbacks
):
    _pair(business, member, giulia, giulia_ig)
    ours, theirs = layer_listen(layer, business.pk), layer_listen(layer, other_business.pk)
    # Nothing is sent before the commit. (Asserted on group_send: a receive given up on would leave the
    # Redis layer's queue bound to that call's event loop, and the next receive would fail.)
    with mock.patch.object(layer, "group_send", wraps=layer.group_send) as group_send:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            contact_profile.contact_profile_update(
                business=business, user=member, contact=giulia.contact, notes="Call before delivery", attributes={}
            )
        group_send.assert_not_called()
        for callback in callbacks:
            callback()
    html = async_to_sync(layer.receive)(ours)["html"]
    assert f'id="contact-card-{giulia.pk}"' in html and "Call before delivery" in html
    # Her Instagram conversation's panel shows her Instagram contact's notes: not pushed for this change.
    assert f'id="contact-card-{giulia_ig.pk}"' not in html
    assert layer_nothing(layer, theirs)


def test_a_merge_pushes_the_panels_of_both_conversations(
    layer, business, member, giulia, giulia_ig, django_capture_on_commit_callbacks
):
    channel = layer_listen(layer, business.pk)
    with django_capture_on_commit_callbacks(execute=True):
        _pair(business, member, giulia, giulia_ig)
    html = async_to_sync(layer.receive)(channel)["html"]
    assert f'id="contact-links-{giulia.pk}"' in html and f'id="contact-links-{giulia_ig.pk}"' in html


def test_a_rolled_back_change_pushes_nothing(layer, business, member, giulia, django_capture_on_commit_callbacks):
    channel = layer_listen(layer, business.pk)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ContactProfileError):
        contact_profile.contact_profile_update(
            business=business, user=member, contact=giulia.contact, notes="\x00", attributes={}
        )
    assert layer_nothing(layer, channel)


def test_a_search_with_a_nul_byte_finds_nothing_and_does_not_fail(client_member, giulia, giulia_ig):
    response = client_member.get(reverse("inbox:contact_search", args=[giulia.public_id]), {"q": "giulia\x00"}, **HTMX)
    assert response.status_code == 200
    assert "Join" not in response.content.decode()
