"""Writes for users, businesses, memberships, invitations and the audit trail."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import roles, selectors
from accounts.emails import invitation_email_send
from accounts.exceptions import AccountsError, InvitationGone, RoleCeilingError
from accounts.models import AuditEvent, Business, Invitation, Membership, Team

if TYPE_CHECKING:
    from collections.abc import Iterable

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


def audit_record_many(
    *,
    action: str,
    business: Business | None,
    actor: User | None,
    target_type: str,
    targets: Iterable[tuple[str | int, dict[str, Any] | None]],
) -> list[AuditEvent]:
    """One action done to many objects (``targets``: their ids with each one's metadata), in one INSERT."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    rows = [
        AuditEvent(
            business=business,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            metadata=metadata or {},
        )
        for target_id, metadata in targets
    ]
    return AuditEvent.objects.bulk_create(rows) if rows else []


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
    audit_record(action="business.created", business=business, actor=owner, target=business)
    membership_create(business=business, user=owner, role=Membership.Role.OWNER, actor=owner)
    return business


def business_media_policy_set(*, business: Business, instagram_media_store: bool, actor: User | None) -> Business:
    """Store this business's Instagram media (True) or keep Meta's links only (False); audited.

    A compliance choice (Meta's Instagram messaging rules), so who changed it and when is kept.
    Applies to media received from now on; stories are never stored whatever is chosen here.
    """
    with transaction.atomic():
        locked = Business.objects.select_for_update().get(pk=business.pk)
        if locked.instagram_media_store != instagram_media_store:
            locked.instagram_media_store = instagram_media_store
            locked.save(update_fields=["instagram_media_store"])
            audit_record(
                action="business.instagram_media_store_changed", business=locked, actor=actor, target=locked,
                metadata={"instagram_media_store": instagram_media_store},
            )
    business.instagram_media_store = instagram_media_store
    return business


# --- memberships ---------------------------------------------------------------------------------------------


def _actor_role(business: Business, actor: User | None) -> str | None:
    """The acting user's role in this business; None for a user who is not a member."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return Membership.objects.for_business(business).filter(user=actor).values_list("role", flat=True).first()


def _check_manager(business: Business, actor: User | None) -> str | None:
    """The role of a member allowed to manage the team; a system call (actor None) passes as None."""
    if actor is None:
        return None
    role = _actor_role(business, actor)
    if not roles.can_manage_team(role):
        raise RoleCeilingError("Only owners and admins can manage the team.")
    return role


def _check_can_grant(business: Business, actor: User | None, role: str) -> None:
    actor_role = _check_manager(business, actor)
    if actor is not None and not roles.can_grant(actor_role, role):
        raise RoleCeilingError("Only an owner can give someone the owner role.")


def _check_can_manage_member(business: Business, actor: User | None, target_role: str) -> None:
    actor_role = _check_manager(business, actor)
    if actor is not None and not roles.can_manage_member(actor_role, target_role):
        raise RoleCeilingError("Only an owner can change or remove an owner.")


def _owner_count_locked(business: Business) -> int:
    # Locking the owner rows serialises two owners demoting or removing each other at the same time.
    return len(Membership.objects.for_business(business).select_for_update().filter(role=Membership.Role.OWNER))


def _membership_locked(membership: Membership) -> Membership:
    """The row as it is now (not as the page that posted saw it), locked until the change commits."""
    return Membership.objects.select_for_update(of=("self",)).select_related("business", "user").get(pk=membership.pk)


@transaction.atomic
def membership_create(*, business: Business, user: User, role: str, actor: User | None) -> Membership:
    """The one way a membership starts: creating a business, or accepting an invitation (or a fixture)."""
    if role not in Membership.Role.values:
        raise AccountsError("Unknown role.")
    if Membership.objects.for_business(business).filter(user=user).exists():
        raise AccountsError(f"{user.email} is already a member of {business}.")
    membership = Membership.objects.create(business=business, user=user, role=role)
    audit_record(
        action="membership.added", business=business, actor=actor, target=membership,
        metadata={"email": user.email, "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, removed_by: User | None) -> None:
    membership = _membership_locked(membership)
    business = membership.business
    _check_can_manage_member(business, removed_by, membership.role)
    if membership.role == Membership.Role.OWNER and _owner_count_locked(business) <= 1:
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
    membership = _membership_locked(membership)
    business = membership.business
    old = membership.role
    if role == old:
        return membership
    _check_can_manage_member(business, changed_by, old)
    _check_can_grant(business, changed_by, role)
    if old == Membership.Role.OWNER and _owner_count_locked(business) <= 1:
        raise AccountsError("A business keeps at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.role_changed", business=business, actor=changed_by, target=membership,
        metadata={"email": membership.user.email, "from": old, "to": role},
    )
    return membership


# --- email addresses ----------------------------------------------------------------------------------------


def email_address_mark_verified(*, user: User, email: str | None = None) -> EmailAddress:
    """Record (for allauth) that `user` proved they read `email`, and make it their primary address.

    Used when an invitation link is followed (the link was mailed to that address) and by fixtures
    and demo data, whose users must be able to sign in with mandatory verification.
    """
    email = (email or user.email).strip().lower()
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        address = EmailAddress(user=user, email=email)
    EmailAddress.objects.filter(user=user, primary=True).exclude(pk=address.pk).update(primary=False)
    address.verified = True
    address.primary = True
    address.save()
    return address


# --- invitations --------------------------------------------------------------------------------------------


def _invitation_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "ACCOUNTS_INVITATION_TTL", 7 * 24 * 3600))


def _new_token(invitation: Invitation) -> str:
    """A fresh secret for the link; only its hash is kept, so earlier links of this invitation stop working."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash = Invitation.hash_token(token)
    invitation.sent_at = now
    invitation.expires_at = now + _invitation_ttl()
    return token


