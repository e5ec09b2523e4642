"""Writes for users, businesses, memberships and the audit trail."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from accounts.exceptions import AccountsError
from accounts.models import AuditEvent, Business, Membership

if TYPE_CHECKING:
    from django.db.models import Model

    from accounts.models import User

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    business: Business | None = None,
    actor: User | None = None,
    target: Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record who (a user, or the system when actor is None) did what to which object."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        business=business,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        metadata=metadata or {},
    )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "business"
    slug, n = base, 1
    while Business.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def business_create(*, name: str, owner: User) -> Business:
    name = name.strip()
    if not name:
        raise AccountsError("A business needs a name.")
    business = Business(name=name, slug=_unique_slug(name))
    business.full_clean()
    business.save()
    Membership.objects.create(user=owner, business=business, role=Membership.Role.OWNER)
    audit_record(action="business.created", business=business, actor=owner, target=business)
    return business


@transaction.atomic
def membership_add(*, business: Business, email: str, role: str, added_by: User | None) -> Membership:
    """Add staff by email; a person without an account gets one and sets a password by reset link."""
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    if role not in Membership.Role.values:
        raise AccountsError("Unknown role.")
    user, created = get_user_model().objects.get_or_create(email=email)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if Membership.objects.filter(business=business, user=user).exists():
        raise AccountsError(f"{email} is already a member of {business}.")
    membership = Membership.objects.create(business=business, user=user, role=role)
    audit_record(
        action="membership.added", business=business, actor=added_by, target=membership,
        metadata={"email": email, "role": role, "new_user": created},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, removed_by: User | None) -> None:
    business = membership.business
    if membership.role == Membership.Role.OWNER and (
        Membership.objects.for_business(business).filter(role=Membership.Role.OWNER).count() <= 1
    ):
        raise AccountsError("A business keeps at least one owner.")
    audit_record(
        action="membership.removed", business=business, actor=removed_by, target=membership,
        metadata={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, changed_by: User | None) -> Membership:
    if role not in Membership.Role.values:
        raise AccountsError("Unknown role.")
    old = membership.role
    if old == Membership.Role.OWNER and role != old and (
        Membership.objects.for_business(membership.business).filter(role=Membership.Role.OWNER).count() <= 1
    ):
        raise AccountsError("A business keeps at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.role_changed", business=membership.business, actor=changed_by, target=membership,
        metadata={"email": membership.user.email, "from": old, "to": role},
    )
    return membership
