from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Business, Invitation, Membership, User


class UserFactory(DjangoModelFactory):
    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    name = factory.Faker("name")
    password = factory.django.Password("correct horse battery staple")

    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    @factory.post_generation
    def email_verified(obj, create, extracted, **kwargs):
        """Sign-in needs a verified address (mandatory verification); `UserFactory(email_verified=False)` has none."""
        if create and extracted is not False:
            from accounts.services import email_address_mark_verified

            email_address_mark_verified(user=obj)


class BusinessFactory(DjangoModelFactory):
    name = factory.Sequence(lambda n: f"Business {n}")
    slug = factory.Sequence(lambda n: f"business-{n}")

    class Meta:
        model = Business


class MembershipFactory(DjangoModelFactory):
    user = factory.SubFactory(UserFactory)
    business = factory.SubFactory(BusinessFactory)
    role = Membership.Role.OWNER

    class Meta:
        model = Membership


class InvitationFactory(DjangoModelFactory):
    """An open invitation; the link's token is kept on `invitation.token` (the row stores only its hash)."""

    business = factory.SubFactory(BusinessFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Membership.Role.AGENT
    token = factory.Sequence(lambda n: f"test-invitation-token-{n:04d}-abcdefghijklmnopqrstuvwxyz")
    token_hash = factory.LazyAttribute(lambda o: Invitation.hash_token(o.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    class Meta:
        model = Invitation

    @classmethod
    def _create(cls, model_class, *args, token: str, **kwargs):
        invitation = super()._create(model_class, *args, **kwargs)
        invitation.token = token
        return invitation
