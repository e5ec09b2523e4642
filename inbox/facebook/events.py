"""Typed events parsed from Meta Messenger / Instagram messaging webhooks.

These are plain frozen dataclasses so the parser (``inbox.facebook.parsing``) stays pure and the
services that persist events can be tested without JSON or Django. Field shapes follow
docs/messenger-platform.md §3-§4.

Every event carries the common routing fields of ``BaseEvent``. ``raw`` keeps the messaging item
exactly as received (for logging and for fields we do not model yet) but is left out of ``==`` and
``repr`` so tests compare meaning, and logs do not dump customer text by accident.

Events holding dicts (``raw``, ``payload``, ``referral`` …) are not hashable; deduplicate on
``mid`` instead, which is what Meta's redeliveries require anyway (§5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

if TYPE_CHECKING:
    from datetime import datetime

Platform: TypeAlias = Literal["FACEBOOK", "INSTAGRAM"]

# Plain strings rather than an Enum so they can be stored in a CharField / TextChoices as-is.
FACEBOOK: Final = "FACEBOOK"
INSTAGRAM: Final = "INSTAGRAM"

ReactionAction: TypeAlias = Literal["react", "unreact"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """One entry of ``message.attachments``.

    ``type`` is kept as Meta names it (image, video, audio, file, sticker, location, fallback, share,
    story_mention, reel / ig_reel, post / ig_post, template, like_heart (Instagram's quick heart), or
    any newer name) so new kinds are not lost; the renderer decides what it can show. ``payload`` is
    ``{}`` when Meta sends ``null`` (fallback attachments may have no payload, §4.5). ``sticker_id``
    is the payload's, or for the lone image of a legacy sticker message, ``message.sticker_id`` (§4.4).
    """

    type: str
    url: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    # Normalised to str: Meta sends sticker ids as JSON numbers.
    sticker_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseEvent:
    """Fields every messaging event has.

    ``account_id`` is ``entry.id`` (the Page id, or the Instagram professional account id for
    ``object: instagram``): it is the tenant-routing key, because one callback URL serves every
    connected account (§1). ``timestamp`` is ``None`` when Meta omits it (delivery receipts
    usually do, §4.7). ``is_standby`` is True for items from ``entry.standby[]``, i.e. another app
    (often Meta's own Page Inbox) owns the thread under the Handover Protocol; they are still
    real conversation traffic and should be stored (§3.1).
    """

    platform: Platform
    account_id: str
    sender_id: str
    recipient_id: str
    timestamp: datetime | None
    is_standby: bool = False
    # The chat plugin (``sender.user_ref``) and the checkbox plugin (``optin.user_ref``) name a person
    # by a reference instead of, or next to, their PSID (§4.16); "" when there is none.
    user_ref: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # When our endpoint stored the webhook that carried it (set by the drain, not by Meta's payload).
    received_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEvent(BaseEvent):
    """A message written by the customer, or an echo of one sent by the Page / IG account.

    Echoes (``is_echo``) swap sender and recipient (sender is the Page), hence ``customer_id``.
    An echo's ``mid`` equals the Send API ``message_id``, and ``metadata`` is the string we passed
    on send, so the outbox can reconcile its own messages (§4.6). An echo without ``app_id`` (or
    with another app's) was typed outside our product, e.g. in Meta Business Suite.
    """

    mid: str
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    quick_reply_payload: str | None = None
    reply_to_mid: str | None = None
    # Instagram story reply: {"id": <story id>, "url": <expiring CDN url>}.
    reply_to_story: dict[str, Any] | None = None
    is_echo: bool = False
    app_id: str | None = None
    metadata: str | None = None
    is_unsupported: bool = False
    # message.referral (e.g. Instagram shop product) or an item-level referral sent with the message.
    referral: dict[str, Any] | None = None

    @property
    def customer_id(self) -> str:
        """PSID / IGSID of the person the conversation is with, whichever way the message went."""
        return self.recipient_id if self.is_echo else self.sender_id


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted(BaseEvent):
    """The customer unsent a message (``message.is_deleted: true``, §4.13)."""

    mid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEdit(BaseEvent):
    """Messenger ``message_edit``: ``text`` replaces the text of ``mid`` (§4.12)."""

    mid: str
    text: str = ""
    num_edit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction(BaseEvent):
    """A reaction added to or removed from message ``mid`` (§4.10).

    On ``unreact`` Meta may omit ``reaction`` / ``emoji``: key off ``action`` + ``mid`` + sender.
    """

    mid: str
    action: ReactionAction
    reaction: str | None = None
    emoji: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery(BaseEvent):
    """Messages up to ``watermark`` were delivered; ``mids`` is only sometimes present (§4.7)."""

    mids: tuple[str, ...] = ()
    watermark: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Read(BaseEvent):
    """Messages up to ``watermark`` were read (Messenger), or up to ``mid`` (Instagram, §4.14)."""

    watermark: datetime | None = None
    mid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Postback(BaseEvent):
    """A postback button / Get Started / persistent menu tap (§4.9).

    ``payload`` is only sent to the app that sent the button; ``referral`` only when the thread was
    opened from an entry point (m.me link, ad).
    """

    mid: str | None = None
    title: str | None = None
    payload: str | None = None
    referral: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral(BaseEvent):
    """An existing thread re-entered through an m.me link or an ad (§4.11).

    ``data`` is the whole referral object (``ads_context_data``, ``referer_uri`` …).
    """

    ref: str | None = None
    source: str | None = None
    type: str | None = None
    ad_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyEnforcement(BaseEvent):
    """Meta warned, blocked or unblocked the Page for a policy violation (``messaging_policy_enforcement``).

    Sent without a sender; ``recipient`` is the Page. ``action`` is ``warning``, ``block`` or
    ``unblock``; ``reason`` is absent on an unblock. Meta has published the key both as
    ``policy_enforcement`` and ``policy-enforcement``.
    """

    action: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadControl(BaseEvent):
    """A Handover Protocol change for one customer's thread (``messaging_handovers``).

    ``kind`` is ``pass_thread_control`` (``new_owner_app_id`` now owns the thread),
    ``take_thread_control`` (the thread was taken from ``previous_owner_app_id``) or
    ``request_thread_control`` (``requested_owner_app_id`` asks for it). ``metadata`` is the free
    text the other app sent along.
    """

    kind: str
    new_owner_app_id: str | None = None
    previous_owner_app_id: str | None = None
    requested_owner_app_id: str | None = None
    metadata: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppRoles(BaseEvent):
    """The Page's apps and their Handover roles changed (``app_roles``: app id -> roles); no sender."""

    roles: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptIn(BaseEvent):
    """The customer opted in (``messaging_optins``): the Send to Messenger plugin (``ref``), a one-time
    notification (``type: one_time_notif_req``) or marketing messages (``type: notification_messages``).

    ``sender_id`` is ``""`` when the person is known by ``user_ref`` only (the checkbox plugin).
    """

    type: str = ""
    ref: str | None = None
    title: str | None = None
    payload: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown(BaseEvent):
    """A well-formed item of a kind we do not handle (``account_linking``, ``game_play``,
    ``messaging_feedback`` …), kept so the caller can log and skip it instead of failing.

    Some of these kinds have no sender or identify the user
    by ``user_ref`` only; ``sender_id`` / ``recipient_id`` are then ``""`` rather than a made-up id.
    """

    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentChange(BaseEvent):
    """A comment on a Page's post (``changes[].field: "feed"``, ``item: "comment"``) or on an Instagram
    media (``field: "comments"``), parsed by ``inbox.facebook.comments``.

    ``sender_id`` is the commenter (``from.id``; the account itself for the page's own replies),
    ``recipient_id`` the account. ``verb``: ``add``, ``edited``, ``remove``, ``hide`` or ``unhide``
    (Instagram sends new comments only: ``add``).
    """

    comment_id: str
    verb: str = "add"
    post_id: str = ""
    parent_id: str = ""
    text: str = ""
    sender_name: str = ""
    post_permalink: str = ""
    post_picture: str = ""
    media_product_type: str = ""


Event: TypeAlias = (
    MessageEvent | MessageDeleted | MessageEdit | Reaction | Delivery | Read | Postback | Referral
    | PolicyEnforcement | ThreadControl | AppRoles | OptIn | CommentChange | Unknown
)

__all__ = [
    "FACEBOOK",
    "INSTAGRAM",
    "AppRoles",
    "Attachment",
    "BaseEvent",
    "CommentChange",
    "Delivery",
    "Event",
    "MessageDeleted",
    "MessageEdit",
    "MessageEvent",
    "OptIn",
    "Platform",
    "PolicyEnforcement",
    "Postback",
    "Reaction",
    "ReactionAction",
    "Read",
    "Referral",
    "ThreadControl",
    "Unknown",
]