def _normalise_email(email: str) -> str:
    email = get_user_model().objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountsError("Enter a valid email address.") from None
    return email


def _send(invitation: Invitation, token: str) -> None:
    """Mail the link after the rows are committed; a failed send leaves a pending invitation to resend."""
    try:
        invitation_email_send(invitation=invitation, token=token)
    except Exception:
        logger.exception("Invitation %s could not be emailed", invitation.pk)
        raise AccountsError(
            f"The invitation for {invitation.email} is saved but the email could not be sent. Try Resend later."
        ) from None


class SentInvitation(NamedTuple):
    invitation: Invitation
    resent: bool  # the address already had an open invitation: it got a new link instead of a second one


def invitation_send(*, business: Business, email: str, role: str, invited_by: User | None) -> SentInvitation:
    """Invite an address to a role; an address with an open invitation gets it again (new link, new expiry)."""
    email = _normalise_email(email)
    if role not in Membership.Role.values:
        raise AccountsError("Unknown role.")
    _check_can_grant(business, invited_by, role)
    try:
        with transaction.atomic():
            if Membership.objects.for_business(business).filter(user__email__iexact=email).exists():
                raise AccountsError(f"{email} is already a member of {business}.")
            invitation = (
                Invitation.objects.for_business(business).open().select_for_update().filter(email=email).first()
            )
            resent = invitation is not None
            if resent:
                # The existing invitation's role is changed too, so the ceiling applies to both.
                _check_can_manage_member(business, invited_by, invitation.role)
                old_role = invitation.role
                invitation.role = role
            else:
                old_role = None
                invitation = Invitation(business=business, email=email, role=role)
            invitation.invited_by = invited_by
            token = _new_token(invitation)
            invitation.save()
            metadata: dict[str, Any] = {"email": email, "role": role}
            if resent and old_role != role:
                metadata["previous_role"] = old_role
            audit_record(
                action="invitation.resent" if resent else "invitation.sent", business=business, actor=invited_by,
                target=invitation, metadata=metadata,
            )
    except IntegrityError:
        # Two admins inviting the same address at the same moment: the other one's invitation stands.
        raise AccountsError(f"{email} was invited a moment ago; see the pending invitations.") from None
    _send(invitation, token)
    return SentInvitation(invitation, resent)


