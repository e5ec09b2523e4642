"""Reads for businesses, memberships and invitations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from accounts import roles
from accounts.models import Invitation, Membership, Team

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import Business, User


def membership_for(*, user: User, business_id: int | None) -> Membership | None:
    """The user's membership in that business, or their first one when no business is chosen."""
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("business").filter(user=user)
    if business_id is not None:
        found = memberships.filter(business_id=business_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at", "id").first()


def membership_list(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("business").filter(user=user).order_by("business__name")


def team_list(*, business: Business) -> QuerySet[Membership]:
    return Membership.objects.for_business(business).select_related("user").order_by("role", "user__email")


@dataclass(frozen=True)
class TeamRow:
    """A member as the viewer sees them: what the viewer may do to them (the services enforce the same rules)."""

    membership: Membership
    can_change: bool
    can_remove: bool
    role_choices: list[tuple[str, str]]


def team_rows(*, business: Business, viewer: Membership) -> list[TeamRow]:
    grantable = roles.grantable_roles(viewer.role)
    rows = []
    for membership in team_list(business=business):
        allowed = roles.can_manage_member(viewer.role, membership.role)
        rows.append(TeamRow(
            membership=membership,
            can_change=allowed,
            can_remove=allowed and membership.user_id != viewer.user_id,
            role_choices=grantable,
        ))
    return rows


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    can_manage: bool


def invitation_rows(*, business: Business, viewer: Membership) -> list[InvitationRow]:
    """Open invitations (pending or expired, which can be resent), for owners and admins."""
    if not roles.can_manage_team(viewer.role):
        return []
    invitations = Invitation.objects.for_business(business).open().select_related("invited_by").order_by("email")
    return [InvitationRow(i, roles.can_manage_member(viewer.role, i.role)) for i in invitations]


def invitation_by_token(*, token: str) -> Invitation | None:
    """The invitation a link names; the token itself is the credential, so no business scope applies."""
    if not token or len(token) > 128:
        return None
    return (
        Invitation.objects.select_related("business", "invited_by")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )


def user_exists(*, email: str) -> bool:
    """Does an account already sign in with this address (its login email, or a verified extra address)?"""
    return (
        get_user_model().objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email, verified=True).exists()
    )


def has_verified_address(*, user: User, email: str) -> bool:
    """Has `user` proved (through allauth's verification or an invitation link) that they read `email`?"""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


# --- staff identity ------------------------------------------------------------------------------------


def member_display_name(user: User | None) -> str:
    """How staff see a colleague: the display name they chose, else the local part of their email."""
    if user is None:
        return "Someone"
    return user.display_name


def member_choices(*, business: Business) -> list[tuple[int, str, str]]:
    """(user id, display name, email) of every member, by name: the @mention type-ahead's list."""
    members = Membership.objects.for_business(business).select_related("user")
    rows = [(m.user_id, member_display_name(m.user), m.user.email) for m in members]
    return sorted(rows, key=lambda row: (row[1].lower(), row[0]))


def team_groups(*, business: Business) -> list[Team]:
    """The business's teams by name, each with its memberships (and users) loaded: two queries."""
    members = Membership.objects.select_related("user").order_by("user__name", "user__email")
    return list(
        Team.objects.for_business(business).order_by("name", "id").prefetch_related(Prefetch("members", queryset=members))
    )
