"""Who answers a conversation: its assignee (a member of the business) and its team.

- `conversations_assign` / `conversation_assign`: staff set or clear the assignee and/or the team of
  one or many conversations. The assignee must be a member of the business and the team one of its
  teams. One UPDATE for all the rows that change, an AuditEvent per row (one INSERT), one notification
  for the new assignee (unless they assigned themselves; "… assigned you 12 conversations" for
  several), a live push after commit.
- `conversation_assign_on_reply`: with the business's "assign on first reply", the member who replies
  to an unassigned conversation takes it (one conditional UPDATE, so two replies at once cannot both win).
- `conversations_auto_assign`: new conversations of a page with auto-assign go, in turn, to the
  business's agents who are online, the least loaded first, skipping those at the business's capacity
  (`Business.assign_capacity` open conversations; 0 = no limit). "Online" is the member's last
  activity (`Membership.last_seen_at`) within `ONLINE_WINDOW`: knowing who has an inbox socket open
  would take a query of the channel layer per member. Two queries per ingest batch and one audit insert.
- `assignments_release`: a member who leaves the business leaves their conversations unassigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from django.db import transaction
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Team, User
from accounts.services import audit_record, audit_record_many
from inbox import events
from inbox.models import Conversation
from inbox.realtime import publish_on_commit
from inbox.services.notifications import notification_create

if TYPE_CHECKING:
    from accounts.models import Business
    from social.models import SocialAccount

# A member counts as online for automatic assignment when they used the inbox this recently.
ONLINE_WINDOW = timedelta(minutes=15)


class AssignmentError(Exception):
    """An assignment that cannot be made as asked; the message is shown to staff as it is."""


class Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


# Passed for the assignee or the team to leave it as it is (None clears it).
UNCHANGED: Final = Unchanged()


def _check_assignee(*, business: Business, assignee: User) -> None:
    if not Membership.objects.for_business(business).filter(user=assignee).exists():
        raise AssignmentError(f"Only members of {business.name} can be assigned conversations.")


def _check_team(*, business: Business, team: Team) -> None:
    if team.business_id != business.pk:
        raise AssignmentError("That team belongs to another business.")


def _text(conversation: Conversation, actor: User | None) -> str:
    who = actor.display_name if actor is not None else "Automatic assignment"
    return f"{who} assigned you the conversation with {conversation.contact.display_name}"


def _text_many(count: int, actor: User | None) -> str:
    who = actor.display_name if actor is not None else "Automatic assignment"
    return f"{who} assigned you {count} conversations"


@transaction.atomic
def conversations_assign(
    *,
    business: Business,
    conversations: Iterable[Conversation],
    actor: User | None,
    assignee: User | None | Unchanged = UNCHANGED,
    team: Team | None | Unchanged = UNCHANGED,
) -> list[int]:
    """Set (or clear, with None) the assignee and/or team of these conversations of `business`.

    Returns the ids of the conversations that changed. Conversations of another business are ignored.
    """
    if isinstance(assignee, Unchanged) and isinstance(team, Unchanged):
        return []
    if assignee is not None and not isinstance(assignee, Unchanged):
        _check_assignee(business=business, assignee=assignee)
    if team is not None and not isinstance(team, Unchanged):
        _check_team(business=business, team=team)
    by_id = {c.pk: c for c in conversations}
    if not by_id:
        return []
    # The rows as they are now (not as the page that posted saw them), locked until commit.
    current = {
        pk: (assignee_id, team_id)
        for pk, assignee_id, team_id in Conversation.objects.for_business(business)
        .select_for_update()
        .filter(pk__in=by_id)
        .values_list("pk", "assignee_id", "team_id")
    }
    new_assignee_id = UNCHANGED if isinstance(assignee, Unchanged) else (assignee.pk if assignee else None)
    new_team_id = UNCHANGED if isinstance(team, Unchanged) else (team.pk if team else None)
    changed: list[int] = []
    audits: dict[str, list[tuple[int, dict]]] = {}
    handed: list[Conversation] = []  # newly the assignee's
    for pk, (assignee_id, team_id) in sorted(current.items()):
        to_assignee = assignee_id if new_assignee_id is UNCHANGED else new_assignee_id
        to_team = team_id if new_team_id is UNCHANGED else new_team_id
        if (to_assignee, to_team) == (assignee_id, team_id):
            continue
        changed.append(pk)
        action = "conversation.assigned" if to_assignee else "conversation.unassigned"
        audits.setdefault(action, []).append(
            (pk, {"from": assignee_id, "to": to_assignee, "team_from": team_id, "team_to": to_team})
        )
        if isinstance(assignee, User) and to_assignee != assignee_id:
            handed.append(by_id[pk])
    if not changed:
        return []
    for action, targets in audits.items():
        audit_record_many(
            action=action,
            business=business,
            actor=actor,
            target_type=Conversation._meta.label_lower,
            targets=targets,
        )
    if handed and isinstance(assignee, User):
        # One notification however many were handed over at once (a bulk action tells them once).
        notification_create(
            business=business,
            recipient=assignee,
            kind="assigned",
            conversation=handed[0] if len(handed) == 1 else None,
            actor=actor,
            text=_text(handed[0], actor) if len(handed) == 1 else _text_many(len(handed), actor),
        )
    values: dict = {"updated_at": timezone.now()}
    if new_assignee_id is not UNCHANGED:
        values["assignee_id"] = new_assignee_id
    if new_team_id is not UNCHANGED:
        values["team_id"] = new_team_id
    Conversation.objects.for_business(business).filter(pk__in=changed).update(**values)
    for pk in changed:
        conversation = by_id[pk]
        if isinstance(assignee, User) or assignee is None:
            conversation.assignee = assignee
        if isinstance(team, Team) or team is None:
            conversation.team = team
    publish_on_commit(business_id=business.pk, conversation_ids=changed)
    events.emit(events.conversation_assigned, business_id=business.pk, ids=changed if isinstance(assignee, User) else [])
    return changed


def conversation_assign(
    *,
    conversation: Conversation,
    actor: User | None,
    assignee: User | None | Unchanged = UNCHANGED,
    team: Team | None | Unchanged = UNCHANGED,
) -> Conversation:
    """One conversation's assignee and/or team (see `conversations_assign`)."""
    conversations_assign(
        business=conversation.business, conversations=[conversation], actor=actor, assignee=assignee, team=team
    )
    return conversation


