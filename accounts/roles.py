"""Who may do what to whom inside a business: the role ceilings, in one place.

Services enforce these rules; views and templates ask the same functions so the team page never
offers a button the service would refuse.

- Agents manage nothing.
- Admins manage agents and admins: they invite, change and remove them, but never grant, change or
  remove the owner role (an admin cannot make themselves owner).
- Owners manage everyone, including other owners. The last owner stays (checked in the services,
  since it depends on the other rows, not only on roles).
"""

from __future__ import annotations

from accounts.models import Membership

OWNER = Membership.Role.OWNER
MANAGERS = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


def can_manage_team(actor_role: str | None) -> bool:
    return actor_role in MANAGERS


def can_grant(actor_role: str | None, role: str) -> bool:
    """May a member with `actor_role` give someone `role` (by invitation or role change)?"""
    if not can_manage_team(actor_role):
        return False
    return role != OWNER or actor_role == OWNER


def can_manage_member(actor_role: str | None, target_role: str) -> bool:
    """May a member with `actor_role` change or remove a member who currently has `target_role`?"""
    return can_grant(actor_role, target_role)


def grantable_roles(actor_role: str | None) -> list[tuple[str, str]]:
    """The (value, label) role choices a member with `actor_role` may hand out."""
    return [(value, label) for value, label in Membership.Role.choices if can_grant(actor_role, value)]
