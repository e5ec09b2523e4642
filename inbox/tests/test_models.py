from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from inbox.models import ChatMessage, Contact, Conversation
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_duplicate_message_id_per_account(page):
    first = ChatMessageFactory(conversation__contact__account=page, message_id="m_same")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatMessageFactory(conversation=first.conversation, message_id="m_same")
    assert ChatMessage.objects.filter(message_id="m_same").count() == 1


def test_the_same_mid_on_another_account_is_another_message(page, other_page):
    ChatMessageFactory(conversation__contact__account=page, message_id="m_same")
    ChatMessageFactory(conversation__contact__account=other_page, message_id="m_same")
    assert ChatMessage.objects.filter(message_id="m_same").count() == 2


def test_outbound_replies_not_yet_sent_may_share_an_empty_mid(page):
    conversation = ConversationFactory(contact__account=page)
    ChatMessageFactory(conversation=conversation, message_id=None, direction="outbound", status="queued")
    ChatMessageFactory(conversation=conversation, message_id=None, direction="outbound", status="queued")
    assert conversation.messages.count() == 2


def test_one_conversation_per_account_and_contact(page):
    conversation = ConversationFactory(contact__account=page)
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.create(
            business=conversation.business, platform=conversation.platform, account=page, contact=conversation.contact
        )


def test_one_contact_per_account_and_customer_id(page):
    ContactFactory(account=page, external_id="7012345678901234")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(account=page, external_id="7012345678901234")


def test_for_business_returns_only_that_tenants_rows(business, other_business):
    mine = ChatMessageFactory(conversation__contact__account=SocialAccountFactory(business=business))
    theirs = ChatMessageFactory(conversation__contact__account=SocialAccountFactory(business=other_business))
    assert list(ChatMessage.objects.for_business(business)) == [mine]
    assert list(Conversation.objects.for_business(other_business)) == [theirs.conversation]
    assert not Contact.objects.for_business(business).filter(pk=theirs.conversation.contact_id).exists()


def test_a_contact_shows_its_id_until_the_profile_is_known(page):
    contact = ContactFactory(account=page, external_id="7012345678901234", name="")
    assert contact.display_name == "7012345678901234"
    contact.name = "Giulia Bianchi"
    assert contact.display_name == "Giulia Bianchi"