def conversation_assign_on_reply(*, conversation: Conversation, user: User) -> bool:
    """The replying member takes an unassigned conversation, when the business asks for it.

    Called inside the reply's transaction (whose push carries the row). True when it was assigned.
    """
    if conversation.assignee_id is not None or not conversation.business.auto_assign_on_reply:
        return False
    if not user.is_active:  # an API key's user (no member, never signs in) takes no conversation
        return False
    taken = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=user, updated_at=timezone.now()
    )
    if not taken:
        return False
    conversation.assignee = user
    audit_record(
        action="conversation.assigned",
        business=conversation.business,
        actor=user,
        target=conversation,
        metadata={"from": None, "to": user.pk, "auto": "first_reply"},
    )
    publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation.pk])
    return True


def _agents_by_load(*, business_id: int) -> tuple[list[tuple[int, int]], int]:
    """The online agents' (user id, open conversations assigned) least loaded first, and the capacity."""
    load = (
        Conversation.objects.filter(
            business_id=business_id, assignee_id=OuterRef("user_id"), status=Conversation.Status.OPEN
        )
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = list(
        Membership.objects.filter(
            business_id=business_id,
            role=Membership.Role.AGENT,
            last_seen_at__gte=timezone.now() - ONLINE_WINDOW,
            user__is_active=True,
        )
        .annotate(load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)))
        .order_by("load", "user_id")
        .values_list("user_id", "load", "business__assign_capacity")
    )
    capacity = rows[0][2] if rows else 0
    return [(user_id, load_) for user_id, load_, _ in rows], capacity


def conversations_auto_assign(*, account: SocialAccount, conversation_ids: Iterable[int]) -> dict[int, int]:
    """Share new conversations of `account` among the online agents; {conversation id: user id}.

    For a page with `auto_assign`. Each conversation goes to the agent with the fewest open
    conversations (ties: the lowest id), who then counts one more; an agent at the capacity gets none.
    What nobody can take stays unassigned. Two queries and one insert of audit rows, per batch.
    """
    ids = sorted(set(conversation_ids))
    if not ids or not account.auto_assign:
        return {}
    agents, capacity = _agents_by_load(business_id=account.business_id)
    loads = dict(agents)
    plan: dict[int, int] = {}
    for pk in ids:
        open_ = [(load, user_id) for user_id, load in loads.items() if not capacity or load < capacity]
        if not open_:
            break
        _, user_id = min(open_)
        plan[pk] = user_id
        loads[user_id] += 1
    if not plan:
        return {}
    Conversation.objects.filter(business_id=account.business_id, pk__in=plan, assignee__isnull=True).update(
        assignee_id=Case(
            *(When(pk=pk, then=Value(user_id)) for pk, user_id in plan.items()), output_field=IntegerField()
        ),
        updated_at=timezone.now(),
    )
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                business_id=account.business_id,
                action="conversation.assigned",
                target_type="inbox.conversation",
                target_id=str(pk),
                metadata={"from": None, "to": user_id, "auto": "round_robin"},
            )
            for pk, user_id in plan.items()
        ]
    )
    publish_on_commit(business_id=account.business_id, conversation_ids=list(plan))
    events.emit(events.conversation_assigned, business_id=account.business_id, ids=list(plan))
    return plan


def team_conversations_publish(*, team: Team) -> None:
    """Push the open conversations of a team that was renamed or is being deleted (ids read now)."""
    ids = list(
        Conversation.objects.filter(
            business_id=team.business_id, team_id=team.pk, status=Conversation.Status.OPEN
        ).values_list("pk", flat=True)
    )
    if ids:
        publish_on_commit(business_id=team.business_id, conversation_ids=ids)


def assignments_release(*, business_id: int, user_id: int) -> list[int]:
    """Unassign every conversation of the business held by this (former) member: one UPDATE, pushed."""
    held = Conversation.objects.filter(business_id=business_id, assignee_id=user_id)
    ids = list(held.values_list("pk", flat=True))
    if ids:
        Conversation.objects.filter(business_id=business_id, pk__in=ids, assignee_id=user_id).update(
            assignee=None, updated_at=timezone.now()
        )
        publish_on_commit(business_id=business_id, conversation_ids=ids)
    return ids


__all__ = [
    "UNCHANGED",
    "AssignmentError",
    "assignments_release",
    "conversation_assign",
    "conversation_assign_on_reply",
    "conversations_assign",
    "conversations_auto_assign",
    "team_conversations_publish",
]
