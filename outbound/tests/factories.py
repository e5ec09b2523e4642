from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import BusinessFactory
from outbound.models import WebhookEndpoint
from outbound.signing import secret_new


class WebhookEndpointFactory(DjangoModelFactory):
    business = factory.SubFactory(BusinessFactory)
    url = factory.Sequence(lambda n: f"https://crm{n}.example.com/hooks/social-inbox")
    events = factory.LazyFunction(lambda: ["message.created"])
    secret = factory.LazyFunction(secret_new)

    class Meta:
        model = WebhookEndpoint
