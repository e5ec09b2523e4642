from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import Business, Membership, User


class UserFactory(DjangoModelFactory):
    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    name = factory.Faker("name")
    password = factory.django.Password("correct horse battery staple")

    class Meta:
        model = User
        django_get_or_create = ("email",)


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
