from __future__ import annotations

import pytest

from accounts import services
from accounts.exceptions import AccountsError
from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_business_create_makes_the_creator_owner_and_audits_it():
    user = UserFactory()
    business = services.business_create(name="Bakery Rossi", owner=user)
    assert business.slug == "bakery-rossi"
    assert Membership.objects.get(business=business, user=user).role == Membership.Role.OWNER
    assert AuditEvent.objects.filter(business=business, action="business.created", actor=user).exists()


def test_business_slugs_stay_unique():
    user = UserFactory()
    first = services.business_create(name="Rossi", owner=user)
    second = services.business_create(name="Rossi", owner=user)
    assert first.slug != second.slug


def test_business_needs_a_name():
    with pytest.raises(AccountsError):
        services.business_create(name="  ", owner=UserFactory())


def test_membership_create_audits_and_refuses_a_duplicate_or_unknown_role(business, member):
    user = UserFactory(email="new.agent@example.com")
    membership = services.membership_create(business=business, user=user, role="agent", actor=member)
    event = AuditEvent.objects.get(action="membership.added", target_id=str(membership.pk))
    assert event.actor == member and event.business == business
    assert event.metadata == {"email": "new.agent@example.com", "role": "agent"}
    with pytest.raises(AccountsError, match="already a member"):
        services.membership_create(business=business, user=user, role="admin", actor=member)
    with pytest.raises(AccountsError, match="Unknown role"):
        services.membership_create(business=business, user=UserFactory(), role="boss", actor=member)


def test_membership_remove_audits_and_keeps_the_last_owner(business, member):
    agent = MembershipFactory(business=business, role="agent")
    services.membership_remove(membership=agent, removed_by=member)
    assert not Membership.objects.filter(pk=agent.pk).exists()
    assert AuditEvent.objects.filter(action="membership.removed", business=business).exists()
    owner = Membership.objects.get(business=business, user=member)
    with pytest.raises(AccountsError, match="at least one owner"):
        services.membership_remove(membership=owner, removed_by=member)


def test_role_change_is_audited_and_cannot_demote_the_last_owner(business, member):
    agent = MembershipFactory(business=business, role="agent")
    services.membership_change_role(membership=agent, role="admin", changed_by=member)
    assert AuditEvent.objects.get(action="membership.role_changed").metadata["to"] == "admin"
    owner = Membership.objects.get(business=business, user=member)
    with pytest.raises(AccountsError):
        services.membership_change_role(membership=owner, role="agent", changed_by=member)


def test_audit_events_are_append_only(business):
    event = services.audit_record(action="test.action", business=business, metadata={"a": 1})
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")


def test_audit_record_names_the_target(business, member):
    event = services.audit_record(action="x", business=business, actor=member, target=business)
    assert (event.target_type, event.target_id) == ("accounts.business", str(business.pk))
