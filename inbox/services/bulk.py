"""Bulk actions: one staff action on many conversations of the list at once.

Each action calls the feature's own list-taking service (statuses, read state, assignment, labels),
which changes the rows in a fixed number of statements, audits each conversation in one INSERT and
pushes all the rows in one `publish_on_commit`. On top, one audit event names the bulk action, how
many conversations it changed and which. Ids of another business (or gone) are ignored and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

from accounts.services import audit_record
from inbox.models import Conversation, ConversationLabel, Label
from inbox.services import assignment, labels
from inbox.services import conversations as conversation_services

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

# The most conversations one request may name (a list shows 50 at a time; "select all" of ten pages).
MAX_IDS = 500

RESOLVE = "resolve"
REOPEN = "reopen"
READ = "read"
UNREAD = "unread"
ASSIGN = "assign"
LABEL_ADD = "label_add"
LABEL_REMOVE = "label_remove"
ACTIONS = (RESOLVE, REOPEN, READ, UNREAD, ASSIGN, LABEL_ADD, LABEL_REMOVE)


class BulkError(Exception):
    """A bulk action that cannot be done as asked (the message is for staff)."""


@dataclass(frozen=True)
class BulkOutcome:
    action: str
    asked: int  # distinct ids in the request
    found: int  # of those, the business's conversations
    changed: list[int] = field(default_factory=list)  # the ones the action changed
    message: str = ""

    @property
    def ignored(self) -> int:
        """Ids that named no conversation of the business."""
        return self.asked - self.found


def bulk_ids(values: Iterable[str | int]) -> list[int]:
    """The distinct conversation ids of a request, checked: at least one, at most MAX_IDS, all numbers."""
    ids: set[int] = set()
    for value in values:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            raise BulkError("The selection is not valid: reload the page and try again.") from None
    if not ids:
        raise BulkError("Select at least one conversation.")
    if len(ids) > MAX_IDS:
        raise BulkError(f"Select at most {MAX_IDS} conversations at a time (you selected {len(ids)}).")
    return sorted(ids)


def _plural(count: int) -> str:
    return f"{count} conversation" if count == 1 else f"{count} conversations"


@transaction.atomic
def conversations_bulk(
    *,
    business: Business,
    user: User,
    action: str,
    conversation_ids: Iterable[str | int],
    assignee: User | None | assignment.Unchanged = assignment.UNCHANGED,
    label: Label | None = None,
) -> BulkOutcome:
    """Do ``action`` to these conversations of ``business``; what changed and the sentence that says so.

    ``assignee`` (a member, or None to unassign) is for ASSIGN, ``label`` for LABEL_ADD/LABEL_REMOVE.
    A fixed number of queries whatever the number of conversations.
    """
    if action not in ACTIONS:
        raise BulkError("Unknown action.")
    ids = bulk_ids(conversation_ids)
    found = list(
        Conversation.objects.for_business(business).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )
    extra: dict = {}
    changed: list[int] = []
    if action in (RESOLVE, REOPEN):
        status = Conversation.Status.RESOLVED if action == RESOLVE else Conversation.Status.OPEN
        if found:
            changed = conversation_services.conversations_set_status(
                business=business, user=user, conversation_ids=found, status=status
            )
        message = f"{'Resolved' if action == RESOLVE else 'Reopened'} {_plural(len(changed))}"
    elif action in (READ, UNREAD):
        service = (
            conversation_services.conversations_mark_read
            if action == READ
            else conversation_services.conversations_mark_unread
        )
        if found:
            changed = service(business=business, user=user, conversation_ids=found)
        message = f"Marked {_plural(len(changed))} {action}"
    elif action == ASSIGN:
        if isinstance(assignee, assignment.Unchanged):
            raise BulkError("Pick who to assign them to.")
        rows = list(Conversation.objects.for_business(business).filter(pk__in=found).select_related("contact"))
        try:
            changed = assignment.conversations_assign(
                business=business, conversations=rows, actor=user, assignee=assignee
            )
        except assignment.AssignmentError as exc:
            raise BulkError(str(exc)) from None
        extra["assignee"] = assignee.pk if assignee is not None else None
        if assignee is None:
            message = f"Unassigned {_plural(len(changed))}"
        elif assignee.pk == user.pk:
            message = f"Assigned {_plural(len(changed))} to you"
        else:
            message = f"Assigned {_plural(len(changed))} to {assignee.display_name}"
    else:
        if label is None or label.business_id != business.pk:
            raise BulkError("Pick one of the business's labels.")
        labelled = set(
            ConversationLabel.objects.for_business(business)
            .filter(conversation_id__in=found, label=label)
            .values_list("conversation_id", flat=True)
        )
        if action == LABEL_ADD:
            changed = [pk for pk in found if pk not in labelled]
            if changed:
                labels.labels_add(business=business, user=user, conversation_ids=changed, label_ids=[label.pk])
            message = f"Added “{label.name}” to {_plural(len(changed))}"
        else:
            changed = [pk for pk in found if pk in labelled]
            if changed:
                labels.labels_remove(business=business, user=user, conversation_ids=changed, label_ids=[label.pk])
            message = f"Removed “{label.name}” from {_plural(len(changed))}"
        extra["label"] = label.pk
    unchanged = len(found) - len(changed)
    notes = []
    if unchanged:
        notes.append(f"{unchanged} already {'was' if unchanged == 1 else 'were'}")
    if len(ids) > len(found):
        missing = len(ids) - len(found)
        notes.append(f"{missing} {'was' if missing == 1 else 'were'} not found")
    if notes:
        message += f" ({', '.join(notes)})"
    audit_record(
        action=f"conversations.bulk_{action}",
        business=business,
        actor=user,
        target_type=Conversation._meta.label_lower,
        metadata={"count": len(changed), "ids": changed, "asked": len(ids), "found": len(found), **extra},
    )
    return BulkOutcome(action=action, asked=len(ids), found=len(found), changed=changed, message=message)


__all__ = ["ACTIONS", "MAX_IDS", "BulkError", "BulkOutcome", "bulk_ids", "conversations_bulk"]
