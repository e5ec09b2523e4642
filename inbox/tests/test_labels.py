from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from inbox import selectors
from inbox.models import Conversation, ConversationLabel, Label
from inbox.realtime import render_live
from inbox.selectors import ConversationFilters
from inbox.services import labels as label_services
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent(business):
    return MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example").user


@pytest.fixture
def client_agent(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def refund(business):
    return Label.objects.create(business=business, name="Refund", colour=Label.Colour.RED)


@pytest.fixture
def vip(business):
    return Label.objects.create(business=business, name="VIP", colour=Label.Colour.PURPLE)


def _conversation(page, **kwargs) -> Conversation:
    return ConversationFactory(contact=ContactFactory(account=page), **kwargs)


def _label(conversation: Conversation, label: Label) -> None:
    ConversationLabel.objects.create(business=conversation.business, conversation=conversation, label=label)


def _row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="conversation-(\d+)"', html)]


# --- the settings page --------------------------------------------------------------------------------------


def test_an_owner_creates_renames_recolours_and_deletes_a_label(client_member, business, member):
    url = reverse("inbox:label_list")
    assert client_member.get(url).status_code == 200
    response = client_member.post(url, {"name": "  Refund   request ", "colour": "green"})
    assert response.status_code == 302
    label = Label.objects.get(business=business)
    assert (label.name, label.colour) == ("Refund request", "green")

    response = client_member.post(
        reverse("inbox:label_update", args=[label.pk]),
        {f"label-{label.pk}-name": "Refund", f"label-{label.pk}-colour": "blue"},
    )
    assert response.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.colour) == ("Refund", "blue")

    response = client_member.post(reverse("inbox:label_delete", args=[label.pk]))
    assert response.status_code == 302
    assert not Label.objects.filter(pk=label.pk).exists()
    actions = list(AuditEvent.objects.filter(business=business, actor=member).values_list("action", flat=True))
    assert {"label.created", "label.updated", "label.deleted"} <= set(actions)


def test_the_settings_page_lists_the_labels_with_their_colour(client_member, refund):
    html = client_member.get(reverse("inbox:label_list")).content.decode()
    assert 'class="label-chip label-red">Refund</span>' in html


def test_a_name_is_unique_per_business_whatever_its_case(client_member, business, refund):
    response = client_member.post(reverse("inbox:label_list"), {"name": "rEFUND", "colour": "grey"})
    assert response.status_code == 400
    assert "There is already a label called" in response.content.decode()
    assert Label.objects.filter(business=business).count() == 1


def test_renaming_onto_another_label_is_a_form_error(client_member, refund, vip):
    response = client_member.post(
        reverse("inbox:label_update", args=[vip.pk]),
        {f"label-{vip.pk}-name": "refund", f"label-{vip.pk}-colour": "grey"},
    )
    assert response.status_code == 400
    assert "There is already a label called" in response.content.decode()
    vip.refresh_from_db()
    assert vip.name == "VIP"


def test_the_same_name_is_free_in_another_business(refund, other_business, other_member):
    label = label_services.label_create(business=other_business, user=other_member, name="Refund", colour="red")
    assert label.business == other_business


@pytest.mark.parametrize(
    "data", [{"name": "", "colour": "red"}, {"name": "Ok", "colour": "#ff0000"}, {"name": "x" * 41, "colour": "red"}]
)
def test_bad_input_is_a_form_error(client_member, business, data):
    response = client_member.post(reverse("inbox:label_list"), data)
    assert response.status_code == 400
    assert 'class="form-error"' in response.content.decode()
    assert not Label.objects.filter(business=business).exists()


def test_an_agent_cannot_manage_labels(client_agent, refund):
    assert client_agent.get(reverse("inbox:label_list")).status_code == 403
    assert client_agent.post(reverse("inbox:label_list"), {"name": "New", "colour": "red"}).status_code == 403
    update = {f"label-{refund.pk}-name": "Changed", f"label-{refund.pk}-colour": "red"}
    assert client_agent.post(reverse("inbox:label_update", args=[refund.pk]), update).status_code == 403
    assert client_agent.post(reverse("inbox:label_delete", args=[refund.pk])).status_code == 403
    refund.refresh_from_db()
    assert refund.name == "Refund"


def test_the_service_refuses_an_agent_too(business, agent):
    with pytest.raises(label_services.LabelPermissionError):
        label_services.label_create(business=business, user=agent, name="New", colour="red")


def test_another_business_gets_404_for_our_labels(client_other, refund):
    update = {f"label-{refund.pk}-name": "Hacked", f"label-{refund.pk}-colour": "red"}
    assert client_other.post(reverse("inbox:label_update", args=[refund.pk]), update).status_code == 404
    assert client_other.post(reverse("inbox:label_delete", args=[refund.pk])).status_code == 404
    assert 'label-chip label-red">Refund<' not in client_other.get(reverse("inbox:label_list")).content.decode()
    refund.refresh_from_db()
    assert refund.name == "Refund"


