"""Labels: the business's list of them (owners and admins), and putting them on conversations (every member).

Adding and removing take lists of conversations and labels, so one call serves a header's checkbox
and a bulk action alike. Each change is audited per conversation and pushed live after commit; a
label renamed, recoloured or deleted pushes the rows that show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from accounts import roles
from accounts.services import audit_record, audit_record_many
from inbox.models import Conversation, ConversationLabel, Label
from inbox.realtime import MAX_ROWS_PER_PUSH, publish_on_commit

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

NAME_MAX_LENGTH: int = Label._meta.get_field("name").max_length or 0


class LabelError(Exception):
    """A label change that does not apply (the message is for staff)."""


class LabelPermissionError(LabelError):
    """Only owners and admins manage the business's labels."""


def _check_manager(*, business: Business, user: User) -> None:
    role = business.memberships.filter(user=user).values_list("role", flat=True).first()
    if not roles.can_manage_team(role):
        raise LabelPermissionError("Only owners and admins can manage labels.")


def _clean(*, business: Business, name: str, colour: str, exclude_pk: int | None = None) -> tuple[str, str]:
    name = " ".join((name or "").split())
    if not name:
        raise LabelError("Give the label a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise LabelError(f"Keep the name to {NAME_MAX_LENGTH} characters.")
    if colour not in Label.Colour.values:
        raise LabelError("Pick one of the colours.")
    taken = Label.objects.for_business(business).filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise LabelError(f"There is already a label called “{name}”.")
    return name, colour


def _save(label: Label) -> None:
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError:
        # Someone saved the same name (in another case) at the same moment.
        raise LabelError(f"There is already a label called “{label.name}”.") from None


def _conversation_ids_showing(label: Label) -> list[int]:
    """The conversations whose rows show this label: the newest past a push's cap (the pages reload their list)."""
    return list(
        ConversationLabel.objects.for_business(label.business)
        .filter(label=label)
        .order_by("-conversation_id")
        .values_list("conversation_id", flat=True)[: MAX_ROWS_PER_PUSH + 1]
    )


@transaction.atomic
def label_create(*, business: Business, user: User, name: str, colour: str = Label.Colour.GREY) -> Label:
    _check_manager(business=business, user=user)
    name, colour = _clean(business=business, name=name, colour=colour)
    label = Label(business=business, name=name, colour=colour)
    _save(label)
    audit_record(
        action="label.created", business=business, actor=user, target=label, metadata={"name": name, "colour": colour}
    )
    return label


@transaction.atomic
def label_update(*, label: Label, user: User, name: str, colour: str) -> Label:
    business = label.business
    _check_manager(business=business, user=user)
    name, colour = _clean(business=business, name=name, colour=colour, exclude_pk=label.pk)
    before = {"name": label.name, "colour": label.colour}
    if before == {"name": name, "colour": colour}:
        return label
    label.name, label.colour = name, colour
    _save(label)
    audit_record(
        action="label.updated",
        business=business,
        actor=user,
        target=label,
        metadata={"from": before, "to": {"name": name, "colour": colour}},
    )
    publish_on_commit(business_id=business.pk, conversation_ids=_conversation_ids_showing(label))
    return label


@transaction.atomic
def label_delete(*, label: Label, user: User) -> None:
    """Delete the label; it comes off every conversation it was on."""
    business = label.business
    _check_manager(business=business, user=user)
    shown_on = _conversation_ids_showing(label)
    audit_record(
        action="label.deleted",
        business=business,
        actor=user,
        target=label,
        metadata={"name": label.name, "colour": label.colour},
    )
    label.delete()
    publish_on_commit(business_id=business.pk, conversation_ids=shown_on)


# --- labels on conversations ----------------------------------------------------------------------


def _business_labels(business: Business, label_ids: Iterable[int]) -> list[Label]:
    wanted = {int(pk) for pk in label_ids}
    labels = list(Label.objects.for_business(business).filter(pk__in=wanted))
    if len(labels) != len(wanted):
        raise Label.DoesNotExist("No such label.")
    return labels


def _business_conversation_ids(business: Business, conversation_ids: Iterable[int]) -> list[int]:
    wanted = {int(pk) for pk in conversation_ids}
    found = list(Conversation.objects.for_business(business).filter(pk__in=wanted).values_list("pk", flat=True))
    if len(found) != len(wanted):
        raise Conversation.DoesNotExist("No such conversation.")
    return sorted(found)


@transaction.atomic
def labels_add(*, business: Business, user: User, conversation_ids: Iterable[int], label_ids: Iterable[int]) -> int:
    """Put these labels on these conversations (those already there stay as they were); returns how many were added.

    Raises Label.DoesNotExist / Conversation.DoesNotExist (a 404) when any id is not the business's.
    """
    labels = _business_labels(business, label_ids)
    conversations = _business_conversation_ids(business, conversation_ids)
    if not labels or not conversations:
        return 0
    existing = set(
        ConversationLabel.objects.for_business(business)
        .filter(conversation_id__in=conversations, label__in=labels)
        .values_list("conversation_id", "label_id")
    )
    new = [
        ConversationLabel(business=business, conversation_id=conversation_id, label=label, added_by=user)
        for conversation_id in conversations
        for label in labels
        if (conversation_id, label.pk) not in existing
    ]
    # A colleague adding the same label at the same moment is not an error: theirs stays.
    ConversationLabel.objects.bulk_create(new, ignore_conflicts=True)
    _record(business=business, user=user, action="conversation.labels_added", links=new)
    return len(new)


@transaction.atomic
def labels_remove(*, business: Business, user: User, conversation_ids: Iterable[int], label_ids: Iterable[int]) -> int:
    """Take these labels off these conversations; returns how many were removed."""
    labels = _business_labels(business, label_ids)
    conversations = _business_conversation_ids(business, conversation_ids)
    links = list(
        ConversationLabel.objects.for_business(business)
        .select_related("label")
        .filter(conversation_id__in=conversations, label__in=labels)
    )
    if links:
        ConversationLabel.objects.for_business(business).filter(pk__in=[link.pk for link in links]).delete()
    _record(business=business, user=user, action="conversation.labels_removed", links=links)
    return len(links)


@transaction.atomic
def conversation_labels_change(
    *, conversation: Conversation, user: User, add_ids: Iterable[int] = (), remove_ids: Iterable[int] = ()
) -> None:
    """Tick and untick labels on one conversation (the header's checklist).

    The checklist sends what changed since it was shown, not the whole set, so a label a colleague
    added meanwhile stays.
    """
    add_ids, remove_ids = set(add_ids), set(remove_ids)
    business = conversation.business
    if add_ids:
        labels_add(business=business, user=user, conversation_ids=[conversation.pk], label_ids=add_ids)
    if remove_ids - add_ids:
        labels_remove(business=business, user=user, conversation_ids=[conversation.pk], label_ids=remove_ids - add_ids)


def _record(*, business: Business, user: User, action: str, links: list[ConversationLabel]) -> None:
    by_conversation: dict[int, list[str]] = {}
    for link in links:
        by_conversation.setdefault(link.conversation_id, []).append(link.label.name)
    audit_record_many(
        action=action,
        business=business,
        actor=user,
        target_type="inbox.conversation",
        targets=[(conversation_id, {"labels": sorted(names)}) for conversation_id, names in by_conversation.items()],
    )
    if by_conversation:
        publish_on_commit(business_id=business.pk, conversation_ids=sorted(by_conversation))