def invitation_resend(*, invitation: Invitation, actor: User | None) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _check_can_manage_member(invitation.business, actor, invitation.role)
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            raise AccountsError(f"The invitation for {invitation.email} was already {invitation.state}.")
        token = _new_token(invitation)
        invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
        audit_record(
            action="invitation.resent", business=invitation.business, actor=actor, target=invitation,
            metadata={"email": invitation.email, "role": invitation.role},
        )
    _send(invitation, token)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _check_can_manage_member(invitation.business, actor, invitation.role)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise AccountsError(f"The invitation for {invitation.email} was already {invitation.state}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        action="invitation.revoked", business=invitation.business, actor=actor, target=invitation,
        metadata={"email": invitation.email, "role": invitation.role},
    )
    return invitation


GONE_MESSAGES = {
    "accepted": "This invitation was already used.",
    "revoked": "This invitation was withdrawn.",
    "expired": "This invitation has expired.",
}


def _lock_usable(invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update(of=("self",)).select_related("business").get(pk=invitation.pk)
    if not invitation.is_usable:
        raise InvitationGone(GONE_MESSAGES[invitation.state])
    return invitation


def _accept(invitation: Invitation, user: User, *, new_user: bool) -> Membership:
    membership = membership_create(business=invitation.business, user=user, role=invitation.role, actor=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        action="invitation.accepted", business=invitation.business, actor=user, target=invitation,
        metadata={"email": invitation.email, "role": invitation.role, "new_user": new_user},
    )
    return membership


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """An existing, signed-in user accepts: only with a verified address equal to the invited one."""
    invitation = _lock_usable(invitation)
    if not selectors.has_verified_address(user=user, email=invitation.email):
        raise AccountsError(f"This invitation is for {invitation.email}; sign in with that verified address to accept.")
    if Membership.objects.for_business(invitation.business).filter(user=user).exists():
        raise AccountsError(f"You are already a member of {invitation.business}.")
    return _accept(invitation, user, new_user=False)


@transaction.atomic
def invitation_accept_new_user(*, invitation: Invitation, password: str, name: str = "") -> Membership:
    """Someone without an account accepts: the link proves the address, so it is verified at once."""
    invitation = _lock_usable(invitation)
    if selectors.user_exists(email=invitation.email):
        raise AccountsError(f"An account for {invitation.email} already exists: sign in to accept.")
    user = get_user_model().objects.create_user(email=invitation.email, password=password, name=name.strip())
    email_address_mark_verified(user=user, email=invitation.email)
    return _accept(invitation, user, new_user=True)


# --- staff identity ------------------------------------------------------------------------------------

DISPLAY_NAME_MAX = 150
# A member's last activity is written at most this often (a page view otherwise writes nothing).
LAST_SEEN_EVERY = timedelta(minutes=1)


def user_display_name_set(*, user: User, name: str) -> User:
    """The name colleagues see on this person's replies, notes and mentions; blank falls back to the email."""
    name = " ".join(str(name).split())[:DISPLAY_NAME_MAX]
    if "@" in name:
        raise AccountsError("A display name cannot contain “@” (it starts a mention).")
    old = user.name
    if name == old:
        return user
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(name=name)
        user.name = name
        audit_record(action="user.display_name_changed", actor=user, target=user, metadata={"old": old, "new": name})
    return user


def user_clock_set(*, user: User, time_zone: str, clock: str) -> User:
    """How this person's inbox shows times: a zone (validated by the profile form) and a clock; blank = the browser's."""
    if clock not in ("", "12", "24"):
        raise AccountsError("Pick a 12-hour or a 24-hour clock.")
    if (user.time_zone, user.clock) != (time_zone, clock):
        get_user_model().objects.filter(pk=user.pk).update(time_zone=time_zone, clock=clock)
        user.time_zone, user.clock = time_zone, clock
    return user


def membership_touch(*, membership: Membership, now=None) -> bool:
    """Record that the member is active now, unless that was recorded less than a minute ago."""
    now = now or timezone.now()
    seen = membership.last_seen_at
    if seen is not None and now - seen < LAST_SEEN_EVERY:
        return False
    updated = Membership.objects.filter(pk=membership.pk).filter(
        models.Q(last_seen_at__isnull=True) | models.Q(last_seen_at__lt=now - LAST_SEEN_EVERY)
    ).update(last_seen_at=now)
    membership.last_seen_at = now
    return bool(updated)


# --- teams ------------------------------------------------------------------------------------------------

TEAM_NAME_MAX = 80


def _team_name(*, business: Business, name: str, team: Team | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AccountsError("A team needs a name.")
    if len(name) > TEAM_NAME_MAX:
        raise AccountsError(f"A team name has at most {TEAM_NAME_MAX} characters.")
    taken = Team.objects.for_business(business).filter(name__iexact=name)
    if team is not None:
        taken = taken.exclude(pk=team.pk)
    if taken.exists():
        raise AccountsError(f"There is already a team named {name}.")
    return name


def team_create(*, business: Business, name: str, actor: User | None) -> Team:
    """A new, empty team of the business (owners and admins)."""
    _check_manager(business, actor)
    try:
        with transaction.atomic():
            team = Team.objects.create(business=business, name=_team_name(business=business, name=name))
            audit_record(action="team.created", business=business, actor=actor, target=team, metadata={"name": team.name})
    except IntegrityError:
        raise AccountsError(f"There is already a team named {name.strip()}.") from None
    return team


def team_rename(*, team: Team, name: str, actor: User | None) -> Team:
    _check_manager(team.business, actor)
    old = team.name
    new = _team_name(business=team.business, name=name, team=team)
    if new == old:
        return team
    try:
        with transaction.atomic():
            team.name = new
            team.save(update_fields=["name"])
            audit_record(
                action="team.renamed", business=team.business, actor=actor, target=team,
                metadata={"from": old, "to": new},
            )
    except IntegrityError:
        team.name = old
        raise AccountsError(f"There is already a team named {new}.") from None
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: User | None) -> None:
    """Delete the team; its conversations keep their assignee and lose the team (the inbox is told by signal)."""
    _check_manager(team.business, actor)
    audit_record(action="team.deleted", business=team.business, actor=actor, target=team, metadata={"name": team.name})
    team.delete()


@transaction.atomic
def team_set_members(*, team: Team, membership_ids: list[int], actor: User | None) -> Team:
    """The team's members become exactly these memberships of its business."""
    _check_manager(team.business, actor)
    wanted = set(membership_ids)
    found = set(Membership.objects.for_business(team.business).filter(pk__in=wanted).values_list("pk", flat=True))
    if found != wanted:
        raise AccountsError("Only members of the business can be in its teams.")
    before = set(team.members.values_list("pk", flat=True))
    if before == found:
        return team
    team.members.set(sorted(found))
    audit_record(
        action="team.members_changed", business=team.business, actor=actor, target=team,
        metadata={"added": sorted(found - before), "removed": sorted(before - found)},
    )
    return team


def business_assignment_settings_set(
    *, business: Business, auto_assign_on_reply: bool, assign_capacity: int, actor: User | None
) -> Business:
    """Assign on first reply (on/off) and the automatic assignment's limit per agent (0: none); audited."""
    _check_manager(business, actor)
    if assign_capacity < 0:
        raise AccountsError("The limit cannot be negative.")
    with transaction.atomic():
        locked = Business.objects.select_for_update().get(pk=business.pk)
        before = {"auto_assign_on_reply": locked.auto_assign_on_reply, "assign_capacity": locked.assign_capacity}
        after = {"auto_assign_on_reply": auto_assign_on_reply, "assign_capacity": assign_capacity}
        if before != after:
            locked.auto_assign_on_reply = auto_assign_on_reply
            locked.assign_capacity = assign_capacity
            locked.save(update_fields=["auto_assign_on_reply", "assign_capacity"])
            audit_record(
                action="business.assignment_settings_changed", business=locked, actor=actor, target=locked,
                metadata={"from": before, "to": after},
            )
    business.auto_assign_on_reply = auto_assign_on_reply
    business.assign_capacity = assign_capacity
    return business