def test_deleting_a_label_takes_it_off_its_conversations_and_pushes_them(
    page, member, refund, django_capture_on_commit_callbacks, monkeypatch
):
    conversation = _conversation(page)
    _label(conversation, refund)
    pushed = []
    monkeypatch.setattr("inbox.realtime.publish", lambda **kwargs: pushed.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        label_services.label_delete(label=refund, user=member)
    assert not ConversationLabel.objects.filter(conversation=conversation).exists()
    assert [list(p["conversation_ids"]) for p in pushed] == [[conversation.pk]]


# --- labels on a conversation ----------------------------------------------------------------------------------


def test_an_agent_adds_and_removes_labels_from_the_header_checklist(client_agent, agent, page, refund, vip, business):
    conversation = _conversation(page)
    url = reverse("inbox:conversation_labels", args=[conversation.public_id])
    checklist = client_agent.get(url, **HTMX)
    assert checklist.status_code == 200
    assert f'name="labels" value="{refund.pk}"' in checklist.content.decode()

    response = client_agent.post(url, {"labels": [refund.pk, vip.pk]}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    # The answer is the live fragments: the row and the header show the chips.
    assert html.count('class="label-chip label-red"') >= 2
    assert set(conversation.labels.values_list("pk", flat=True)) == {refund.pk, vip.pk}

    response = client_agent.post(url, {"labels": [vip.pk], "shown": [refund.pk, vip.pk]}, **HTMX)
    assert response.status_code == 200
    assert list(conversation.labels.values_list("pk", flat=True)) == [vip.pk]
    actions = list(
        AuditEvent.objects.filter(business=business, actor=agent).order_by("pk").values_list("action", "metadata")
    )
    assert actions == [
        ("conversation.labels_added", {"labels": ["Refund", "VIP"]}),
        ("conversation.labels_removed", {"labels": ["Refund"]}),
    ]


def test_the_checklist_applies_only_what_changed_since_it_was_shown(client_member, member, page, refund, vip):
    conversation = _conversation(page)
    url = reverse("inbox:conversation_labels", args=[conversation.public_id])
    # Shown with nothing ticked; meanwhile a colleague added VIP; this member ticks Refund.
    label_services.labels_add(
        business=page.business, user=member, conversation_ids=[conversation.pk], label_ids=[vip.pk]
    )
    client_member.post(url, {"labels": [refund.pk]}, **HTMX)
    assert set(conversation.labels.values_list("pk", flat=True)) == {refund.pk, vip.pk}


def test_without_javascript_the_checklist_is_a_page_and_redirects_back(client_member, page, refund):
    conversation = _conversation(page)
    url = reverse("inbox:conversation_labels", args=[conversation.public_id])
    page_response = client_member.get(url)
    assert page_response.status_code == 200
    assert "Save labels" in page_response.content.decode()
    response = client_member.post(url, {"labels": [refund.pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation_detail", args=[conversation.public_id])
    assert list(conversation.labels.all()) == [refund]


def test_another_business_label_cannot_be_put_on_our_conversation(client_member, page, other_business, business):
    foreign = Label.objects.create(business=other_business, name="Theirs")
    conversation = _conversation(page)
    response = client_member.post(
        reverse("inbox:conversation_labels", args=[conversation.public_id]), {"labels": [foreign.pk]}, **HTMX
    )
    assert response.status_code == 404
    assert not ConversationLabel.objects.exists()
    with pytest.raises(Label.DoesNotExist):
        label_services.labels_add(
            business=business, user=None, conversation_ids=[conversation.pk], label_ids=[foreign.pk]
        )


def test_another_business_gets_404_for_our_conversation_labels(client_other, page, refund):
    conversation = _conversation(page)
    url = reverse("inbox:conversation_labels", args=[conversation.public_id])
    assert client_other.get(url, **HTMX).status_code == 404
    assert client_other.post(url, {"labels": [refund.pk]}, **HTMX).status_code == 404
    assert not ConversationLabel.objects.exists()


def test_bulk_add_and_remove_take_lists_and_push_once(
    page, member, refund, vip, django_capture_on_commit_callbacks, monkeypatch
):
    conversations = [_conversation(page) for _ in range(3)]
    _label(conversations[0], refund)
    pushed = []
    monkeypatch.setattr("inbox.realtime.publish", lambda **kwargs: pushed.append(sorted(kwargs["conversation_ids"])))
    ids = [c.pk for c in conversations]
    with django_capture_on_commit_callbacks(execute=True):
        added = label_services.labels_add(
            business=page.business, user=member, conversation_ids=ids, label_ids=[refund.pk, vip.pk]
        )
    assert added == 5  # the one already there stays as it was
    assert pushed == [sorted(ids)]
    assert AuditEvent.objects.filter(action="conversation.labels_added").count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        removed = label_services.labels_remove(
            business=page.business, user=member, conversation_ids=ids[:2], label_ids=[refund.pk]
        )
    assert removed == 2
    assert ConversationLabel.objects.filter(label=refund).count() == 1


def test_bulk_refuses_a_conversation_of_another_business(page, other_page, member, refund):
    theirs = _conversation(other_page)
    with pytest.raises(Conversation.DoesNotExist):
        label_services.labels_add(
            business=page.business, user=member, conversation_ids=[theirs.pk], label_ids=[refund.pk]
        )
    assert not ConversationLabel.objects.exists()


# --- the list: filter, chips, queries ---------------------------------------------------------------------------


def test_the_list_filters_by_label(client_member, page, refund, vip):
    labelled = _conversation(page)
    other = _conversation(page)
    _label(labelled, refund)
    _label(other, vip)
    _conversation(page)
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(label_id=refund.pk))
    assert [c.pk for c in result.conversations] == [labelled.pk]
    response = client_member.get(reverse("inbox:conversation_list"), {"label": refund.pk})
    html = response.content.decode()
    assert _row_ids(html) == [labelled.pk]
    assert f'data-label="{refund.pk}"' in html  # live rows are checked against it (static/js)
    assert 'id="labels-title"' in html
    assert 'aria-current="true"' in html


def test_the_label_filter_cannot_reach_another_business(page, other_page, other_business):
    theirs = Label.objects.create(business=other_business, name="Theirs")
    conversation = _conversation(other_page)
    ConversationLabel.objects.create(business=other_business, conversation=conversation, label=theirs)
    result = selectors.conversation_list(business=page.business, filters=ConversationFilters(label_id=theirs.pk))
    assert result.conversations == []


def test_rows_show_chips_and_say_which_labels_they_carry(client_member, page, refund, vip):
    conversation = _conversation(page)
    _label(conversation, vip)
    _label(conversation, refund)
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert f'data-labels=" {refund.pk} {vip.pk}"' in html  # by name: Refund, VIP
    assert '<span class="label-chip label-red"><span class="visually-hidden">Label: </span>Refund</span>' in html
    assert "label-purple" in html


def test_the_header_shows_the_chips(client_member, page, refund):
    conversation = _conversation(page)
    _label(conversation, refund)
    response = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX)
    html = response.content.decode()
    header = html[html.index(f'id="conversation-header-{conversation.pk}"') : html.index("</header>")]
    assert "label-chip label-red" in header
    assert reverse("inbox:conversation_labels", args=[conversation.public_id]) in header


def test_list_queries_stay_flat_with_labels(client_member, page, refund, vip):
    url = reverse("inbox:conversation_list")
    for _ in range(3):
        _label(_conversation(page), refund)
    with CaptureQueriesContext(connection) as few:
        client_member.get(url)
    for _ in range(20):
        conversation = _conversation(page)
        _label(conversation, refund)
        _label(conversation, vip)
    with CaptureQueriesContext(connection) as many:
        response = client_member.get(url)
    assert len(many) == len(few)
    assert response.content.decode().count("label-chip label-purple") == 20


def test_detail_queries_stay_flat_with_labels(client_member, page, refund, vip):
    conversation = _conversation(page)
    url = reverse("inbox:conversation_detail", args=[conversation.public_id])
    with CaptureQueriesContext(connection) as few:
        client_member.get(url)
    _label(conversation, refund)
    _label(conversation, vip)
    for _ in range(10):
        _label(_conversation(page), vip)
    with CaptureQueriesContext(connection) as many:
        client_member.get(url)
    assert len(many) == len(few)


def test_the_labels_of_a_page_of_rows_are_one_query(page, refund, vip, django_assert_num_queries):
    for _ in range(5):
        conversation = _conversation(page)
        _label(conversation, refund)
        _label(conversation, vip)
    with django_assert_num_queries(2):  # the rows, then their labels
        result = selectors.conversation_list(business=page.business)
        chips = [[label.name for label in c.chip_labels] for c in result.conversations]
    assert chips == [["Refund", "VIP"]] * 5


def test_a_push_renders_the_chips_at_no_cost_per_row(page, refund):
    conversations = [_conversation(page) for _ in range(2)]
    for conversation in conversations:
        _label(conversation, refund)
    with CaptureQueriesContext(connection) as few:
        render_live(business_id=page.business_id, conversation_ids=[c.pk for c in conversations])
    conversations += [_conversation(page) for _ in range(10)]
    for conversation in conversations[2:]:
        _label(conversation, refund)
    with CaptureQueriesContext(connection) as many:
        html = render_live(business_id=page.business_id, conversation_ids=[c.pk for c in conversations])
    assert len(many) == len(few)
    assert html.count("label-chip label-red") == 24  # each row and each header
