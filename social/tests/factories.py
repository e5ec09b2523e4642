from __future__ import annotations

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import BusinessFactory
from social.models import Platform, SocialAccount


class SocialAccountFactory(DjangoModelFactory):
    business = factory.SubFactory(BusinessFactory)
    platform = Platform.FACEBOOK
    account_id = factory.Sequence(lambda n: f"1048576{n:08d}")
    account_name = factory.Sequence(lambda n: f"Page {n}")
    access_token = factory.Sequence(lambda n: f"EAAPageToken{n:06d}abcdefghij")
    refresh_token = factory.Sequence(lambda n: f"EAAUserToken{n:06d}abcdefghij")
    tasks = ["MESSAGING", "MANAGE", "MODERATE", "CREATE_CONTENT"]
    connected_at = factory.LazyFunction(timezone.now)

    class Meta:
        model = SocialAccount
