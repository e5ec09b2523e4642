from __future__ import annotations

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from inbox.models import Attachment, ChatMessage, Contact, Conversation
from social.tests.factories import SocialAccountFactory


class ContactFactory(DjangoModelFactory):
    account = factory.SubFactory(SocialAccountFactory)
    business = factory.SelfAttribute("account.business")
    platform = factory.SelfAttribute("account.platform")
    external_id = factory.Sequence(lambda n: f"70123456{n:08d}")
    name = factory.Faker("name")

    class Meta:
        model = Contact


class ConversationFactory(DjangoModelFactory):
    contact = factory.SubFactory(ContactFactory)
    account = factory.SelfAttribute("contact.account")
    business = factory.SelfAttribute("contact.business")
    platform = factory.SelfAttribute("contact.platform")
    participant_ids = factory.LazyAttribute(lambda o: [o.contact.external_id, o.account.account_id])
    participant_names = factory.LazyAttribute(lambda o: [o.contact.name, o.account.account_name])
    last_message_at = factory.LazyFunction(timezone.now)
    last_inbound_at = factory.LazyFunction(timezone.now)

    class Meta:
        model = Conversation


class ChatMessageFactory(DjangoModelFactory):
    conversation = factory.SubFactory(ConversationFactory)
    account = factory.SelfAttribute("conversation.account")
    business = factory.SelfAttribute("conversation.business")
    platform = factory.SelfAttribute("conversation.platform")
    message_id = factory.Sequence(lambda n: f"m_test{n:010d}")
    sender_id = factory.SelfAttribute("conversation.contact.external_id")
    content = factory.Faker("sentence")
    timestamp = factory.LazyFunction(timezone.now)

    class Meta:
        model = ChatMessage


class AttachmentFactory(DjangoModelFactory):
    message = factory.SubFactory(ChatMessageFactory)
    business = factory.SelfAttribute("message.business")
    type = "image"
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/123456789_n.jpg?oe=6760A1B2"
    position = factory.Sequence(lambda n: n)

    class Meta:
        model = Attachment
