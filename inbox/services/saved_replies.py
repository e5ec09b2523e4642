"""Saved replies: the business's canned answers (owners and admins manage them, every member uses them).

The placeholders are filled here and only here (`saved_reply_fill`), on the server, for the
conversation the reply goes to and the member who inserts it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts import roles
from accounts.selectors import member_display_name
from accounts.services import audit_record
from inbox.models import SavedReply

if TYPE_CHECKING:
    from accounts.models import Business, User
    from inbox.models import Contact, Conversation

CODE_MAX_LENGTH: int = SavedReply._meta.get_field("code").max_length or 0
TEXT_MAX_LENGTH: int = SavedReply._meta.get_field("text").max_length or 0
# What a customer without a known first name is called: "Hi {{first_name}}" reads "Hi there".
UNKNOWN_FIRST_NAME = "there"
PLACEHOLDERS = ("first_name", "agent_name")
_PLACEHOLDER = re.compile(r"\{\{\s*(" + "|".join(PLACEHOLDERS) + r")\s*\}\}")


class SavedReplyError(Exception):
    """A saved reply change that does not apply (the message is for staff)."""


class SavedReplyPermissionError(SavedReplyError):
    """Only owners and admins manage saved replies."""


def _check_manager(*, business: Business, user: User) -> None:
    role = business.memberships.filter(user=user).values_list("role", flat=True).first()
    if not roles.can_manage_team(role):
        raise SavedReplyPermissionError("Only owners and admins can manage saved replies.")


def normalise_code(code: str) -> str:
    """A code as stored: lower case, letters, digits, - and _ (a leading / is dropped)."""
    return slugify((code or "").strip().lstrip("/"))[:CODE_MAX_LENGTH]


def _clean(*, business: Business, code: str, text: str, exclude_pk: int | None = None) -> tuple[str, str]:
    cleaned = normalise_code(code)
    if not cleaned:
        raise SavedReplyError("Give the saved reply a short code (letters, digits, - or _).")
    text = (text or "").strip()
    if not text:
        raise SavedReplyError("Write the text of the saved reply.")
    if len(text) > TEXT_MAX_LENGTH:
        raise SavedReplyError(f"Keep the text to {TEXT_MAX_LENGTH} characters.")
    taken = SavedReply.objects.for_business(business).filter(code=cleaned)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise SavedReplyError(f"The code /{cleaned} is already used by another saved reply.")
    return cleaned, text


def _save(saved_reply: SavedReply) -> None:
    try:
        with transaction.atomic():
            saved_reply.save()
    except IntegrityError:
        raise SavedReplyError(f"The code /{saved_reply.code} is already used by another saved reply.") from None


@transaction.atomic
def saved_reply_create(*, business: Business, user: User, code: str, text: str) -> SavedReply:
    _check_manager(business=business, user=user)
    code, text = _clean(business=business, code=code, text=text)
    saved_reply = SavedReply(business=business, code=code, text=text, created_by=user)
    _save(saved_reply)
    audit_record(
        action="saved_reply.created", business=business, actor=user, target=saved_reply, metadata={"code": code}
    )
    return saved_reply


@transaction.atomic
def saved_reply_update(*, saved_reply: SavedReply, user: User, code: str, text: str) -> SavedReply:
    business = saved_reply.business
    _check_manager(business=business, user=user)
    code, text = _clean(business=business, code=code, text=text, exclude_pk=saved_reply.pk)
    if (code, text) == (saved_reply.code, saved_reply.text):
        return saved_reply
    previous = saved_reply.code
    saved_reply.code, saved_reply.text = code, text
    _save(saved_reply)
    audit_record(
        action="saved_reply.updated",
        business=business,
        actor=user,
        target=saved_reply,
        metadata={"code": code, **({"from_code": previous} if previous != code else {})},
    )
    return saved_reply


@transaction.atomic
def saved_reply_delete(*, saved_reply: SavedReply, user: User) -> None:
    business = saved_reply.business
    _check_manager(business=business, user=user)
    audit_record(
        action="saved_reply.deleted",
        business=business,
        actor=user,
        target=saved_reply,
        metadata={"code": saved_reply.code},
    )
    saved_reply.delete()


# --- filling in -----------------------------------------------------------------------------------


def first_name(contact: Contact) -> str:
    """The customer's first name as Meta gave it, or "there" when only an id or a username is known."""
    parts = (contact.name or "").split()
    return parts[0] if parts else UNKNOWN_FIRST_NAME


def agent_name(user: User) -> str:
    """The member's name as their colleagues see it (the one place that rule lives: accounts.selectors)."""
    return member_display_name(user)


def fill_placeholders(text: str, *, contact: Contact, user: User) -> str:
    values = {"first_name": first_name(contact), "agent_name": agent_name(user)}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def saved_reply_fill(*, saved_reply: SavedReply, conversation: Conversation, user: User) -> str:
    """The saved reply's text as this member would send it in this conversation."""
    return fill_placeholders(saved_reply.text, contact=conversation.contact, user=user)
